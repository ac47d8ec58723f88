"""Colour for fusion: BT.601 full-range YCbCr (the conversion PIL's ``"YCbCr"`` mode and JPEG
use). A colour visible image is fused on its Y channel and keeps its Cb/Cr (docs/design.md §5)."""

from __future__ import annotations

import torch
from torch import Tensor

# BT.601 full range (JFIF), as PIL: rows give Y, Cb, Cr from R, G, B; Cb/Cr offset by 0.5.
_RGB_TO_YCBCR = torch.tensor([
    [0.299, 0.587, 0.114],
    [-0.168736, -0.331264, 0.5],
    [0.5, -0.418688, -0.081312],
])
_YCBCR_TO_RGB = torch.tensor([
    [1.0, 0.0, 1.402],
    [1.0, -0.344136, -0.714136],
    [1.0, 1.772, 0.0],
])


def rgb_to_ycbcr(rgb: Tensor) -> Tensor:
    """BT.601 full-range YCbCr (PIL's / JPEG's).

    Args:
        rgb: B×3×H×W in [0, 1].

    Returns:
        B×3×H×W: Y in [0, 1], Cb and Cr in [0, 1] (0.5 = no chroma).
    """
    m = _RGB_TO_YCBCR.to(rgb)
    ycc = torch.einsum("ij,bjhw->bihw", m, rgb)
    return ycc.add_(torch.tensor([0.0, 0.5, 0.5]).to(rgb).view(1, 3, 1, 1))


def ycbcr_to_rgb(ycc: Tensor, *, inplace: bool = False) -> Tensor:
    """Inverse of :func:`rgb_to_ycbcr`.

    Args:
        ycc: B×3×H×W (Y, Cb, Cr) in [0, 1].
        inplace: centre ``ycc`` in place (it is then no longer YCbCr) instead of copying it:
            one full-frame copy fewer, for callers that drop ``ycc`` afterwards.

    Returns:
        B×3×H×W RGB, **not** clipped (clip for display; out-of-gamut values fall outside [0, 1]).
    """
    offset = torch.tensor([0.0, 0.5, 0.5]).to(ycc).view(1, 3, 1, 1)
    centred = ycc.sub_(offset) if inplace else ycc - offset
    return torch.einsum("ij,bjhw->bihw", _YCBCR_TO_RGB.to(ycc), centred)


def luma(image: Tensor) -> Tensor:
    """B×1×H×W grey version of a B×1×H×W or B×3×H×W image (BT.601 Y for colour)."""
    if image.shape[1] == 1:
        return image
    return rgb_to_ycbcr(image)[:, :1]
