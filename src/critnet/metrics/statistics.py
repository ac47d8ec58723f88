"""Fused-image statistics (no reference to the sources): SD, SF, SF_tang, AG, EI.

Inputs: a :class:`~critnet.metrics.prepare.FusionTriple` (float64 ``(H, W)`` planes, 0..255).
Definitions: METRICS.md §1 (VIFB) and §3 (SF_tang). A constant fused image gives 0 for all.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from critnet.metrics.prepare import FusionTriple

_SOBEL = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])


def standard_deviation(t: FusionTriple) -> float:
    """SD (VIFB ``metricsVariance``): population standard deviation of F, 0..127.5."""
    f = t.fused
    return float(np.sqrt(np.sum((f - f.mean()) ** 2) / f.size))


def _squared_differences(f: np.ndarray) -> tuple[float, float]:
    """(Σ horizontal neighbour diff², Σ vertical neighbour diff²)."""
    return float(np.sum(np.diff(f, axis=1) ** 2)), float(np.sum(np.diff(f, axis=0) ** 2))


def spatial_frequency_plane(f: np.ndarray) -> float:
    """VIFB SF of one ``(H, W)`` array: ``sqrt((Σ row diff² + Σ column diff²) / (H·W))``.

    VIFB's colour mode passes the channels folded side by side as one ``(H, 3W)`` array
    (METRICS.md §1, SF), which is why this takes a bare array.
    """
    rows, cols = _squared_differences(f)
    return float(np.sqrt((rows + cols) / f.size))


def spatial_frequency(t: FusionTriple) -> float:
    """SF (VIFB ``metricsSpatial_frequency``): both sums divided by N = H·W; 0..255·√2."""
    return spatial_frequency_plane(t.fused)


def spatial_frequency_tang(t: FusionTriple) -> float:
    """SF_tang (Tang ``SF_evaluation``, 2023, 0–255 scale): each mean over its own count,
    ``sqrt(Σ row diff² / (H(W-1)) + Σ column diff² / ((H-1)W))``. Tang's 2022 tables are
    this value divided by 255."""
    h, w = t.shape
    rows, cols = _squared_differences(t.fused)
    return float(np.sqrt(rows / (h * (w - 1)) + cols / ((h - 1) * w)))


def average_gradient(t: FusionTriple) -> float:
    """AG (VIFB ``metricsAvg_gradient``): ``Σ sqrt((gx² + gy²)/2) / ((H-1)(W-1))`` with MATLAB
    ``gradient`` (central differences, one-sided at the borders); the sum covers all pixels."""
    gy, gx = np.gradient(t.fused)
    h, w = t.shape
    return float(np.sum(np.sqrt((gx * gx + gy * gy) / 2.0)) / ((h - 1) * (w - 1)))


def edge_intensity(t: FusionTriple) -> float:
    """EI (VIFB ``metricsEdge_intensity``): mean Sobel magnitude, ``imfilter`` with replicated
    borders."""
    gx = ndimage.correlate(t.fused, _SOBEL, mode="nearest")
    gy = ndimage.correlate(t.fused, _SOBEL.T, mode="nearest")
    return float(np.mean(np.sqrt(gx * gx + gy * gy)))
