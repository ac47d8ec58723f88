"""C-RITNet assembly (Fig. 2): II → FE → MRL → two SIPRIAs → FRR."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from critnet.model.attention import MutualRepresentationLearning
from critnet.model.blocks import FeatureEncoder, FusionDecoder, image_inversion
from critnet.model.config import CRITNetConfig, preset_config
from critnet.model.sipria import Sipria, SipriaOutputs

Decoder = Literal["fuse", "fuse0"]


@dataclass
class FusionOutputs:
    """Everything one forward pass produces, for the losses (training never re-runs parts).

    Attributes:
        fused: decoder output, B×1×H×W in (-1, 1), **not clamped** (losses need the gradient).
        sipria_ir: outputs of the infrared SIPRIA (input ``F_vis↔ir``), or ``None`` when not run.
        sipria_vis: outputs of the visible SIPRIA (input ``F_ir↔vis``), or ``None``.
    """

    fused: Tensor
    sipria_ir: SipriaOutputs | None = None
    sipria_vis: SipriaOutputs | None = None


class CRITNet(nn.Module):
    """The C-RITNet fusion network. Tensors in, tensors out; no file I/O.

    Modules, by training phase (docs/design.md §3):
        MIT: ``encoder_ir``, ``encoder_vis``, ``mrl`` (absent when ``mit=False``);
        ``decoder_fuse0`` (stage-1 decoder on ``cat(F_vis↔ir, F_ir↔vis)``);
        ``sipria_ir``, ``sipria_vis`` and ``decoder_fuse`` (absent when ``sipria=False``).
    """

    def __init__(self, config: CRITNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or CRITNetConfig()
        c = config.channels
        shape = (c, config.growth, config.n_rdb, config.n_dense, config.separable)
        self.encoder_ir = FeatureEncoder(*shape)
        self.encoder_vis = FeatureEncoder(*shape)
        self.mrl = MutualRepresentationLearning(c, config.attention_norm) if config.mit else None
        self.decoder_fuse0 = FusionDecoder(2 * c, c, config.fuse_kernel)
        if config.sipria:
            e = config.edge_channels
            # Each SIPRIA has its own channel permutation (seeds s and s+1); the released code
            # shares one between them. The paper does not say; docs/training.md records it.
            self.sipria_ir = Sipria(c, e, config.attention_norm, seed=config.shuffle_seed,
                                   separable=config.separable)
            self.sipria_vis = Sipria(c, e, config.attention_norm, seed=config.shuffle_seed + 1,
                                    separable=config.separable)
            # reads the six features of Eq. 11, concatenated by :meth:`decode`
            self.decoder_fuse = FusionDecoder(4 * c + 4 * e, c, config.fuse_kernel)
        else:
            self.sipria_ir = self.sipria_vis = self.decoder_fuse = None

    @property
    def default_decoder(self) -> Decoder:
        """``fuse`` for the full model, ``fuse0`` when SIPRIA is ablated."""
        return "fuse" if self.config.sipria else "fuse0"

    def mit_modules(self) -> list[nn.Module]:
        """Encoders and MRL: the mutual information transfer trained in phaseM."""
        return [m for m in (self.encoder_ir, self.encoder_vis, self.mrl) if m is not None]

    def mit_parameters(self) -> Iterator[nn.Parameter]:
        for module in self.mit_modules():
            yield from module.parameters()

    @torch.no_grad()
    def init_fuse_from_fuse0(self) -> None:
        """Warm-start ``D_fuse`` so that it computes exactly what ``D_fuse0`` computes.

        ``D_fuse0`` reads ``cat(F_vis↔ir, F_ir↔vis)``; ``D_fuse`` reads those two plus the four
        SIPRIA features (Eq. 11). The weights on the two shared inputs and the second conv are
        copied, the weights on the SIPRIA inputs are set to zero (they still receive gradients,
        so phaseM stage 2 learns how much of them to inject). The paper leaves ``D_fuse``'s
        initialisation open; with stage 2's small learning rate (1e-5) a randomly initialised
        ``D_fuse`` needs a long schedule to catch up with ``D_fuse0``.
        """
        if self.decoder_fuse is None:
            raise ValueError("no D_fuse to initialise (config.sipria is False)")
        c, e = self.config.channels, self.config.edge_channels
        source, target = self.decoder_fuse0.body, self.decoder_fuse.body
        target[0].weight.zero_()
        target[0].weight[:, :c] = source[0].weight[:, :c]  # F_vis↔ir
        start = c + 2 * e + c  # after F_vis↔ir, F_ed_ir, F_en_ir (:meth:`decode`'s order)
        target[0].weight[:, start:start + c] = source[0].weight[:, c:]  # F_ir↔vis
        target[0].bias.copy_(source[0].bias)
        target[2].load_state_dict(source[2].state_dict())

    def _layout(self, images: Tensor) -> Tensor:
        """Follow the weights' memory layout: after ``model.to(memory_format=torch.channels_last)``
        (faster on CPU, same results) the features are kept channels-last throughout."""
        if self.encoder_ir.stem.weight.is_contiguous(memory_format=torch.channels_last):
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def transfer(self, ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor]:
        """II + FE + MRL (§3.2): ``(F_vis↔ir, F_ir↔vis)`` from B×1×H×W images in [0, 1]."""
        f_ir = self.encoder_ir(self._layout(image_inversion(ir)))
        f_vis = self.encoder_vis(self._layout(image_inversion(vis)))
        if self.mrl is None:
            return f_ir, f_vis
        return self.mrl(f_ir, f_vis)

    def decode(
        self,
        decoder: Decoder,
        f_vis_ir: Tensor,
        f_ir_vis: Tensor,
        s_ir: SipriaOutputs | None = None,
        s_vis: SipriaOutputs | None = None,
    ) -> Tensor:
        """FRR: the fused image from the transferred (and SIPRIA) features.

        ``fuse0`` (stage 1): ``D_fuse0(cat(F_vis↔ir, F_ir↔vis))``; ``fuse`` (Eq. 11):
        ``D_fuse(cat(F_vis↔ir, F_ed_ir, F_en_ir, F_ir↔vis, F_ed_vis, F_en_vis))``, the SIPRIA
        features taken from ``s_ir`` (input ``F_vis↔ir``) and ``s_vis`` (input ``F_ir↔vis``).

        Args:
            decoder: ``fuse`` or ``fuse0``.
            f_vis_ir, f_ir_vis: B×C×H×W, from :meth:`transfer`.
            s_ir, s_vis: the two SIPRIAs' outputs; needed for ``fuse`` only.

        Returns:
            B×1×H×W in (-1, 1), not clamped.
        """
        if decoder == "fuse0":
            return self.decoder_fuse0(torch.cat([f_vis_ir, f_ir_vis], dim=1))
        if s_ir is None or s_vis is None:
            raise ValueError("decoder 'fuse' needs both SIPRIA outputs (s_ir, s_vis)")
        return self.decoder_fuse(
            torch.cat([f_vis_ir, s_ir.f_ed, s_ir.f_en, f_ir_vis, s_vis.f_ed, s_vis.f_en], dim=1)
        )

    def forward(
        self, ir: Tensor, vis: Tensor, *, decoder: Decoder | None = None, aux: bool = False
    ) -> Tensor | FusionOutputs:
        """Fuse.

        Args:
            ir, vis: B×1×H×W float images in [0, 1], any H×W (the network never downsamples).
            decoder: ``fuse`` (Eq. 11, all six features) or ``fuse0`` (stage 1); default: the
                model's ``default_decoder``.
            aux: return :class:`FusionOutputs` (unclamped fused image plus SIPRIA outputs);
                otherwise the fused image clamped to [0, 1].

        Returns:
            B×1×H×W fused image in [0, 1], or :class:`FusionOutputs` when ``aux``.
        """
        if ir.shape != vis.shape or ir.dim() != 4 or ir.shape[1] != 1:
            raise ValueError(
                f"ir and vis must both be B×1×H×W of equal shape, got {tuple(ir.shape)} "
                f"and {tuple(vis.shape)}"
            )
        decoder = decoder or self.default_decoder
        if decoder == "fuse" and not self.config.sipria:
            raise ValueError("decoder 'fuse' needs SIPRIA (config.sipria is False)")
        f_vis_ir, f_ir_vis = self.transfer(ir, vis)
        run_sipria = self.config.sipria and (decoder == "fuse" or aux)
        s_ir = self.sipria_ir(f_vis_ir) if run_sipria else None
        s_vis = self.sipria_vis(f_ir_vis) if run_sipria else None
        fused = self.decode(decoder, f_vis_ir, f_ir_vis, s_ir, s_vis)
        if aux:
            return FusionOutputs(fused=fused, sipria_ir=s_ir, sipria_vis=s_vis)
        return fused.clamp(0.0, 1.0)


def build_model(preset: str = "lite", **overrides: Any) -> CRITNet:
    """A freshly initialised C-RITNet of preset ``paper`` or ``lite``, with config overrides
    (e.g. ``build_model("paper", mit=False)``). Use :func:`critnet.load_model` for weights."""
    return CRITNet(preset_config(preset, **overrides))
