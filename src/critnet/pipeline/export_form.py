"""The form of C-RITNet that :mod:`critnet.pipeline.export` traces: the same function, fewer passes
over
full-resolution tensors, so onnxruntime runs it faster (docs/inference.md, "Speed").

Two rewrites, both on a private copy of the model (the model itself is never changed):

- **SIPRIA's channel shuffle and split** (``index_select`` + two slices) become two 1×1
  convolutions with 0/1 weights. Exact: each output channel is ``1·x_k`` plus ``0·x_j`` terms.
  The gather and slices exported as Gather/Slice on NCHW tensors, which kept onnxruntime's
  blocked (NCHWc) layout from reaching SIPRIA and ``D_fuse``: every tensor on that path was
  converted into and out of the blocked layout (ReorderInput/ReorderOutput), and the 96-channel
  concatenation before ``D_fuse`` was built in NCHW and then reordered whole.
- **The attention statistics from the Gram matrix of the projections' source.** Q and K are
  1×1 projections ``q = W_q x + b_q``, ``k = W_k x + b_k`` of one C×(HW) source ``x`` (MRL:
  ``F_ir`` or ``F_vis``; SIPRIA: its input ``F``, the groups being column selections of it), so
  with ``G = Σ_p x(p) x(p)ᵀ``, ``s = Σ_p x(p)`` and N pixels::

      Q Kᵀ  = W_q G W_kᵀ + (W_q s) b_kᵀ + b_q (W_k s)ᵀ + N b_q b_kᵀ
      |q_i|² = (W_q G W_qᵀ)_ii + 2 b_q,i (W_q s)_i + N b_q,i²

  One Gram (one pass over ``x``) replaces the Q and K convolutions, their conversion out of the
  blocked layout, ``Q Kᵀ`` and two L2 norms over HW (five passes); SIPRIA's two directions share
  one Gram of ``F``. The maps are then built by the model's own
  :func:`~critnet.model.attention.attention_from_statistics`. Rounding differs from summing
  ``q·k`` directly: 3e-7 at 640×480, well inside the 1e-5 parity the tests check.

Only the cosine attention is rewritten (the ``sqrt_d`` form keeps the model's own path).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.onnx.operators import shape_as_tensor

from critnet.model import CRITNet
from critnet.model.attention import (
    AttentionStatistics,
    ChannelCrossAttention,
    MutualRepresentationLearning,
)
from critnet.model.sipria import Sipria, SipriaOutputs


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


class GramMutualRepresentation(nn.Module):
    """MRL with its two maps from the Grams of ``F_ir`` and ``F_vis`` (same outputs)."""

    def __init__(self, mrl: MutualRepresentationLearning) -> None:
        super().__init__()
        self.mrl = mrl
        channels = mrl.vis_to_ir.query.in_channels
        every = torch.arange(channels)
        self.vis_to_ir = ProjectedStatistics(mrl.vis_to_ir, channels, every, every)  # Q_ir K_ir
        self.ir_to_vis = ProjectedStatistics(mrl.ir_to_vis, channels, every, every)

    def forward(self, f_ir: Tensor, f_vis: Tensor) -> tuple[Tensor, Tensor]:
        stats = self.vis_to_ir(*source_gram(f_ir)), self.ir_to_vis(*source_gram(f_vis))
        return self.mrl(f_ir, f_vis, self.mrl.maps(stats))


class GramSipria(nn.Module):
    """SIPRIA with its groups split by 0/1 convolutions and both SIP maps from one Gram of its
    input (same outputs)."""

    def __init__(self, sipria: Sipria) -> None:
        super().__init__()
        self.sipria = sipria
        permutation = sipria.permutation.cpu()
        channels = permutation.numel()
        grp1, grp2 = permutation[:channels // 2], permutation[channels // 2:]
        self.grp2_from_grp1 = ProjectedStatistics(sipria.grp2_from_grp1, channels, grp2, grp1)
        self.grp1_from_grp2 = ProjectedStatistics(sipria.grp1_from_grp2, channels, grp1, grp2)
        select = torch.zeros(channels, channels, 1, 1)
        select[torch.arange(channels), permutation, 0, 0] = 1.0  # row i picks channel perm[i]
        self.register_buffer("select_grp1", select[:channels // 2].clone())
        self.register_buffer("select_grp2", select[channels // 2:].clone())
        # Sipria.forward calls self.groups; on this private copy it becomes the convolutions.
        sipria.groups = self.groups

    def groups(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """``(F_grp1, F_grp2)`` exactly as :meth:`Sipria.groups`, as two 1×1 convolutions."""
        return F.conv2d(features, self.select_grp1), F.conv2d(features, self.select_grp2)

    def forward(self, features: Tensor) -> SipriaOutputs:
        gram = source_gram(features)
        stats = self.grp2_from_grp1(*gram), self.grp1_from_grp2(*gram)
        return self.sipria(features, self.sipria.maps(stats))


def export_form(model: CRITNet) -> CRITNet:
    """A copy of ``model`` (fp32, CPU, NCHW, eval) rewritten for export as described above;
    ``model`` is not changed. Its ``forward`` gives the same results (to rounding)."""
    form = copy.deepcopy(model).float().cpu().to(memory_format=torch.contiguous_format).eval()
    if form.config.attention_norm != "cosine":
        return form
    if form.mrl is not None:
        form.mrl = GramMutualRepresentation(form.mrl)  # type: ignore[assignment]
    if form.config.sipria:
        form.sipria_ir = GramSipria(form.sipria_ir)  # type: ignore[assignment,arg-type]
        form.sipria_vis = GramSipria(form.sipria_vis)  # type: ignore[assignment,arg-type]
    return form
