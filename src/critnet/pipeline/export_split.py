"""Convolutions over concatenations, rewritten for export (:mod:`critnet.pipeline.export_form`):
a convolution over ``cat(x₁, …, x_n)`` is the sum of convolutions over the parts, and two
convolutions over the two halves of one tensor are one block-diagonal convolution. Exact:
the same products, summed in another order.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from critnet.model.blocks import (
    FeatureEncoder,
    FusionDecoder,
    ResidualDenseBlock,
    SeparableConv,
)


class SplitConv(nn.Module):
    """``conv(cat(parts, dim=1))`` computed as ``Σ_i conv_i(part_i)`` (the weights of ``conv``
    split along its input channels, the bias added once), so the concatenation is never built.
    A :class:`~critnet.model.blocks.SeparableConv` splits the same way: its depthwise filters
    per part, its pointwise weights along their inputs, the depthwise bias folded into the
    pointwise one (``W_p (d + b_d) + b_p = W_p d + (W_p b_d + b_p)``).

    Args:
        conv: the convolution over the concatenation (``nn.Conv2d`` or ``SeparableConv``).
        sizes: the channels of each part, in concatenation order.
        identity_first: add ``parts[0]`` to the result (a residual ``+ x``), folded into the
            first part's weights as ``+ I``; ``conv`` must then be 1×1 with as many outputs as
            the first part has channels.
    """

    def __init__(self, conv: nn.Module, sizes: list[int], identity_first: bool = False) -> None:
        super().__init__()
        self.sizes = sizes
        if isinstance(conv, SeparableConv):
            depthwise, pointwise = conv.depthwise, conv.pointwise
            filters = depthwise.weight.detach().split(sizes, dim=0)
            weight = pointwise.weight.detach()
            bias = pointwise.bias.detach() + weight[:, :, 0, 0] @ depthwise.bias.detach()
            self.padding = depthwise.padding
        else:
            weight, bias = conv.weight.detach(), conv.bias.detach()
            filters, self.padding = None, conv.padding
        self.separable = filters is not None
        if sum(sizes) != weight.shape[1]:
            raise ValueError(f"parts of {sizes} channels do not make {weight.shape[1]}")
        pieces = [piece.clone() for piece in weight.split(sizes, dim=1)]
        if identity_first:
            pieces[0][:, :, 0, 0] += torch.eye(sizes[0], dtype=weight.dtype)
        for i, piece in enumerate(pieces):
            self.register_buffer(f"weight_{i}", piece)
            if filters is not None:
                self.register_buffer(f"filter_{i}", filters[i].clone())
        self.register_buffer("bias", bias.clone())

    def _part(self, i: int, part: Tensor, bias: Tensor | None) -> Tensor:
        weight = getattr(self, f"weight_{i}")
        if not self.separable:
            return F.conv2d(part, weight, bias, padding=self.padding)
        spread = F.conv2d(part, getattr(self, f"filter_{i}"), padding=self.padding,
                          groups=self.sizes[i])
        return F.conv2d(spread, weight, bias)

    def forward(self, parts: list[Tensor]) -> Tensor:
        out = self._part(0, parts[0], self.bias)
        for i in range(1, len(self.sizes)):
            out = out + self._part(i, parts[i], None)
        return out


def split_encoder(encoder: FeatureEncoder) -> FeatureEncoder:
    """``encoder`` (the export copy's, changed in place) with its dense blocks as
    :class:`SplitDenseBlock`."""
    encoder.blocks = nn.Sequential(*(SplitDenseBlock(block) for block in encoder.blocks))
    return encoder


class SplitDenseBlock(nn.Module):
    """A residual dense block whose convolutions read their inputs part by part
    (:class:`SplitConv`), the local residual folded into the local fusion."""

    def __init__(self, block: ResidualDenseBlock) -> None:
        super().__init__()
        channels, growth = block.layers[0].in_channels, block.layers[0].out_channels
        self.layers = nn.ModuleList(SplitConv(layer, [channels] + [growth] * i)
                                    for i, layer in enumerate(block.layers))
        self.local_fusion = SplitConv(block.local_fusion,
                                      [channels] + [growth] * len(block.layers),
                                      identity_first=True)

    def forward(self, x: Tensor) -> Tensor:
        parts = [x]
        for layer in self.layers:
            parts.append(F.leaky_relu(layer(parts), 0.2))
        return self.local_fusion(parts)


def block_diagonal(first: nn.Module, second: nn.Module) -> nn.Module:
    """One convolution computing ``cat(first(x₁), second(x₂))`` from ``cat(x₁, x₂)``: the two
    weights on the diagonal, zeros elsewhere (``nn.Conv2d`` or ``SeparableConv``, both alike)."""
    if isinstance(first, SeparableConv):
        both = SeparableConv(2 * first.in_channels, 2 * first.out_channels)
        both.depthwise = block_diagonal(first.depthwise, second.depthwise)
        both.pointwise = block_diagonal(first.pointwise, second.pointwise)
        return both
    inputs, out = first.in_channels, first.out_channels
    groups = 2 * first.groups if first.groups > 1 else 1  # depthwise stays depthwise
    both = nn.Conv2d(2 * inputs, 2 * out, first.kernel_size, padding=first.padding,
                     groups=groups)
    with torch.no_grad():
        if groups > 1:  # one filter per channel: the filters side by side
            both.weight.copy_(torch.cat([first.weight, second.weight]))
        else:
            both.weight.zero_()
            both.weight[:out, :inputs] = first.weight
            both.weight[out:, inputs:] = second.weight
        both.bias.copy_(torch.cat([first.bias, second.bias]))
    return both


class ChannelSum(nn.Module):
    """A convolution with one output channel (``D_fuse``'s last, C → 1) as a depthwise
    convolution and a sum over the channels: the same terms, but onnxruntime's blocked layout
    would pad the single output channel to a block of 8 (1.2–1.4× faster for that layer)."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.register_buffer("filters", conv.weight.detach().transpose(0, 1).clone())
        self.register_buffer("bias", conv.bias.detach().clone().view(1, 1, 1, 1))
        self.padding = conv.padding

    def forward(self, x: Tensor) -> Tensor:
        spread = F.conv2d(x, self.filters, padding=self.padding, groups=x.shape[1])
        return spread.sum(1, keepdim=True) + self.bias


class SplitDecoder(nn.Module):
    """``D_fuse`` / ``D_fuse0`` reading its input features part by part (:class:`SplitConv`),
    its last convolution as :class:`ChannelSum`."""

    def __init__(self, decoder: FusionDecoder, sizes: list[int]) -> None:
        super().__init__()
        self.first = SplitConv(decoder.body[0], sizes)
        self.last = ChannelSum(decoder.body[2])

    def forward(self, parts: list[Tensor]) -> Tensor:
        return torch.tanh(self.last(F.leaky_relu(self.first(parts), 0.2)))
