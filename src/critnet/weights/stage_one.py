"""The network of a weights file saved before phaseM's first stage-2 block (torch side)."""

from __future__ import annotations

from critnet.model.critnet import CRITNet, Decoder


class StageOneModel(CRITNet):
    """A full C-RITNet whose ``D_fuse`` is untrained (weights saved before the first phaseM
    stage-2 block): it fuses with ``D_fuse0`` unless a decoder is named."""

    @property
    def default_decoder(self) -> Decoder:
        return "fuse0"
