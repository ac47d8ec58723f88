"""Human-visual-system metrics with contrast-sensitivity filtering: Qcb (Chen–Blum) and Qcv
(Chen–Varshney), as in VIFB = Zheng Liu's ``metricChenBlum`` / ``metricChen``.

Inputs: a :class:`~critnet.metrics.prepare.FusionTriple` (float64 ``(H, W)`` planes, 0..255).
Definitions: METRICS.md §1 (Qcb, Qcv). Both first normalise each image to rounded 0..255, so
a constant fused image (max = min ≠ 0) gives NaN, as in the reference.
"""

from __future__ import annotations

import numpy as np

from critnet.metrics.filters import (
    block_sum,
    correlate_same_zero,
    filter_frequency,
    freqspace_radius,
    sobel_zero,
)
from critnet.metrics.prepare import FusionTriple, matlab_round


def normalise_255(x: np.ndarray) -> np.ndarray:
    """Liu's ``normalize1``: ``round(255·(x - min)/(max - min))``; an all-zero image is returned
    unchanged; any other constant image becomes all-NaN (0/0), as in MATLAB."""
    lo, hi = float(x.min()), float(x.max())
    if lo == 0.0 and hi == 0.0:
        return x.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return matlab_round((x - lo) / (hi - lo) * 255.0)


def _normalised(t: FusionTriple, which: str) -> np.ndarray:
    if which == "fused":
        return t.cached("norm_fused", lambda: normalise_255(t.fused))
    return t.cached(("norm", which), lambda: normalise_255(t.source(which)), sources_only=True)


# --- Qcb ---------------------------------------------------------------------------------

_F0, _F1, _A = 15.3870, 1.3456, 0.7622
_GAUSS_X = np.arange(-15, 16, dtype=np.float64)


def _gauss_factors(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Liu's unnormalised 31×31 Gaussian ``exp(-(x²+y²)/(2σ²)) / (2πσ²)`` as two 1-D factors."""
    g = np.exp(-(_GAUSS_X ** 2) / (2.0 * sigma * sigma))
    return g / (2.0 * np.pi * sigma * sigma), g


_G2, _G4 = _gauss_factors(2.0), _gauss_factors(4.0)


def _masked_contrast(x: np.ndarray) -> np.ndarray:
    """C' = C³/(C² + 1e-4) with C = |G2 ⋆ I / G4 ⋆ I - 1| on the CSF-filtered image I."""
    h, w = x.shape
    csf_r = freqspace_radius((h, w), h / 30.0, w / 30.0)
    csf = np.exp(-((csf_r / _F0) ** 2)) - _A * np.exp(-((csf_r / _F1) ** 2))
    filtered = filter_frequency(x, csf)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.abs(correlate_same_zero(filtered, *_G2) / correlate_same_zero(filtered, *_G4)
                   - 1.0)
        return c ** 3 / (c ** 2 + 1e-4)


def qcb(t: FusionTriple) -> float:
    """Qcb (VIFB ``metricsQcb`` = Liu ``metricChenBlum``), range [0, 1].

    Mean over pixels of ``λ_A·Q_AF + λ_B·Q_BF`` with contrast-preservation ratios ``Q_SF`` of
    masked contrasts and saliency weights ``λ_S = C'_S² / (C'_A² + C'_B²)``. The two ratios are
    blended with a 0/1 mask as in the reference, so an exact zero contrast gives NaN there.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        cf = t.cached("qcb_contrast_fused", lambda: _masked_contrast(_normalised(t, "fused")))
        contrasts = [t.cached(("qcb_contrast", w), lambda w=w: _masked_contrast(_normalised(t, w)),
                              sources_only=True) for w in ("vis", "ir")]
        total = contrasts[0] ** 2 + contrasts[1] ** 2
        quality = np.zeros(t.shape)
        for cs in contrasts:
            mask = (cs < cf).astype(np.float64)
            q_sf = (cs / cf) * mask + (cf / cs) * (1.0 - mask)
            quality += (cs * cs) / total * q_sf
        return float(np.mean(quality))


# --- Qcv ---------------------------------------------------------------------------------

_QCV_ALPHA = 5
_QCV_BLOCK = 16


def _edge_magnitude(x: np.ndarray) -> np.ndarray:
    sx, sy = sobel_zero(x)
    return np.sqrt(sx * sx + sy * sy)


def _mannos_sakrison(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    r = freqspace_radius(shape, h / 8.0, w / 8.0)
    return 2.6 * (0.0192 + 0.144 * r) * np.exp(-((0.144 * r) ** 1.1))


def qcv(t: FusionTriple) -> float:
    """Qcv (VIFB ``metricsQcv`` = Liu ``metricChen``), **lower is better**, values ~10²–10³.

    ``Σ_blocks (λ_A D_A + λ_B D_B) / Σ_blocks (λ_A + λ_B)`` over 16×16 blocks, with saliency
    ``λ_S = Σ_block |∇S|⁵`` (Sobel on the normalised source) and ``D_S = Σ_block d_S² / 256``
    where ``d_S`` is the Mannos–Sakrison CSF-filtered difference of normalised S and F.
    NaN for a constant F or flat sources.
    """
    f = _normalised(t, "fused")
    csf = _mannos_sakrison(t.shape)
    num = np.zeros(())
    den = np.zeros(())
    for which in ("vis", "ir"):
        s = _normalised(t, which)
        saliency = t.cached(("qcv_saliency", which),
                            lambda s=s: block_sum(_edge_magnitude(s) ** _QCV_ALPHA, _QCV_BLOCK),
                            sources_only=True)
        d = filter_frequency(s - f, csf)
        distortion = block_sum(d * d, _QCV_BLOCK) / (_QCV_BLOCK * _QCV_BLOCK)
        num = num + np.sum(saliency * distortion)
        den = den + np.sum(saliency)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(num / den)
