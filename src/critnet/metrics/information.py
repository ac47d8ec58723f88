"""Histogram (information-theoretic) metrics: EN, CE, MI (VIFB) and MI_tang.

Inputs: a :class:`~critnet.metrics.prepare.FusionTriple` (float64 ``(H, W)`` planes of integer
gray levels 0..255). Definitions: METRICS.md §1 (EN, CE, MI) and §3 (MI_tang).
"""

from __future__ import annotations

import numpy as np

from critnet.metrics.prepare import FusionTriple, matlab_round


def _hist256(x: np.ndarray) -> np.ndarray:
    return np.bincount(np.floor(x).astype(np.intp).ravel(), minlength=256)[:256].astype(np.float64)


def _hist(t: FusionTriple, which: str) -> np.ndarray:
    if which == "fused":
        return t.cached("hist_fused", lambda: _hist256(t.fused))
    return t.cached(("hist", which), lambda: _hist256(t.source(which)), sources_only=True)


def _entropy(p: np.ndarray, log: np.ufunc) -> float:
    nz = p[p > 0]
    return float(-np.sum(nz * log(nz)))


def entropy(t: FusionTriple) -> float:
    """EN (VIFB ``metricsEntropy``): Shannon entropy of the fused image's 256-bin histogram, bits.

    Range [0, 8]; uses only the fused image. A constant fused image gives ``-0.0``.
    """
    return _entropy(_hist(t, "fused") / t.fused.size, np.log2)


def cross_entropy(t: FusionTriple) -> float:
    """CE (VIFB ``metricsCross_entropy``), lower is better; mean over the two sources.

    ``CE(S, F) = Σ P_S log2(P_S / P_F)`` over bins where both histograms (each divided by the
    pixel count of S) are non-zero; bins empty in F are skipped, so CE can be negative.
    """
    values = []
    n = t.fused.size
    pf = _hist(t, "fused") / n
    for which in ("vis", "ir"):
        ps = _hist(t, which) / n
        both = (ps > 0) & (pf > 0)
        values.append(float(np.sum(ps[both] * np.log2(ps[both] / pf[both]))))
    return (values[0] + values[1]) / 2.0


def _stretch_quantise(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    stretched = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    return matlab_round(255.0 * stretched).astype(np.intp)


def _joint_entropies(a: np.ndarray, b: np.ndarray, log: np.ufunc) -> tuple[float, float, float]:
    """(H(a), H(b), H(a, b)) from a 256×256 joint histogram of integer arrays in 0..255."""
    joint = np.bincount((a * 256 + b).ravel(), minlength=65536).reshape(256, 256)
    p = joint / a.size
    return (_entropy(p.sum(axis=1), log), _entropy(p.sum(axis=0), log), _entropy(p.ravel(), log))


def mutual_information(t: FusionTriple) -> float:
    """MI (VIFB ``metricsMutinf``): ``MI(VIS, F) + MI(IR, F)`` in **nats** (sum, not mean).

    Each image is min–max stretched to [0, 1] (a constant image becomes zeros) and quantised
    to ``round(255·x)`` before the 256×256 joint histogram. Range [0, 2·ln 256].
    """
    qf = t.cached("mi_q_fused", lambda: _stretch_quantise(t.fused))
    total = 0.0
    for which in ("vis", "ir"):
        qs = t.cached(("mi_q", which), lambda w=which: _stretch_quantise(t.source(w)),
                      sources_only=True)
        hs, hf, hsf = _joint_entropies(qs, qf, np.log)
        total += hs + hf - hsf
    return total


def mutual_information_tang(t: FusionTriple) -> float:
    """MI_tang (Tang ``MI_evaluation`` + ``Hab``): ``MI(IR, F) + MI(VIS, F)`` in **bits**.

    No stretching. Marginal entropies from the plain 256-bin histograms; the joint histogram
    uses ``uint8(value + 1)`` indices, which saturate, so levels 254 and 255 share a joint bin
    (METRICS.md §3). Hence a constant F can score > 0 when a source contains 254/255.
    """
    n = t.fused.size
    hf = _entropy(_hist(t, "fused") / n, np.log2)
    qf = np.minimum(t.fused, 254).astype(np.intp)
    total = 0.0
    for which in ("ir", "vis"):
        hs = _entropy(_hist(t, which) / n, np.log2)
        qs = t.cached(("mi_tang_q", which), lambda w=which: np.minimum(t.source(w), 254)
                      .astype(np.intp), sources_only=True)
        _, _, hfs = _joint_entropies(qf, qs, np.log2)
        total += hs + hf - hfs
    return total
