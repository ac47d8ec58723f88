"""Saliency maps and the intensity-loss weights ω_ir, ω_vis (docs/design.md §2; paper Eq. 13,
refs 35–37).

Histogram contrast: a grey level's saliency is its summed distance to all pixels of the image,
``S(i) = Σ_j hist(j)·|i − j|``, divided by its maximum. It is a global property of the image, so
it is computed once on the whole uint8 image (before any crop) and looked up per pixel.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

SaliencyWeights = Literal["difference", "ratio", "steep", "local_contrast", "salient_contrast"]
#: The modes of :func:`saliency_weights` that need only the saliency maps; the others also read
#: the images (:func:`contrast_weights`).
SALIENCY_ONLY = ("difference", "ratio", "steep")
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
    s_ir: Tensor, s_vis: Tensor, mode: SaliencyWeights = "difference", eps: float = 1e-6,
    steepness: float = 8.0,
) -> tuple[Tensor, Tensor]:
    """Weight maps ``(ω_ir, ω_vis)`` of Eq. 13 from two saliency maps (any equal shapes, [0, 1]).

    Modes:
        ``difference`` (default, released code): ``ω_ir = 0.5 + 0.5·(S_ir − S_vis)``;
        ``ratio``: ``ω_ir = S_ir / (S_ir + S_vis + ε)``;
        ``steep`` (beyond the paper, issue 23): ``ω_ir = sigmoid(steepness·(S_ir − S_vis))``,
        near 0 or 1 wherever the saliencies differ, instead of ≈ 0.5.
        In all, ``ω_vis = 1 − ω_ir`` and ``ω_ir ∈ [0, 1]``. (The paper prints
        ``S_ir / (S_ir − S_vis)``, a typo: unbounded and sign-changing.)
    """
    if mode == "difference":
        w_ir = 0.5 + 0.5 * (s_ir - s_vis)
    elif mode == "ratio":
        w_ir = s_ir / (s_ir + s_vis + eps)
    elif mode == "steep":
        w_ir = torch.sigmoid(steepness * (s_ir - s_vis))
    else:
        raise ValueError(f"saliency_weights must be one of {SALIENCY_ONLY}, got {mode!r}")
    return w_ir, 1.0 - w_ir


def local_std(image: Tensor, window: int = 7) -> Tensor:
    """Per-pixel standard deviation of B×1×H×W ``image`` over a ``window``×``window``
    neighbourhood (reflect border)."""
    pad = window // 2
    padded = F.pad(image, (pad, pad, pad, pad), mode="reflect")
    mean = F.avg_pool2d(padded, window, stride=1)
    mean_sq = F.avg_pool2d(padded * padded, window, stride=1)
    return (mean_sq - mean * mean).clamp_min(0.0).sqrt()


def contrast_weights(ir: Tensor, vis: Tensor, s_ir: Tensor, s_vis: Tensor,
                     mode: SaliencyWeights, eps: float = 1e-6) -> tuple[Tensor, Tensor]:
    """Weights towards the source with more local contrast (beyond the paper, issue 23):
    ``local_contrast``: ``ω_ir = σ_ir / (σ_ir + σ_vis + ε)`` with ``σ`` the 7×7 local standard
    deviation (:func:`local_std`); ``salient_contrast``: ``ω_ir = S_ir·σ_ir / (S_ir·σ_ir +
    S_vis·σ_vis + ε)``, contrast where it is salient. ``ω_vis = 1 − ω_ir``."""
    c_ir, c_vis = local_std(ir), local_std(vis)
    if mode == "salient_contrast":
        c_ir, c_vis = s_ir * c_ir, s_vis * c_vis
    elif mode != "local_contrast":
        raise ValueError(f"contrast weights are local_contrast or salient_contrast, got {mode!r}")
    w_ir = c_ir / (c_ir + c_vis + eps)
    return w_ir, 1.0 - w_ir

