"""Image-fusion quality metrics that equal the reference MATLAB toolboxes (VIFB and Tang's
Evaluation code), number for number.

Quick use::

    from critnet.metrics import compute_metrics, METRICS
    scores = compute_metrics(ir, vis, fused, "paper")       # {"CC": ..., "EN": ..., ...}
    METRICS["Qcv"].lower_better                               # True

Each metric family lives in its own module (``information``, ``statistics``, ``fidelity``,
``structural``, ``gradient``, ``perceptual``); input conventions in ``prepare``.
See ``docs/metrics.md`` for definitions, conventions, NaN cases and measured agreement.
"""

from critnet.metrics.prepare import (
    FusionTriple,
    rgb2gray,
    to_gray_uint8,
    to_uint8,
    vifb_channel_triples,
)
from critnet.metrics.registry import (
    ALL_METRICS,
    METRICS,
    PAPER_METRICS,
    Metric,
    compute_metrics,
    compute_on_triple,
    get_metric,
    resolve_metric_names,
)
from critnet.metrics.retention import RING, signal_to_clutter, target_regions, target_retention

__all__ = [
    "ALL_METRICS",
    "METRICS",
    "PAPER_METRICS",
    "RING",
    "FusionTriple",
    "Metric",
    "compute_metrics",
    "compute_on_triple",
    "get_metric",
    "resolve_metric_names",
    "rgb2gray",
    "signal_to_clutter",
    "target_regions",
    "target_retention",
    "to_gray_uint8",
    "to_uint8",
    "vifb_channel_triples",
]
