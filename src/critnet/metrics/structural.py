"""Structural similarity metrics: SSIM (VIFB, sum of two) and VIF (LIVE multiscale, Tang).

Inputs: a :class:`~critnet.metrics.prepare.FusionTriple` (float64 ``(H, W)`` planes, 0..255).
Definitions: METRICS.md §1 (SSIM) and §3 (VIF_tang).
"""

from __future__ import annotations

import numpy as np

from critnet.metrics.filters import correlate_valid, fspecial_gaussian
from critnet.metrics.prepare import FusionTriple

_SSIM_WINDOW = fspecial_gaussian(11, 1.5)
_C1 = (0.01 * 255.0) ** 2
_C2 = (0.03 * 255.0) ** 2


def _local_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = correlate_valid(x, _SSIM_WINDOW)
    return mu, correlate_valid(x * x, _SSIM_WINDOW) - mu * mu


def _ssim_from_moments(x: np.ndarray, y: np.ndarray, mu_x: np.ndarray, var_x: np.ndarray,
                       mu_y: np.ndarray, var_y: np.ndarray) -> float:
    """Mean SSIM of two ``(H, W)`` 0–255 arrays from their local moments, VIFB's settings:
    11×11 Gaussian window (σ = 1.5), 'valid' filtering (map ``(H-10, W-10)``),
    C1 = (0.01·255)², C2 = (0.03·255)²."""
    cov = correlate_valid(x * y, _SSIM_WINDOW) - mu_x * mu_y
    num = (2.0 * mu_x * mu_y + _C1) * (2.0 * cov + _C2)
    den = (mu_x * mu_x + mu_y * mu_y + _C1) * (var_x + var_y + _C2)
    return float(np.mean(num / den))


def ssim(t: FusionTriple) -> float:
    """SSIM (VIFB ``metricsSsim``): ``ssim(VIS, F) + ssim(IR, F)``, range up to 2 (typically
    1.2–1.6). Images smaller than 11×11 give NaN (empty map)."""
    if min(t.shape) < 11:
        return float("nan")
    mu_f, var_f = t.cached("ssim_moments_fused", lambda: _local_moments(t.fused))
    total = 0.0
    for which in ("vis", "ir"):
        s = t.source(which)
        mu_s, var_s = t.cached(("ssim_moments", which), lambda s=s: _local_moments(s),
                               sources_only=True)
        total += _ssim_from_moments(s, t.fused, mu_s, var_s, mu_f, var_f)
    return total


def vifp_mscale(ref: np.ndarray, dist: np.ndarray, sigma_nsq: float = 2.0) -> float:
    """LIVE pixel-domain multiscale VIF of ``dist`` against ``ref`` (both ``(H, W)``, 0–255).

    Four scales; at scale s (1..4) a Gaussian window of size N = 2^(5-s)+1, σ = N/5, 'valid'
    filtering, and from scale 2 on a filter + 2× decimation of both images. Returns NaN when
    the image is too small for the last scale (the reference would fail).
    """
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        win = fspecial_gaussian(n, n / 5.0)
        if scale > 1:
            ref = correlate_valid(ref, win)[::2, ::2]
            dist = correlate_valid(dist, win)[::2, ::2]
        if min(ref.shape) < n:
            return float("nan")
        mu1, mu2 = correlate_valid(ref, win), correlate_valid(dist, win)
        sigma1_sq = np.maximum(correlate_valid(ref * ref, win) - mu1 * mu1, 0.0)
        sigma2_sq = np.maximum(correlate_valid(dist * dist, win) - mu2 * mu2, 0.0)
        sigma12 = correlate_valid(ref * dist, win) - mu1 * mu2

        g = sigma12 / (sigma1_sq + 1e-10)
        sv_sq = sigma2_sq - g * sigma12
        flat1 = sigma1_sq < 1e-10
        g[flat1] = 0.0
        sv_sq[flat1] = sigma2_sq[flat1]
        sigma1_sq[flat1] = 0.0
        flat2 = sigma2_sq < 1e-10
        g[flat2] = 0.0
        sv_sq[flat2] = 0.0
        negative = g < 0
        sv_sq[negative] = sigma2_sq[negative]
        g[negative] = 0.0
        sv_sq[sv_sq <= 1e-10] = 1e-10

        num += float(np.sum(np.log10(1.0 + g * g * sigma1_sq / (sv_sq + sigma_nsq))))
        den += float(np.sum(np.log10(1.0 + sigma1_sq / sigma_nsq)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.float64(num) / np.float64(den))


def vif(t: FusionTriple) -> float:
    """VIF (Tang ``vifp_mscale(IR, F) + vifp_mscale(VIS, F)``, double precision 0–255 inputs).

    Range about [0, 2] (can exceed 1 per term for contrast-enhanced F). NaN when a source
    is flat (0/0) or the image is smaller than about 40×40.
    """
    return vifp_mscale(t.ir, t.fused) + vifp_mscale(t.vis, t.fused)
