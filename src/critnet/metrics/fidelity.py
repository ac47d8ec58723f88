"""Pixel-fidelity and correlation metrics: PSNR, RMSE (VIFB), PSNR_tang, CC, SCD.

Inputs: a :class:`~critnet.metrics.prepare.FusionTriple` (float64 ``(H, W)`` planes, 0..255).
Definitions: METRICS.md §1 (PSNR, RMSE — both with VIFB's ``sqrt(SSE)/N`` quirk), §2 (CC,
SCD from Tang's Evaluation code) and §3 (PSNR_tang).
"""

from __future__ import annotations

import numpy as np

from critnet.metrics.prepare import FusionTriple


def _vifb_error(t: FusionTriple) -> float:
    """VIFB's ``E = (e(VIS,F) + e(IR,F)) / 2`` with ``e = sqrt(Σ (S-F)²) / N`` (not an MSE)."""
    def compute() -> float:
        n = t.fused.size
        errors = [np.sqrt(np.sum((s - t.fused) ** 2)) / n for s in (t.vis, t.ir)]
        return float((errors[0] + errors[1]) / 2.0)
    return t.cached("vifb_error", compute)


def rmse(t: FusionTriple) -> float:
    """RMSE (VIFB ``metricsRmse``), lower is better: ``(e(VIS,F) + e(IR,F)) / 2`` with
    ``e = sqrt(SSE)/N`` — i.e. the usual RMSE divided by √N (values ~0.05–0.2)."""
    return _vifb_error(t)


def psnr(t: FusionTriple) -> float:
    """PSNR (VIFB ``metricsPsnr``): ``20·log10(255 / sqrt(E))`` with E as in :func:`rmse`
    (values ~55–65 dB). ``inf`` when F equals both sources."""
    error = _vifb_error(t)
    with np.errstate(divide="ignore"):
        return float(20.0 * np.log10(255.0 / np.sqrt(error)))


def psnr_tang(t: FusionTriple) -> float:
    """PSNR_tang (Tang ``PSNR_evaluation``): ``MSE = ½·mean((F-IR)²) + ½·mean((F-VIS)²)`` on the
    [0, 1] scale and ``20·log10(255 / sqrt(MSE))`` — the standard PSNR + 20·log10(255) dB."""
    f = t.fused / 255.0
    mse = 0.5 * np.mean((f - t.ir / 255.0) ** 2) + 0.5 * np.mean((f - t.vis / 255.0) ** 2)
    with np.errstate(divide="ignore"):
        return float(20.0 * np.log10(255.0 / np.sqrt(mse)))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """MATLAB ``corr2``: Pearson correlation over all pixels; NaN when either is constant."""
    dx, dy = x - x.mean(), y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.sum(dx * dy) / np.sqrt(np.sum(dx * dx) * np.sum(dy * dy)))


def correlation_coefficient(t: FusionTriple) -> float:
    """CC (Tang ``CC_evaluation``): ``(r(IR, F) + r(VIS, F)) / 2``, range [-1, 1]; NaN for a
    constant F."""
    return (_pearson(t.ir, t.fused) + _pearson(t.vis, t.fused)) / 2.0


def scd(t: FusionTriple) -> float:
    """SCD (Tang ``analysis_SCD``, Aslantas & Bendes 2015): sum of correlations of differences,
    ``corr2(F - VIS, IR) + corr2(F - IR, VIS)``, range [-2, 2]."""
    return _pearson(t.fused - t.vis, t.ir) + _pearson(t.fused - t.ir, t.vis)
