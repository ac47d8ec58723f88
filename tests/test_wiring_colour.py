"""The colour path, pinned: the network fuses the IR luma with the visible Y channel, and the
visible Cb and Cr are kept in their places (BT.601 full range, docs/design.md §5)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from critnet.pipeline.colour import rgb_to_ycbcr, ycbcr_to_rgb
from critnet.pipeline.fusion import fuse_tensors


class Average(nn.Module):
    """A stand-in network: the mean of its two inputs (records them)."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))
        self.inputs: tuple[Tensor, Tensor] | None = None

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        self.inputs = (ir, vis)
        return 0.5 * (ir + vis)


def mild_colour_image(seed: int) -> tuple[Tensor, Tensor]:
    """A 1×3×H×W RGB image with Y in [0.3, 0.7] and Cb ≠ Cr, both within 0.5 ± 0.08 (in gamut),
    and its YCbCr."""
    g = torch.Generator().manual_seed(seed)
    y = 0.3 + 0.4 * torch.rand(1, 1, 9, 11, generator=g)
    cb = 0.42 + 0.16 * torch.rand(1, 1, 9, 11, generator=g)
    cr = 0.58 - 0.16 * torch.rand(1, 1, 9, 11, generator=g)
    ycc = torch.cat([y, cb, cr], dim=1)
    return ycbcr_to_rgb(ycc), ycc


def test_colour_fusion_fuses_y_and_keeps_cb_cr():
    rgb, ycc = mild_colour_image(0)
    ir = torch.rand(1, 1, 9, 11, generator=torch.Generator().manual_seed(1))
    net = Average()
    fused = fuse_tensors(net, ir, rgb)
    torch.testing.assert_close(net.inputs[0], ir)
    torch.testing.assert_close(net.inputs[1], ycc[:, :1], rtol=1e-5, atol=1e-5)
    out = rgb_to_ycbcr(fused)
    torch.testing.assert_close(out[:, :1], 0.5 * (ir + ycc[:, :1]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out[:, 1:], ycc[:, 1:], rtol=1e-5, atol=1e-5)


def test_colour_ir_is_reduced_to_its_luma():
    rgb, ycc = mild_colour_image(2)
    vis = torch.rand(1, 1, 9, 11, generator=torch.Generator().manual_seed(3))
    net = Average()
    fuse_tensors(net, rgb, vis)
    torch.testing.assert_close(net.inputs[0], ycc[:, :1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(net.inputs[1], vis)
