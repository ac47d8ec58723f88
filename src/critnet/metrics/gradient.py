"""Gradient-based edge-transfer metrics: Qabf (VIFB), Qabf_tang and Nabf (Tang).

Inputs: a :class:`~critnet.metrics.prepare.FusionTriple` (float64 ``(H, W)`` planes of integer
gray levels 0..255). Definitions: METRICS.md §1 (Qabf) and §3 (Qabf_tang, Nabf_tang).
"""

from __future__ import annotations

import numpy as np

from critnet.metrics.filters import sobel_zero
from critnet.metrics.prepare import FusionTriple

# Xydeas–Petrovic constants (VIFB metricsQabf / Tang analysis_Qabf).
_TG, _KG, _DG = 0.9994, -15.0, 0.5
_TA, _KA, _DA = 0.9879, -22.0, 0.8


def edge_strength_orientation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Qabf edge map of an ``(H, W)`` image: zero-padded Sobel, ``g = sqrt(sx² + sy²)`` and
    ``α = atan(sy/sx)`` in (-π/2, π/2], with ``α = π/2`` wherever ``sx = 0``."""
    sx, sy = sobel_zero(x)
    g = np.sqrt(sx * sx + sy * sy)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(sx == 0, np.pi / 2, np.arctan(sy / np.where(sx == 0, 1.0, sx)))
    return g, alpha


def _edge_map(t: FusionTriple, which: str) -> tuple[np.ndarray, np.ndarray]:
    if which == "fused":
        return t.cached("qabf_edges_fused", lambda: edge_strength_orientation(t.fused))
    return t.cached(("qabf_edges", which),
                    lambda: edge_strength_orientation(t.source(which)), sources_only=True)


def preservation(g_s: np.ndarray, a_s: np.ndarray, g_f: np.ndarray, a_f: np.ndarray,
                 equal_scale: float) -> np.ndarray:
    """Per-pixel edge preservation ``Q^{SF} = Qg·Qa`` (Xydeas–Petrovic), ``(H, W)`` in [0, 1).

    ``G = g_F/g_S`` if ``g_S > g_F``, ``g_S/g_F`` if ``g_S < g_F``, and the reference quirk
    ``G = equal_scale · g_F`` where they are exactly equal (VIFB's ×255 scaling: 255;
    Tang 2023: 1; Tang 2022 on [0, 1] images: 1/255).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(g_s > g_f, g_f / g_s, g_s / g_f)
    strength = np.where(g_s == g_f, equal_scale * g_f, ratio)
    orientation = 1.0 - np.abs(a_s - a_f) / (np.pi / 2)
    q_g = _TG / (1.0 + np.exp(_KG * (strength - _DG)))
    q_a = _TA / (1.0 + np.exp(_KA * (orientation - _DA)))
    return q_g * q_a


def qabf_scaled(t: FusionTriple, equal_scale: float) -> float:
    """Qabf with an explicit equality-branch scale (see :func:`preservation`)."""
    g_f, a_f = _edge_map(t, "fused")
    num = den = 0.0
    for which in ("vis", "ir"):
        g_s, a_s = _edge_map(t, which)
        q = preservation(g_s, a_s, g_f, a_f, equal_scale)
        num += float(np.sum(q * g_s))
        den += float(np.sum(g_s))
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.float64(num) / np.float64(den))


def qabf(t: FusionTriple) -> float:
    """Qabf (VIFB ``metricsQabf``): ``Σ (Q^{AF} g_A + Q^{BF} g_B) / Σ (g_A + g_B)``, range [0, 1).

    Zero-padded Sobel (the image frame counts as an edge), no angle wrap-around, and VIFB's
    ×255 scaling, under which an exact strength match ``g_S = g_F`` gives ``Qg = Tg``.
    NaN only if both sources are entirely zero.
    """
    return qabf_scaled(t, 255.0)


def qabf_tang(t: FusionTriple) -> float:
    """Qabf_tang (Tang 2023 ``analysis_Qabf`` on 0–255 doubles): as :func:`qabf` without the
    ×255 step, so an exact match with ``g = 1`` scores ``Qg = Tg/(1+e^{-7.5})``."""
    return qabf_scaled(t, 1.0)


def _nabf_edges(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kumar's Sobel (÷8, mirror padding without edge repeat): (g, α), ``(H, W)`` each."""
    p = np.pad(x, 1, mode="reflect")
    left, mid, right = p[:, :-2], p[:, 1:-1], p[:, 2:]
    horiz = right - left
    gv = (horiz[:-2] + 2.0 * horiz[1:-1] + horiz[2:]) / 8.0
    smooth = left + 2.0 * mid + right
    gh = (smooth[2:] - smooth[:-2]) / 8.0
    g = np.sqrt(gh * gh + gv * gv)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.arctan(gv / gh)
    alpha[(gv == 0) & (gh == 0)] = 0.0
    return g, alpha


def nabf(t: FusionTriple) -> float:
    """Nabf (Tang ``analysis_nabf``: Kumar's modified fusion-artifact measure), lower is better.

    Range [0, 1]. ``Σ n·((1-Q^{AF}) w_A + (1-Q^{BF}) w_B) / Σ (w_A + w_B)`` where n = 1 where
    F's edge is stronger than both sources', ``w = g^1.5`` for ``g ≥ 2`` else 0.001, and
    ``Q^{SF} = sqrt(Qg·Qa)`` with Kumar's constants (METRICS.md §3).
    """
    g_f, a_f = t.cached("nabf_edges_fused", lambda: _nabf_edges(t.fused))
    artifact = np.ones(t.shape, dtype=bool)
    loss = np.zeros(t.shape)
    weight_sum = 0.0
    for which in ("ir", "vis"):
        g_s, a_s = t.cached(("nabf_edges", which), lambda w=which: _nabf_edges(t.source(w)),
                            sources_only=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(g_s > g_f, g_f / g_s, g_s / g_f)
        ratio[(g_s == 0) | (g_f == 0)] = 0.0
        a_sf = np.abs(np.abs(a_s - a_f) - np.pi / 2) * 2.0 / np.pi
        q_g = 0.9999 / (1.0 + np.exp(-19.0 * (ratio - 0.5)))
        q_a = 0.9995 / (1.0 + np.exp(-22.0 * (a_sf - 0.5)))
        w = np.where(g_s >= 2.0, g_s ** 1.5, 0.001)
        loss += (1.0 - np.sqrt(q_g * q_a)) * w
        weight_sum += float(np.sum(w))
        artifact &= g_f > g_s
    return float(np.sum(loss[artifact])) / weight_sum
