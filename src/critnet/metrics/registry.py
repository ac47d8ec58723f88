"""The metric registry: every metric by its exact name, with metadata, and one entry point
(:func:`compute_metrics`) that computes a list of metrics on one image triple sharing work."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from critnet.errors import InputError
from critnet.metrics import fidelity, gradient, information, perceptual, statistics, structural
from critnet.metrics.prepare import FusionTriple, to_planes_uint8, vifb_channel_triples

VIFB = "VIFB (xingchenzhang/VIFB @ 22b2ea9, metrics/)"
TANG = "Tang Evaluation-for-Image-Fusion (2023 analysis_Reference)"


@dataclass(frozen=True)
class Metric:
    """One fusion metric and its metadata.

    Attributes:
        name: exact registry name (``"Qabf"``, ``"MI_tang"``...).
        compute: ``FusionTriple -> float``.
        lower_better: ``True`` for CE, Qcv, RMSE, Nabf.
        typical_range: ``(low, high)`` of values seen on real fusion results (not a hard bound).
        reference: which toolbox (and function) the definition follows.
        description: one line.
        vifb_color: how VIFB's colour mode treats a 3-channel fused image: ``"channel_mean"``
            (per channel, averaged) or ``"folded"`` (SF: channels side by side as (H, 3W)).
    """

    name: str
    compute: Callable[[FusionTriple], float]
    lower_better: bool
    typical_range: tuple[float, float]
    reference: str
    description: str
    vifb_color: str = "channel_mean"

    @property
    def arrow(self) -> str:
        """``"↓"`` if lower is better, else ``"↑"``."""
        return "↓" if self.lower_better else "↑"


def _m(name: str, fn: Callable[[FusionTriple], float], lower: bool, rng: tuple[float, float],
       ref: str, desc: str, **kw: str) -> Metric:
    return Metric(name, fn, lower, rng, ref, desc, **kw)


METRICS: dict[str, Metric] = {m.name: m for m in [
    # The paper's six (Tables 2-4), in the paper's order.
    _m("CC", fidelity.correlation_coefficient, False, (0.3, 0.8), f"{TANG} CC_evaluation",
       "mean Pearson correlation of F with IR and VIS"),
    _m("EN", information.entropy, False, (5.0, 7.8), f"{VIFB} metricsEntropy",
       "entropy of F, bits"),
    _m("Qabf", gradient.qabf, False, (0.2, 0.8), f"{VIFB} metricsQabf",
       "Xydeas-Petrovic edge transfer Q^AB/F"),
    _m("Qcv", perceptual.qcv, True, (50.0, 2000.0), f"{VIFB} metricsQcv (Liu metricChen)",
       "Chen-Varshney HVS distortion"),
    _m("SCD", fidelity.scd, False, (0.5, 2.0), f"{TANG} analysis_SCD",
       "sum of the correlations of differences"),
    _m("SSIM", structural.ssim, False, (1.0, 1.8), f"{VIFB} metricsSsim",
       "SSIM(VIS,F) + SSIM(IR,F)"),
    # The rest of VIFB.
    _m("AG", statistics.average_gradient, False, (1.0, 12.0), f"{VIFB} metricsAvg_gradient",
       "average gradient of F"),
    _m("CE", information.cross_entropy, True, (0.2, 3.0), f"{VIFB} metricsCross_entropy",
       "mean cross-entropy of the source histograms against F's, bits"),
    _m("EI", statistics.edge_intensity, False, (10.0, 120.0), f"{VIFB} metricsEdge_intensity",
       "mean Sobel magnitude of F"),
    _m("MI", information.mutual_information, False, (0.5, 5.0), f"{VIFB} metricsMutinf",
       "MI(VIS,F) + MI(IR,F) after min-max stretching, nats"),
    _m("PSNR", fidelity.psnr, False, (55.0, 70.0), f"{VIFB} metricsPsnr",
       "VIFB PSNR (sqrt(SSE)/N error, ~60 dB)"),
    _m("Qcb", perceptual.qcb, False, (0.3, 0.7), f"{VIFB} metricsQcb (Liu metricChenBlum)",
       "Chen-Blum contrast preservation"),
    _m("RMSE", fidelity.rmse, True, (0.02, 0.3), f"{VIFB} metricsRmse",
       "VIFB RMSE (sqrt(SSE)/N)"),
    _m("SD", statistics.standard_deviation, False, (20.0, 70.0), f"{VIFB} metricsVariance",
       "standard deviation of F"),
    _m("SF", statistics.spatial_frequency, False, (3.0, 30.0),
       f"{VIFB} metricsSpatial_frequency", "spatial frequency of F (sums / H·W)",
       vifb_color="folded"),
    # Tang's Evaluation folder.
    _m("VIF", structural.vif, False, (0.3, 1.5), f"{TANG} vifp_mscale",
       "VIF(IR,F) + VIF(VIS,F), LIVE pixel-domain multiscale"),
    _m("Nabf", gradient.nabf, True, (0.0, 0.3), f"{TANG} analysis_nabf",
       "Kumar's modified fusion-artifact measure"),
    _m("MI_tang", information.mutual_information_tang, False, (1.0, 6.0),
       f"{TANG} MI_evaluation", "MI(IR,F) + MI(VIS,F), no stretching, bits"),
    _m("PSNR_tang", fidelity.psnr_tang, False, (58.0, 70.0), f"{TANG} PSNR_evaluation",
       "standard PSNR + 20·log10(255) dB"),
    _m("SF_tang", statistics.spatial_frequency_tang, False, (3.0, 30.0),
       f"{TANG} SF_evaluation", "spatial frequency of F (means over differences)"),
    _m("Qabf_tang", gradient.qabf_tang, False, (0.2, 0.8), f"{TANG} analysis_Qabf",
       "Qabf without VIFB's x255 step"),
]}

PAPER_METRICS: tuple[str, ...] = ("CC", "EN", "Qabf", "Qcv", "SCD", "SSIM")
ALL_METRICS: tuple[str, ...] = tuple(METRICS)


def get_metric(name: str) -> Metric:
    """The :class:`Metric` registered as ``name`` (exact, then case-insensitive match).

    Raises:
        InputError: unknown name (the message lists the known ones).
    """
    if name in METRICS:
        return METRICS[name]
    folded = {key.lower(): key for key in METRICS}
    if name.lower() in folded:
        return METRICS[folded[name.lower()]]
    raise InputError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")


def resolve_metric_names(spec: str | Iterable[str] | None) -> list[str]:
    """``None``/``"all"`` -> every metric; ``"paper"`` -> the paper's six; ``"CC,EN"`` or a list ->
    those names (canonical spelling, duplicates dropped, order kept)."""
    if spec is None:
        return list(ALL_METRICS)
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key == "all":
            return list(ALL_METRICS)
        if key == "paper":
            return list(PAPER_METRICS)
        spec = [part for part in spec.split(",") if part.strip()]
    names: list[str] = []
    for part in spec:
        name = get_metric(part.strip()).name
        if name not in names:
            names.append(name)
    if not names:
        raise InputError("no metric names given")
    return names


def compute_on_triple(triple: FusionTriple, names: Sequence[str]) -> dict[str, float]:
    """Metrics ``names`` on an already prepared gray :class:`FusionTriple` (shared cache)."""
    return {name: float(get_metric(name).compute(triple)) for name in names}


def compute_metrics(ir: np.ndarray, vis: np.ndarray, fused: np.ndarray,
                    names: str | Iterable[str] | None = None, *, mode: str = "gray"
                    ) -> dict[str, float]:
    """Compute several metrics on one image triple, sharing intermediate work.

    Args:
        ir, vis, fused: images of one size ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``; ``uint8``,
            ``uint16`` or float in [0, 1] (see :mod:`critnet.metrics.prepare`).
        names: metric names, ``"paper"``, ``"all"`` (default) or ``"CC,EN,..."``.
        mode: ``"gray"`` (default; every image converted to 8-bit gray with MATLAB
            ``rgb2gray``, the convention of Tang's toolbox and of the C-RITNet tables) or
            ``"vifb"`` (VIFB's colour mode: a 3-channel fused image is scored per channel
            against the matching source channel and the results averaged; SF folds the
            channels side by side. This reproduces VIFB's published numbers.)

    Returns:
        ``{name: value}`` in the order of ``names``; NaN where the reference gives NaN.

    Raises:
        InputError: unknown metric or mode, unsupported dtype/shape, or differing sizes.
    """
    names = resolve_metric_names(names)
    if mode == "gray":
        return compute_on_triple(FusionTriple.from_images(ir, vis, fused), names)
    if mode != "vifb":
        raise InputError(f"unknown metric mode {mode!r}; use 'gray' or 'vifb'")
    triples = list(vifb_channel_triples(ir, vis, fused))
    results: dict[str, float] = {}
    for name in names:
        metric = get_metric(name)
        if len(triples) > 1 and metric.vifb_color == "folded":
            planes = to_planes_uint8(fused).astype(np.float64)
            results[name] = statistics.spatial_frequency_plane(np.concatenate(list(planes), 1))
        else:
            results[name] = float(np.mean([metric.compute(t) for t in triples]))
    return results
