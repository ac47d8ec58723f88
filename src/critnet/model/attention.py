"""Channel cross-attention: the C×C attention shared by MRL (Eq. 2–3) and SIP (Eq. 5–6).

Q, K and V are reshaped to C×(HW), so the attention map is C×C: cost and memory grow linearly
with the number of pixels, and no (HW)×(HW) tensor is ever built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from critnet.model.blocks import conv1x1
from critnet.model.config import AttentionNorm

MIN_TEMPERATURE = 1e-2
"""The cosine attention uses ``max(temperature, MIN_TEMPERATURE)``: the learnable parameter is
stored as the temperature itself (state-dict key ``...temperature``) and nothing stops training
from pushing it to zero or below, where the map would go uniform or reverse (most similar
channels weighted least). Clamping in the forward keeps the logit scale positive; the stored
value is untouched, and where it is below the minimum its gradient is zero."""


def channel_matrix(features: Tensor) -> Tensor:
    """B×C×H×W → B×C×(HW), a view (no copy) for both NCHW and channels-last layouts."""
    if features.is_contiguous():
        return features.flatten(2)
    b, c, h, w = features.shape
    return features.permute(0, 2, 3, 1).reshape(b, h * w, c).transpose(1, 2)


def apply_attention(attn: Tensor, value: Tensor) -> Tensor:
    """``attn · V`` for a B×C×C map and B×C×H×W values, keeping the values' memory layout."""
    if value.is_contiguous():
        return (attn @ value.flatten(2)).view_as(value)
    b, c, h, w = value.shape
    tokens = channel_matrix(value).transpose(1, 2)  # (HW)×C, contiguous when channels-last
    return (tokens @ attn.transpose(1, 2)).view(b, h, w, c).permute(0, 3, 1, 2)


@dataclass(frozen=True)
class AttentionStatistics:
    """The pixel sums a channel attention map is built from; sums over disjoint pixel sets add.

    Attributes:
        products: B×C×C, ``Q Kᵀ`` (``Σ_p q_i(p) k_j(p)``).
        query_sq, key_sq: B×C, ``Σ_p q_i(p)²`` and ``Σ_p k_j(p)²`` (the cosine norms, squared).
        pixels: number of pixels summed over.
    """

    products: Tensor
    query_sq: Tensor
    key_sq: Tensor
    pixels: int

    def __add__(self, other: AttentionStatistics) -> AttentionStatistics:
        return AttentionStatistics(self.products + other.products,
                                   self.query_sq + other.query_sq,
                                   self.key_sq + other.key_sq, self.pixels + other.pixels)

    def to(self, dtype: torch.dtype) -> AttentionStatistics:
        """The same sums in ``dtype``."""
        return AttentionStatistics(self.products.to(dtype), self.query_sq.to(dtype),
                                   self.key_sq.to(dtype), self.pixels)


#: :func:`attention_statistics` sums at most this many pixels in fp32 and adds those partial
#: sums in float64. One fp32 sum over a whole 512×512 frame is off by 2–4e-6 relative, which
#: moved the fused image by 1.4e-5; in blocks it stays within 1e-6 of a float64 forward (and of
#: tiled inference, which accumulates in float64 too). Training crops fit in one block.
SUM_BLOCK = 2**14


def _block_statistics(q: Tensor, k: Tensor) -> AttentionStatistics:
    return AttentionStatistics(
        products=q @ k.transpose(1, 2),
        query_sq=torch.linalg.vector_norm(q, dim=-1).square(),
        key_sq=torch.linalg.vector_norm(k, dim=-1).square(),
        pixels=q.shape[-1],
    )


def attention_statistics(query: Tensor, key: Tensor) -> AttentionStatistics:
    """The sums over the pixels of B×C×H×W ``query`` and ``key`` that the attention map needs.

    At least fp32 (float64 stays float64), also under bf16/fp16 autocast: sums over H·W pixels
    overflow fp16 and lose the digits the softmax needs in bf16. Over more than ``SUM_BLOCK``
    pixels, fp32 sums over blocks of pixels are added in float64."""
    dtype = torch.promote_types(query.dtype, torch.float32)
    q = channel_matrix(query).to(dtype)
    k = channel_matrix(key).to(dtype)
    with torch.autocast(q.device.type, enabled=False):
        pixels = q.shape[-1]
        if pixels <= SUM_BLOCK:
            return _block_statistics(q, k)
        total = _block_statistics(q[..., :SUM_BLOCK], k[..., :SUM_BLOCK]).to(torch.float64)
        for start in range(SUM_BLOCK, pixels, SUM_BLOCK):
            block = slice(start, start + SUM_BLOCK)
            total = total + _block_statistics(q[..., block], k[..., block]).to(torch.float64)
        return total.to(dtype)


def attention_from_statistics(
    stats: AttentionStatistics, norm: AttentionNorm, temperature: Tensor | None = None
) -> Tensor:
    """``softmax(Q Kᵀ · s)`` over channels, from the pixel sums of :func:`attention_statistics`.

    Args:
        stats: sums over all pixels of the image.
        norm: ``cosine``: Q and K are L2-normalised along HW and the logits are multiplied by
            ``max(temperature, MIN_TEMPERATURE)`` (so the map does not change with image size,
            and the scale is always positive); ``sqrt_d``: logits are raw dot products divided
            by sqrt(HW).
        temperature: scalar tensor, required for ``cosine``.

    Returns:
        B×C×C attention map, fp32 (computed with autocast off); each row sums to 1.
    """
    with torch.autocast(stats.products.device.type, enabled=False):
        if norm == "cosine":
            if temperature is None:
                raise ValueError("cosine attention needs a temperature")
            # cos(q_i, k_j) = q_i·k_j / (|q_i| |k_j|): scale the C×C product, not the C×HW maps.
            q_norm = stats.query_sq.sqrt().clamp_min(1e-12)
            k_norm = stats.key_sq.sqrt().clamp_min(1e-12)
            positive = temperature.float().clamp_min(MIN_TEMPERATURE)
            logits = stats.products * (positive / (q_norm.unsqueeze(-1) * k_norm.unsqueeze(-2)))
        else:
            logits = stats.products / math.sqrt(stats.pixels)
        return logits.softmax(dim=-1)


def channel_attention_map(
    query: Tensor, key: Tensor, norm: AttentionNorm, temperature: Tensor | None = None
) -> Tensor:
    """``softmax(Q Kᵀ · s)`` over channels for B×C×H×W ``query`` and ``key``: B×C×C in
    ``query``'s dtype, rows sum to 1 (see :func:`attention_from_statistics` for ``norm`` and
    ``temperature``)."""
    stats = attention_statistics(query, key)
    return attention_from_statistics(stats, norm, temperature).to(query.dtype)


class ChannelCrossAttention(nn.Module):
    """One attention direction: ``out = Conv1×1(softmax(Q Kᵀ·s) V) + residual``.

    Q comes from ``query_source``, K from ``key_source`` and V from ``value_source``, each
    through its own 1×1 projection. MRL's ``F_vis↔ir`` is
    ``attn(query=F_ir, key=F_ir, value=F_vis, residual=F_ir)`` (Eq. 2–3); SIP's
    ``F_en_grp2←grp1`` is ``attn(query=F_grp2, key=F_grp1, value=F_grp1, residual=F_grp1)``
    (Eq. 5–6).
    """

    def __init__(self, channels: int, norm: AttentionNorm) -> None:
        super().__init__()
        self.norm = norm
        self.query = conv1x1(channels, channels)
        self.key = conv1x1(channels, channels)
        self.value = conv1x1(channels, channels)
        self.out = conv1x1(channels, channels)
        # Learnable temperature (init 1); only used by cosine attention, which clamps it to
        # at least MIN_TEMPERATURE.
        self.temperature = nn.Parameter(torch.ones(()), requires_grad=norm == "cosine")

    def projections(self, query_source: Tensor, key_source: Tensor) -> tuple[Tensor, Tensor]:
        """``(Q, K)``: the two 1×1 projections the map is built from."""
        return self.query(query_source), self.key(key_source)

    def statistics(self, query_source: Tensor, key_source: Tensor) -> AttentionStatistics:
        """The pixel sums of the map (sums over disjoint pixel sets add)."""
        return attention_statistics(*self.projections(query_source, key_source))

    def map_from(self, stats: AttentionStatistics) -> Tensor:
        """The B×C×C map ``softmax(Q Kᵀ·s)`` from its pixel sums."""
        return attention_from_statistics(stats, self.norm, self.temperature)

    def attention_map(self, query_source: Tensor, key_source: Tensor) -> Tensor:
        """The B×C×C map ``softmax(Q Kᵀ·s)``."""
        return self.map_from(self.statistics(query_source, key_source))

    def forward(
        self, query_source: Tensor, key_source: Tensor, value_source: Tensor, residual: Tensor,
        attn: Tensor | None = None,
    ) -> Tensor:
        """``Conv1×1(softmax(Q Kᵀ·s) V) + residual``. ``attn``: the map when it was computed over
        a larger image than these features (tiled inference); default: their own."""
        if attn is None:
            attn = self.attention_map(query_source, key_source)
        return self.out(apply_attention(attn, self.value(value_source))) + residual


class MutualRepresentationLearning(nn.Module):
    """MRL (§3.2.2, Eq. 2–3): six projections (Q, K, V per modality), two output 1×1 convs.

    ``F_vis↔ir = Conv1×1(softmax(Q_ir K_irᵀ·s) V_vis) + F_ir`` and
    ``F_ir↔vis = Conv1×1(softmax(Q_vis K_visᵀ·s) V_ir) + F_vis``.
    """

    def __init__(self, channels: int, norm: AttentionNorm) -> None:
        super().__init__()
        self.vis_to_ir = ChannelCrossAttention(channels, norm)  # owns Q_ir, K_ir, V_vis
        self.ir_to_vis = ChannelCrossAttention(channels, norm)  # owns Q_vis, K_vis, V_ir

    def projections(self, f_ir: Tensor, f_vis: Tensor) -> tuple[tuple[Tensor, Tensor], ...]:
        """``((Q_ir, K_ir), (Q_vis, K_vis))``, the Q and K of both maps
        (``softmax(Q_ir K_irᵀ·s)``, ``softmax(Q_vis K_visᵀ·s)``), from the same sources as
        :meth:`forward` (tiled inference builds the maps from them; its tests check they agree)."""
        return self.vis_to_ir.projections(f_ir, f_ir), self.ir_to_vis.projections(f_vis, f_vis)

    def maps(self, stats: tuple[AttentionStatistics, ...]) -> tuple[Tensor, Tensor]:
        """Both B×C×C maps from their pixel sums."""
        return self.vis_to_ir.map_from(stats[0]), self.ir_to_vis.map_from(stats[1])

    def forward(
        self, f_ir: Tensor, f_vis: Tensor, maps: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        """Returns ``(F_vis↔ir, F_ir↔vis)``, both B×C×H×W. ``maps``: the two attention maps,
        when computed over a larger image than this one (tiled inference); default: these
        features' own."""
        vis_to_ir, ir_to_vis = maps or (None, None)
        f_vis_ir = self.vis_to_ir(f_ir, f_ir, f_vis, residual=f_ir, attn=vis_to_ir)
        f_ir_vis = self.ir_to_vis(f_vis, f_vis, f_ir, residual=f_vis, attn=ir_to_vis)
        return f_vis_ir, f_ir_vis
