"""Saliency maps and the intensity-loss weights ω_ir, ω_vis (docs/design.md §2; paper Eq. 13,
refs 35–37).

Histogram contrast: a grey level's saliency is its summed distance to all pixels of the image,
``S(i) = Σ_j hist(j)·|i − j|``, divided by its maximum. It is a global property of the image, so
it is computed once on the whole uint8 image (before any crop) and looked up per pixel.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from torch import Tensor

SaliencyWeights = Literal["difference", "ratio"]
_LEVELS = np.arange(256, dtype=np.float64)
_DISTANCE = np.abs(_LEVELS[:, None] - _LEVELS[None, :])


def histogram_contrast(image: np.ndarray) -> np.ndarray:
    """Histogram-contrast saliency of a whole grey image.

    Args:
        image: H×W uint8 grey image (the full image, not a crop).

    Returns:
        H×W float32 saliency in [0, 1] (all zeros for a constant image).

    Example:
        >>> histogram_contrast(np.array([[0, 0, 255]], dtype=np.uint8))
        array([[0.5, 0.5, 1. ]], dtype=float32)
    """
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(f"expected an H×W uint8 image, got {image.dtype} {image.shape}")
    hist = np.bincount(image.ravel(), minlength=256).astype(np.float64)
    lut = _DISTANCE @ hist
    peak = lut[image].max()
    if peak > 0:
        lut = lut / peak
    else:
        lut = np.zeros_like(lut)
    return lut[image].astype(np.float32)


def saliency_weights(
    s_ir: Tensor, s_vis: Tensor, mode: SaliencyWeights = "difference", eps: float = 1e-6
) -> tuple[Tensor, Tensor]:
    """Weight maps ``(ω_ir, ω_vis)`` of Eq. 13 from two saliency maps (any equal shapes, [0, 1]).

    Modes:
        ``difference`` (default, released code): ``ω_ir = 0.5 + 0.5·(S_ir − S_vis)``;
        ``ratio``: ``ω_ir = S_ir / (S_ir + S_vis + ε)``.
        In both, ``ω_vis = 1 − ω_ir`` and ``ω_ir ∈ [0, 1]``. (The paper prints
        ``S_ir / (S_ir − S_vis)``, a typo: unbounded and sign-changing.)
    """
    if mode == "difference":
        w_ir = 0.5 + 0.5 * (s_ir - s_vis)
    elif mode == "ratio":
        w_ir = s_ir / (s_ir + s_vis + eps)
    else:
        raise ValueError(f"saliency_weights must be 'difference' or 'ratio', got {mode!r}")
    return w_ir, 1.0 - w_ir

