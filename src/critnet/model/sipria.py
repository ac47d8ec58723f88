"""SIPRIA (§3.3): RIASSI (Eq. 4) + SIP (Eq. 5–10) + the enhancement decoder (Eq. 15)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from critnet.model.attention import AttentionStatistics, ChannelCrossAttention
from critnet.model.blocks import ConvTanh
from critnet.model.config import AttentionNorm


@dataclass
class SipriaOutputs:
    """What one SIPRIA produces. Images are B×1×H×W in (-1, 1).

    Attributes:
        rec_ir: ``Î_grp1 = D2_rec(F_grp2)``, compared with ``I_ir`` in ``ℓ_rec`` (Eq. 4).
        rec_vis: ``Î_grp2 = D1_rec(F_grp1)``, compared with ``I_vis``.
        edge_ir: ``Î1_ed = D1_ed(F_ed_grp2←grp1)``, compared with ``∇I_ir`` in ``ℓ_grad`` (Eq. 8).
        edge_vis: ``Î2_ed = D2_ed(F_ed_grp1←grp2)``, compared with ``∇I_vis``.
        image: ``Î_sipria = D_en(F_en)`` (Eq. 15).
        f_ed: ``F_ed`` (Eq. 9), B×(2·edge_width)×H×W, fed to ``D_fuse``.
        f_en: ``F_en`` (Eq. 10), B×C×H×W, fed to ``D_fuse``.
    """

    rec_ir: Tensor
    rec_vis: Tensor
    edge_ir: Tensor
    edge_vis: Tensor
    image: Tensor
    f_ed: Tensor
    f_en: Tensor


class Sipria(nn.Module):
    """Structure-information-preserved redundant information acquisition, for one modality.

    Input ``F`` (B×C×H×W) is channel-shuffled by a fixed permutation drawn from ``seed`` (stored
    in the state dict; :class:`CRITNet` gives its two SIPRIAs different seeds) and split into
    two **disjoint** halves ``F_grp1``, ``F_grp2`` that cover all channels.
    """

    def __init__(self, channels: int, edge_width: int, norm: AttentionNorm, seed: int,
                 separable: bool = False) -> None:
        super().__init__()
        half = channels // 2
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("permutation", torch.randperm(channels, generator=generator))
        # RIASSI (Eq. 4)
        self.rec1 = ConvTanh(half)  # D1_rec: F_grp1 -> Î_grp2 (≈ I_vis)
        self.rec2 = ConvTanh(half)  # D2_rec: F_grp2 -> Î_grp1 (≈ I_ir)
        # SIP (Eq. 5–6): two attention directions, six projections in all
        self.grp2_from_grp1 = ChannelCrossAttention(half, norm)  # Q_grp2, K_grp1, V_grp1
        self.grp1_from_grp2 = ChannelCrossAttention(half, norm)  # Q_grp1, K_grp2, V_grp2
        # Eq. 7–8: distinct edge encoders and decoders per group
        self.edge_encoder1 = ConvTanh(half, edge_width, separable)  # E1_ed
        self.edge_encoder2 = ConvTanh(half, edge_width, separable)  # E2_ed
        self.edge_decoder1 = ConvTanh(edge_width)  # D1_ed
        self.edge_decoder2 = ConvTanh(edge_width)  # D2_ed
        # Eq. 15
        self.enhance_decoder = ConvTanh(channels)  # D_en

    def groups(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Channel shuffle then split: ``(F_grp1, F_grp2)``, disjoint, covering all channels."""
        shuffled = features.index_select(1, self.permutation)
        half = features.shape[1] // 2
        return shuffled[:, :half], shuffled[:, half:]

    def projections(self, features: Tensor) -> tuple[tuple[Tensor, Tensor], ...]:
        """``((Q_grp2, K_grp1), (Q_grp1, K_grp2))``: the Q and K of SIP's two maps, from the
        same sources as :meth:`forward`."""
        grp1, grp2 = self.groups(features)
        return (self.grp2_from_grp1.projections(grp2, grp1),
                self.grp1_from_grp2.projections(grp1, grp2))

    def maps(self, stats: tuple[AttentionStatistics, ...]) -> tuple[Tensor, Tensor]:
        """SIP's two B×(C/2)×(C/2) maps from their pixel sums."""
        return self.grp2_from_grp1.map_from(stats[0]), self.grp1_from_grp2.map_from(stats[1])

    def forward(self, features: Tensor, maps: tuple[Tensor, Tensor] | None = None) -> SipriaOutputs:
        """``maps``: SIP's two attention maps when computed over a larger image than
        ``features`` (tiled inference); default: these features' own."""
        grp1, grp2 = self.groups(features)
        rec_vis = self.rec1(grp1)
        rec_ir = self.rec2(grp2)
        map_2from1, map_1from2 = maps or (None, None)
        en_2from1 = self.grp2_from_grp1(grp2, grp1, grp1, residual=grp1,
                                        attn=map_2from1)  # F_en_grp2←grp1
        en_1from2 = self.grp1_from_grp2(grp1, grp2, grp2, residual=grp2,
                                        attn=map_1from2)  # F_en_grp1←grp2
        ed_2from1 = self.edge_encoder1(en_2from1)  # F_ed_grp2←grp1
        ed_1from2 = self.edge_encoder2(en_1from2)  # F_ed_grp1←grp2
        f_ed = torch.cat([ed_1from2, ed_2from1], dim=1)  # Eq. 9
        f_en = torch.cat([en_1from2, en_2from1], dim=1)  # Eq. 10
        return SipriaOutputs(
            rec_ir=rec_ir,
            rec_vis=rec_vis,
            edge_ir=self.edge_decoder1(ed_2from1),
            edge_vis=self.edge_decoder2(ed_1from2),
            image=self.enhance_decoder(f_en),
            f_ed=f_ed,
            f_en=f_en,
        )
