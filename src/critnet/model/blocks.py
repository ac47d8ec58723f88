"""Convolutional building blocks: image inversion, RDN encoders, conv+tanh heads, D_fuse."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def image_inversion(image: Tensor) -> Tensor:
    """Image inversion (II, §3.2.1): ``I' = cat(I, 1 - I)``.

    Args:
        image: B×1×H×W in [0, 1].

    Returns:
        B×2×H×W.
    """
    return torch.cat([image, 1.0 - image], dim=1)


def conv3x3(in_channels: int, out_channels: int, separable: bool = False) -> nn.Module:
    """3×3 convolution with padding 1: keeps H×W for any size. ``separable``: a depthwise
    3×3 convolution followed by a 1×1 one (:class:`SeparableConv`)."""
    if separable:
        return SeparableConv(in_channels, out_channels)
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)


class SeparableConv(nn.Module):
    """Depthwise-separable 3×3 convolution: a 3×3 convolution of each input channel on its own
    (``depthwise``), then a 1×1 convolution across channels (``pointwise``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size=3, padding=1,
                                   groups=in_channels)
        self.pointwise = conv1x1(in_channels, out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


def conv1x1(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=1)


class ResidualDenseBlock(nn.Module):
    """One residual dense block: ``n_dense`` densely connected conv3×3 + LeakyReLU(0.2) layers
    of growth ``G``, a 1×1 local feature fusion back to ``C`` and a local residual."""

    def __init__(self, channels: int, growth: int, n_dense: int, separable: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            conv3x3(channels + i * growth, growth, separable) for i in range(n_dense)
        )
        self.local_fusion = conv1x1(channels + n_dense * growth, channels)

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled() or not x.is_contiguous():  # training, or channels-last
            features = [x]
            for layer in self.layers:
                features.append(F.leaky_relu(layer(torch.cat(features, dim=1)), 0.2))
            return self.local_fusion(torch.cat(features, dim=1)) + x
        # NCHW inference: the same arithmetic without repeated torch.cat. Each layer writes its
        # G channels into one preallocated buffer and reads the channel prefix before them.
        c, g = x.shape[1], self.layers[0].out_channels
        buffer = x.new_empty(x.shape[0], c + len(self.layers) * g, *x.shape[2:])
        buffer[:, :c] = x
        for i, layer in enumerate(self.layers):
            start = c + i * g
            buffer[:, start:start + g] = F.leaky_relu(layer(buffer[:, :start]), 0.2, inplace=True)
        return self.local_fusion(buffer).add_(x)


class FeatureEncoder(nn.Module):
    """Feature extraction ``E_ir`` / ``E_vis`` (§3.2.1): conv3×3(2→C) + LeakyReLU(0.2), then
    ``n_rdb`` residual dense blocks (``separable``: their 3×3 convolutions depthwise-separable).
    Input: the 2-channel inverted image; output B×C×H×W."""

    def __init__(self, channels: int, growth: int, n_rdb: int, n_dense: int,
                 separable: bool = False) -> None:
        super().__init__()
        self.stem = conv3x3(2, channels)
        self.act = nn.LeakyReLU(0.2)
        self.blocks = nn.Sequential(
            *(ResidualDenseBlock(channels, growth, n_dense, separable) for _ in range(n_rdb))
        )

    def forward(self, inverted: Tensor) -> Tensor:
        return self.blocks(self.act(self.stem(inverted)))


class ConvTanh(nn.Module):
    """conv3×3 + tanh, B×in×H×W → B×out×H×W in (-1, 1). With ``out_channels=1`` it is an
    image head: the reconstruction (``D_rec``, Eq. 4), edge (``D_ed``, Eq. 8) and enhancement
    (``D_en``, Eq. 15) decoders; with ``edge_width`` outputs it is an edge encoder ``E_ed``
    (Eq. 7), depthwise-separable when ``separable``."""

    def __init__(self, in_channels: int, out_channels: int = 1, separable: bool = False) -> None:
        super().__init__()
        self.conv = conv3x3(in_channels, out_channels, separable)

    def forward(self, x: Tensor) -> Tensor:
        return torch.tanh(self.conv(x))


class FusionDecoder(nn.Module):
    """``D_fuse`` / ``D_fuse0`` (Eq. 11): conv3×3(→C) + LeakyReLU(0.2) + conv3×3(C→1) + tanh;
    ``kernel=1`` makes the first convolution 1×1 (the ``tiny`` preset).

    Always runs in fp32 (float64 inputs stay float64), also under bf16/fp16 autocast: a bf16
    output alone is off by up to 0.5/255 (8-bit mantissa), and the whole bf16 network by 1.3/255
    instead of 0.8/255.
    """

    def __init__(self, in_channels: int, channels: int, kernel: int = 3) -> None:
        super().__init__()
        first = conv3x3(in_channels, channels) if kernel == 3 else conv1x1(in_channels, channels)
        self.body = nn.Sequential(first, nn.LeakyReLU(0.2), conv3x3(channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return torch.tanh(self.body(x.to(torch.promote_types(x.dtype, torch.float32))))
