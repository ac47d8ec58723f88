"""The export form of a C-RITNet whose ``D_fuse`` starts with a 1×1 convolution (the ``tiny``
preset): between the encoders and the edge encoders, everything is affine in ``z = (F_ir, F_vis)``.

Once the attention maps are fixed, MRL's ``F_vis↔ir = F_ir + M₁ F_vis + c₁`` and
``F_ir↔vis = F_vis + M₂ F_ir + c₂``, SIPRIA's ``F_en = M F + c``
(:meth:`~critnet.pipeline.export_form.FoldedSipria.en_affine`) and the 1×1 first convolution of
``D_fuse`` on the four features that are not ``F_ed`` are all affine maps of ``z``, per pixel;
the maps themselves come from second moments of ``z`` (a Gram ``G = Σ_p z zᵀ`` and ``s = Σ_p z``):
for ``F = P z + p``, ``Σ_p F Fᵀ = P G Pᵀ + (P s) pᵀ + p (P s)ᵀ + N p pᵀ``. So the whole-frame work
after the encoders is: one Gram of ``z``, one C×2C and one 2C×2C product per pixel
(``D_fuse``'s affine part and both SIPRIAs' ``F_en``), the four edge encoders as one
block-diagonal convolution, and ``D_fuse`` (its 1×1 convolution of ``F_ed``, the last 3×3
convolution as depthwise + channel sum). Every full-resolution tensor of MRL and SIPRIA that
:class:`~critnet.pipeline.export_form.InferenceForm` still builds — ``F_vis↔ir``, ``F_ir↔vis``,
their Grams — is gone; the matrices are computed on B×2C×2C tensors.

Exact algebra: the tests compare it with the model (≤ 2e-6).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from critnet.model import CRITNet
from critnet.model.attention import MutualRepresentationLearning
from critnet.model.blocks import image_inversion
from critnet.pipeline.export_form import (
    FoldedSipria,
    ProjectedStatistics,
    folded_attention,
    source_gram,
)
from critnet.pipeline.export_split import ChannelSum, SplitConv, block_diagonal, split_encoder

#: ``((P, p) of F_vis↔ir, (P, p) of F_ir↔vis)`` with ``F = P z + p``
Transfer = tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]
#: each SIPRIA's two maps, ``(maps of sipria_ir, maps of sipria_vis)``
SipMaps = tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]


def affine_applies(model: CRITNet) -> bool:
    """Whether :class:`AffineForm` is the export form of ``model``: the full network (MRL, both
    SIPRIAs, ``D_fuse``) with cosine attention and a 1×1 first convolution in ``D_fuse``."""
    config = model.config
    return (config.attention_norm == "cosine" and config.mit and config.sipria
            and config.fuse_kernel == 1)


def moments_of(projection: Tensor, offset: Tensor, gram: Tensor, sums: Tensor,
               pixels: Tensor) -> tuple[Tensor, Tensor]:
    """``(Σ_p F Fᵀ, Σ_p F)`` of ``F = P z + p`` from those of ``z`` (``P``: B×K×2C, ``p``: B×K)."""
    p_sums = (projection @ sums.unsqueeze(-1)).squeeze(-1)  # P s, B×K
    gram_f = (projection @ gram @ projection.transpose(1, 2)
              + p_sums.unsqueeze(-1) * offset.unsqueeze(-2)
              + offset.unsqueeze(-1) * p_sums.unsqueeze(-2)
              + pixels * offset.unsqueeze(-1) * offset.unsqueeze(-2))
    return gram_f, p_sums + pixels * offset


class AffineForm(nn.Module):
    """``(ir, vis) -> fused``, :meth:`CRITNet.forward` of a model for which
    :func:`affine_applies`, written as described in the module docstring."""

    def __init__(self, model: CRITNet) -> None:
        super().__init__()
        config = self.config = model.config
        c, e = config.channels, config.edge_channels
        self.encoder_ir = split_encoder(model.encoder_ir)
        self.encoder_vis = split_encoder(model.encoder_vis)
        mrl: MutualRepresentationLearning = model.mrl  # type: ignore[assignment]
        self.mrl = mrl
        first, second = torch.arange(c), torch.arange(c, 2 * c)  # F_ir, F_vis inside z
        self.stats_vis_to_ir = ProjectedStatistics(mrl.vis_to_ir, 2 * c, first, first)
        self.stats_ir_to_vis = ProjectedStatistics(mrl.ir_to_vis, 2 * c, second, second)
        self.sipria_ir = FoldedSipria(model.sipria_ir)
        self.sipria_vis = FoldedSipria(model.sipria_vis)
        # F_en of both SIPRIAs (ir then vis) -> F_ed of both, one block-diagonal convolution
        edges = [s.sipria for s in (self.sipria_ir, self.sipria_vis)]
        self.edges = SplitConv(block_diagonal(
            block_diagonal(edges[0].edge_encoder2.conv, edges[0].edge_encoder1.conv),
            block_diagonal(edges[1].edge_encoder2.conv, edges[1].edge_encoder1.conv)), [2 * c])
        decoder = model.decoder_fuse.body
        weight = decoder[0].weight.detach()[:, :, 0, 0]
        # Eq. 11's order: F_vis↔ir, F_ed_ir, F_en_ir, F_ir↔vis, F_ed_vis, F_en_vis
        w_vis_ir, w_ed_ir, w_en_ir, w_ir_vis, w_ed_vis, w_en_vis = weight.split(
            [c, 2 * e, c, c, 2 * e, c], dim=1)
        for name, value in (("w_vis_ir", w_vis_ir), ("w_en_ir", w_en_ir),
                            ("w_ir_vis", w_ir_vis), ("w_en_vis", w_en_vis)):
            self.register_buffer(name, value.clone())
        self.register_buffer("w_ed", torch.cat([w_ed_ir, w_ed_vis], dim=1)[:, :, None, None])
        self.register_buffer("fuse_bias", decoder[0].bias.detach().clone())
        self.register_buffer("identity", torch.eye(c))
        self.last = ChannelSum(decoder[2])

    def features(self, ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor]:
        """II + FE: ``(F_ir, F_vis)`` (the tiling's first graph)."""
        return self.encoder_ir(image_inversion(ir)), self.encoder_vis(image_inversion(vis))

    def encode(self, ir: Tensor, vis: Tensor) -> Tensor:
        """II + both FEs: ``z = cat(F_ir, F_vis)``."""
        return torch.cat(self.features(ir, vis), dim=1)

    def maps(self, gram: Tensor, sums: Tensor, pixels: Tensor
             ) -> tuple[tuple[Tensor, Tensor], Transfer, SipMaps]:
        """From the moments of ``z``: MRL's two maps, the affine form of its outputs
        (:meth:`transfer_affine`) and each SIPRIA's two maps."""
        mrl_maps = self.mrl.maps((self.stats_vis_to_ir(gram, sums, pixels),
                                  self.stats_ir_to_vis(gram, sums, pixels)))
        transfer = self.transfer_affine(mrl_maps)
        (p_ir, c_ir), (p_vis, c_vis) = transfer
        sip_ir = self.sipria_ir.maps_from_gram(*moments_of(p_ir, c_ir, gram, sums, pixels), pixels)
        sip_vis = self.sipria_vis.maps_from_gram(*moments_of(p_vis, c_vis, gram, sums, pixels),
                                                 pixels)
        return mrl_maps, transfer, (sip_ir, sip_vis)

    def transfer_affine(self, mrl_maps: tuple[Tensor, Tensor]) -> Transfer:
        """``((P, p) of F_vis↔ir, (P, p) of F_ir↔vis)``, each ``F = P z + p`` (B×C×2C, B×C)."""
        m_1, c_1 = folded_attention(self.mrl.vis_to_ir, mrl_maps[0])  # reads F_vis
        m_2, c_2 = folded_attention(self.mrl.ir_to_vis, mrl_maps[1])  # reads F_ir
        eye = self.identity.expand_as(m_1)
        return (torch.cat([eye, m_1], dim=2), c_1), (torch.cat([m_2, eye], dim=2), c_2)

    def coefficients(self, transfer: Transfer, sip_maps: SipMaps
                     ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(E, e, L, l)``: ``cat(F_en_ir, F_en_vis) = E z + e`` and the affine part of
        ``D_fuse``'s first convolution (all but its ``F_ed`` inputs, with its bias)
        ``= L z + l``."""
        (p_ir, c_ir), (p_vis, c_vis) = transfer
        sip_ir, sip_vis = sip_maps
        m_ir, b_ir = self.sipria_ir.en_affine(sip_ir)
        m_vis, b_vis = self.sipria_vis.en_affine(sip_vis)
        e_ir, k_ir = m_ir @ p_ir, (m_ir @ c_ir.unsqueeze(-1)).squeeze(-1) + b_ir
        e_vis, k_vis = m_vis @ p_vis, (m_vis @ c_vis.unsqueeze(-1)).squeeze(-1) + b_vis
        linear = (self.w_vis_ir @ p_ir + self.w_en_ir @ e_ir
                  + self.w_ir_vis @ p_vis + self.w_en_vis @ e_vis)
        offset = (c_ir @ self.w_vis_ir.T + k_ir @ self.w_en_ir.T
                  + c_vis @ self.w_ir_vis.T + k_vis @ self.w_en_vis.T + self.fuse_bias)
        return (torch.cat([e_ir, e_vis], dim=1), torch.cat([k_ir, k_vis], dim=1),
                linear, offset)

    def decode(self, z: Tensor, transfer: Transfer, sip_maps: SipMaps) -> Tensor:
        """The unclamped fused image from ``z = cat(F_ir, F_vis)``, MRL's affine form and the
        SIPRIAs' maps."""
        en_matrix, en_offset, linear, offset = self.coefficients(transfer, sip_maps)
        tokens = z.flatten(2)
        f_en = (en_matrix @ tokens).view_as(z) + en_offset[:, :, None, None]
        f_ed = torch.tanh(self.edges([f_en]))
        batch, _, height, width = z.shape
        affine_part = (linear @ tokens).view(batch, -1, height, width) + offset[:, :, None, None]
        hidden = F.leaky_relu(F.conv2d(f_ed, self.w_ed) + affine_part, 0.2)
        return torch.tanh(self.last(hidden))

    def tile(self, ir: Tensor, vis: Tensor, mrl_maps: tuple[Tensor, Tensor],
             sip_maps: tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]) -> Tensor:
        """The unclamped fused image of a window with every attention map given (tiling)."""
        return self.decode(self.encode(ir, vis), self.transfer_affine(mrl_maps), sip_maps)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        """B×1×H×W images in [0, 1] → the fused image in [0, 1]."""
        z = self.encode(ir, vis)
        _, transfer, sip_maps = self.maps(*source_gram(z))
        return self.decode(z, transfer, sip_maps).clamp(0.0, 1.0)
