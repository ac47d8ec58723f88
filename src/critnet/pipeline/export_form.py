"""The form of C-RITNet that :mod:`critnet.pipeline.export` traces: the same function (the
default decoder's fused image), fewer passes over full-resolution tensors, so onnxruntime runs it
faster (docs/inference.md, "Speed"). Built on a private copy of the model (the model itself is
never changed). Every rewrite is exact algebra; only the rounding differs (≤ 2e-6 on the fused
image in the tests).

- **The attention statistics from the Gram matrix of the projections' source.** Q and K are
  1×1 projections ``q = W_q x + b_q``, ``k = W_k x + b_k`` of one C×(HW) source ``x`` (MRL:
  ``F_ir`` or ``F_vis``; SIPRIA: its input ``F``, the groups being column selections of it), so
  with ``G = Σ_p x(p) x(p)ᵀ``, ``s = Σ_p x(p)`` and N pixels::

      Q Kᵀ  = W_q G W_kᵀ + (W_q s) b_kᵀ + b_q (W_k s)ᵀ + N b_q b_kᵀ
      |q_i|² = (W_q G W_qᵀ)_ii + 2 b_q,i (W_q s)_i + N b_q,i²

  One Gram (one pass over ``x``) replaces the Q and K convolutions, ``Q Kᵀ`` and two L2 norms
  over HW; SIPRIA's two directions share one Gram of ``F``. The maps are then built by the
  model's own :func:`~critnet.model.attention.attention_from_statistics`.
- **Each attention applied as one matrix.** ``Conv1×1_out(A · Conv1×1_v(x))`` is
  ``(W_o A W_v) x + (W_o A b_v + b_o)``: one C×C product per pixel instead of two convolutions
  and the map product. In SIPRIA the channel shuffle, the split, both directions and their
  residuals fold into one C×C matrix that yields ``F_en`` (Eq. 10) directly, and the two edge
  encoders become one block-diagonal convolution that yields ``F_ed`` (Eq. 9).
- **No concatenation of feature maps.** A convolution over ``cat(x₁, …, x_n)`` is the sum of
  convolutions over the parts, so ``D_fuse`` reads Eq. 11's six features and the dense layers
  read their inputs part by part; the dense block's residual folds into its 1×1 local fusion as
  ``+ I``. On onnxruntime's CPU provider each sum becomes a convolution with a fused addition,
  in its blocked (NCHWc) layout, where the 48-channel concatenation before ``D_fuse`` was built
  in NCHW and reordered whole (a third of ``tiny``'s time).
- **Only what the fused image needs.** The reconstruction, edge and enhancement heads feed the
  losses only and are not computed.

The split and block-diagonal convolutions live in :mod:`critnet.pipeline.export_split`; a network
whose ``D_fuse`` starts with a 1×1 convolution gets the further rewrite of
:mod:`critnet.pipeline.export_affine`. Only the cosine attention is rewritten (a ``sqrt_d``
model is traced as written).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.onnx.operators import shape_as_tensor

from critnet.model import CRITNet
from critnet.model.attention import (
    AttentionStatistics,
    ChannelCrossAttention,
    MutualRepresentationLearning,
)
from critnet.model.blocks import image_inversion
from critnet.model.sipria import Sipria
from critnet.pipeline.export_split import SplitConv, SplitDecoder, block_diagonal, split_encoder


def source_gram(source: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(G, s, N)`` of B×C×H×W ``source``: the B×C×C Gram ``Σ_p x(p) x(p)ᵀ``, the B×C sums
    ``Σ_p x(p)`` and the pixel count as a 0-d float tensor (traced from the shape, so the graph
    stays valid for every H×W)."""
    matrix = source.flatten(2)
    pixels = shape_as_tensor(matrix)[2].to(matrix.dtype)
    return matrix @ matrix.transpose(1, 2), matrix.sum(-1), pixels


class ProjectedStatistics(nn.Module):
    """The :class:`AttentionStatistics` of one attention direction from the Gram of the source
    its Q and K projections read (formula in the module docstring).

    Args:
        attention: the direction; its ``query`` and ``key`` 1×1 convolutions are read once.
        channels: C of the source.
        query_channels, key_channels: which source channels Q and K read, in the order the
            projections see them (all channels for MRL, a SIPRIA group for SIPRIA).
    """

    def __init__(self, attention: ChannelCrossAttention, channels: int,
                 query_channels: Tensor, key_channels: Tensor) -> None:
        super().__init__()
        for name, conv, columns in (("query", attention.query, query_channels),
                                    ("key", attention.key, key_channels)):
            weight = conv.weight.detach()[:, :, 0, 0]
            spread = weight.new_zeros(weight.shape[0], channels)
            spread[:, columns] = weight  # a projection of the group = one of the whole source
            self.register_buffer(f"{name}_weight", spread)
            self.register_buffer(f"{name}_bias", conv.bias.detach().clone())

    def forward(self, gram: Tensor, sums: Tensor, pixels: Tensor) -> AttentionStatistics:
        wq, bq, wk, bk = self.query_weight, self.query_bias, self.key_weight, self.key_bias
        q_gram = wq @ gram  # B×Cq×C
        q_sum, k_sum = sums @ wq.T, sums @ wk.T  # Σ_p W x(p), B×Cq and B×Ck
        products = (q_gram @ wk.T + q_sum.unsqueeze(-1) * bk
                    + bq.unsqueeze(-1) * k_sum.unsqueeze(-2) + pixels * bq.unsqueeze(-1) * bk)
        query_sq = (q_gram * wq).sum(-1) + 2 * bq * q_sum + pixels * bq * bq
        key_sq = ((wk @ gram) * wk).sum(-1) + 2 * bk * k_sum + pixels * bk * bk
        # A norm that is zero up to rounding may come out slightly negative: clamp before sqrt.
        return AttentionStatistics(products, query_sq.clamp_min(0.0), key_sq.clamp_min(0.0),
                                   pixels=0)  # pixels: only the sqrt_d form reads it


def _matrix(conv: nn.Conv2d) -> tuple[Tensor, Tensor]:
    """``(W, b)`` of a 1×1 convolution: ``conv(x) = W x + b`` per pixel."""
    return conv.weight.detach()[:, :, 0, 0], conv.bias.detach()


def folded_attention(attention: ChannelCrossAttention, attn: Tensor) -> tuple[Tensor, Tensor]:
    """``(M, c)`` with ``Conv1×1_out(attn · Conv1×1_v(x)) = M x + c`` per pixel:
    ``M = W_o A W_v`` (B×C×C) and ``c = W_o A b_v + b_o`` (B×C), for the B×C×C map ``attn``."""
    w_out, b_out = _matrix(attention.out)
    w_value, b_value = _matrix(attention.value)
    mixed = w_out @ attn  # B×C×C
    return mixed @ w_value, mixed @ b_value + b_out


def affine(matrix: Tensor, bias: Tensor, features: Tensor) -> Tensor:
    """``matrix · x(p) + bias`` at every pixel ``p`` of B×C×H×W ``features`` (B×C×C, B×C):
    one matrix product over the pixels, no convolution."""
    # The bias added as B×C×1×1 over the 4-d tensor: onnxruntime's broadcast of a B×C×1 bias
    # over B×C×HW is 3-4× slower (measured, 640×480).
    return (matrix @ features.flatten(2)).view_as(features) + bias[:, :, None, None]


class FoldedMutualRepresentation(nn.Module):
    """MRL with both maps from the Grams of ``F_ir`` and ``F_vis`` and each direction applied as
    one matrix product: ``F_vis↔ir = M₁ F_vis + c₁ + F_ir`` (:func:`folded_attention`)."""

    def __init__(self, mrl: MutualRepresentationLearning) -> None:
        super().__init__()
        self.mrl = mrl
        channels = mrl.vis_to_ir.query.in_channels
        every = torch.arange(channels)
        self.vis_to_ir = ProjectedStatistics(mrl.vis_to_ir, channels, every, every)  # Q_ir K_ir
        self.ir_to_vis = ProjectedStatistics(mrl.ir_to_vis, channels, every, every)

    def maps(self, f_ir: Tensor, f_vis: Tensor) -> tuple[Tensor, Tensor]:
        """The two maps of these features."""
        stats = self.vis_to_ir(*source_gram(f_ir)), self.ir_to_vis(*source_gram(f_vis))
        return self.mrl.maps(stats)

    def forward(self, f_ir: Tensor, f_vis: Tensor,
                maps: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """``(F_vis↔ir, F_ir↔vis)``; ``maps``: given for tiled inference, else these features'."""
        vis_to_ir, ir_to_vis = maps or self.maps(f_ir, f_vis)
        f_vis_ir = affine(*folded_attention(self.mrl.vis_to_ir, vis_to_ir), f_vis) + f_ir
        f_ir_vis = affine(*folded_attention(self.mrl.ir_to_vis, ir_to_vis), f_ir) + f_vis
        return f_vis_ir, f_ir_vis


class FoldedSipria(nn.Module):
    """SIPRIA's two features for ``D_fuse``, ``(F_ed, F_en)`` (Eq. 9–10), and nothing else
    (the reconstruction, edge and enhancement heads feed the losses only).

    The shuffle and split, both SIP directions and their residuals are one matrix over the
    input's channels: ``F_en = cat(en₁←₂, en₂←₁) = M F + c`` with
    ``en₂←₁ = (M₂←₁ + I) S₁ F + c₂←₁`` (``S₁`` selects ``F_grp1``), and the two edge encoders
    are one block-diagonal convolution over ``F_en`` whose output is ``F_ed`` in Eq. 9's order.
    Both maps come from one Gram of the input.
    """

    def __init__(self, sipria: Sipria) -> None:
        super().__init__()
        self.sipria = sipria
        permutation = sipria.permutation.cpu()
        channels = permutation.numel()
        half = channels // 2
        grp1, grp2 = permutation[:half], permutation[half:]
        self.grp2_from_grp1 = ProjectedStatistics(sipria.grp2_from_grp1, channels, grp2, grp1)
        self.grp1_from_grp2 = ProjectedStatistics(sipria.grp1_from_grp2, channels, grp1, grp2)
        select = torch.zeros(channels, channels)
        select[torch.arange(channels), permutation] = 1.0  # row i picks channel perm[i]
        self.register_buffer("select_grp1", select[:half].clone())
        self.register_buffer("select_grp2", select[half:].clone())
        self.register_buffer("identity", torch.eye(half))
        # F_en = cat(en_1←2, en_2←1): E2_ed reads the first half, E1_ed the second (Eq. 9).
        self.edges = SplitConv(block_diagonal(sipria.edge_encoder2.conv,
                                               sipria.edge_encoder1.conv), [channels])

    def maps_from_gram(self, gram: Tensor, sums: Tensor, pixels: Tensor
                       ) -> tuple[Tensor, Tensor]:
        """SIP's two maps ``(map₂←₁, map₁←₂)`` from the input's ``(G, s, N)``."""
        return self.sipria.maps((self.grp2_from_grp1(gram, sums, pixels),
                                 self.grp1_from_grp2(gram, sums, pixels)))

    def en_affine(self, maps: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """``(M, c)`` with ``F_en = M F + c`` at every pixel, for SIP's two maps."""
        map_2from1, map_1from2 = maps
        m_2from1, c_2from1 = folded_attention(self.sipria.grp2_from_grp1, map_2from1)
        m_1from2, c_1from2 = folded_attention(self.sipria.grp1_from_grp2, map_1from2)
        matrix = torch.cat([(m_1from2 + self.identity) @ self.select_grp2,
                            (m_2from1 + self.identity) @ self.select_grp1], dim=1)
        return matrix, torch.cat([c_1from2, c_2from1], dim=1)

    def forward(self, features: Tensor,
                maps: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """``(F_ed, F_en)``; ``maps``: given for tiled inference, else these features' own."""
        f_en = affine(*self.en_affine(maps or self.maps_from_gram(*source_gram(features))),
                      features)
        return torch.tanh(self.edges([f_en])), f_en


class InferenceForm(nn.Module):
    """``(ir, vis) -> fused``, the function of :meth:`CRITNet.forward` with its default decoder,
    written with the rewrites above. Built by :func:`export_form`."""

    def __init__(self, model: CRITNet) -> None:
        super().__init__()
        config = self.config = model.config
        self.encoder_ir = split_encoder(model.encoder_ir)
        self.encoder_vis = split_encoder(model.encoder_vis)
        self.mrl = FoldedMutualRepresentation(model.mrl) if model.mrl is not None else None
        c, e = config.channels, config.edge_channels
        if config.sipria:
            self.sipria_ir = FoldedSipria(model.sipria_ir)
            self.sipria_vis = FoldedSipria(model.sipria_vis)
            # Eq. 11's order: F_vis↔ir, F_ed_ir, F_en_ir, F_ir↔vis, F_ed_vis, F_en_vis
            self.decoder = SplitDecoder(model.decoder_fuse, [c, 2 * e, c, c, 2 * e, c])
        else:
            self.sipria_ir = self.sipria_vis = None
            self.decoder = SplitDecoder(model.decoder_fuse0, [c, c])

    def encode(self, ir: Tensor, vis: Tensor) -> tuple[Tensor, Tensor]:
        """II + FE: ``(F_ir, F_vis)``."""
        return self.encoder_ir(image_inversion(ir)), self.encoder_vis(image_inversion(vis))

    features = encode  # the tiling's first graph, as AffineForm.features

    def transfer(self, f_ir: Tensor, f_vis: Tensor,
                 maps: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """MRL: ``(F_vis↔ir, F_ir↔vis)`` (the encoders' outputs when MRL is ablated)."""
        return (f_ir, f_vis) if self.mrl is None else self.mrl(f_ir, f_vis, maps)

    def fuse(self, f_vis_ir: Tensor, f_ir_vis: Tensor,
             sip_maps: tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]] | None = None
             ) -> Tensor:
        """SIPRIA + FRR: the unclamped fused image (``D_fuse0`` when SIPRIA is ablated)."""
        if self.sipria_ir is None:
            return self.decoder([f_vis_ir, f_ir_vis])
        maps_ir, maps_vis = sip_maps or (None, None)
        f_ed_ir, f_en_ir = self.sipria_ir(f_vis_ir, maps_ir)
        f_ed_vis, f_en_vis = self.sipria_vis(f_ir_vis, maps_vis)
        return self.decoder([f_vis_ir, f_ed_ir, f_en_ir, f_ir_vis, f_ed_vis, f_en_vis])

    def tile(self, ir: Tensor, vis: Tensor, mrl_maps: tuple[Tensor, Tensor],
             sip_maps: tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]) -> Tensor:
        """The unclamped fused image of a window with every attention map given (tiling)."""
        return self.fuse(*self.transfer(*self.encode(ir, vis), mrl_maps), sip_maps)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        """B×1×H×W images in [0, 1] → the fused image in [0, 1]."""
        return self.fuse(*self.transfer(*self.encode(ir, vis))).clamp(0.0, 1.0)
