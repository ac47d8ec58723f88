"""Means over a test set with the one NaN rule (``docs/metrics.md``): a metric undefined on a
pair (NaN) is left out of that metric's mean and standard deviation and counted; with no
defined pair the mean is NaN; ±inf propagates. Used by ``critnet evaluate`` and
``critnet bench``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    """Per method and metric, over the pairs: ``mean`` and ``std`` (population) of the defined
    values, and ``nan_pairs``, how many pairs were left out because the metric is NaN there."""

    mean: dict[str, dict[str, float]]
    std: dict[str, dict[str, float]]
    nan_pairs: dict[str, dict[str, int]]


def nan_notes(nan_pairs: Mapping[str, Mapping[str, int]]) -> list[str]:
    """One line per method and metric with NaN pairs (tables' footnotes, CLI notes)."""
    return [f"{method}: {metric} undefined (NaN) on {count} pair(s), left out of its mean"
            for method, counts in nan_pairs.items() for metric, count in counts.items() if count]


def summarize(per_image: Mapping[str, Mapping[str, Mapping[str, float]]],
              metrics: Sequence[str]) -> Summary:
    """``{method: {stem: {metric: v}}}`` -> :class:`Summary` with the NaN rule: NaN values are
    left out (and counted), a mean over no defined value is NaN, ±inf propagates."""
    mean: dict[str, dict[str, float]] = {}
    std: dict[str, dict[str, float]] = {}
    nan_pairs: dict[str, dict[str, int]] = {}
    for method, per_stem in per_image.items():
        mean[method], std[method], nan_pairs[method] = {}, {}, {}
        for metric in metrics:
            values = np.array([row[metric] for row in per_stem.values()], dtype=np.float64)
            defined = values[~np.isnan(values)]
            mean[method][metric] = float(defined.mean()) if defined.size else math.nan
            std[method][metric] = float(defined.std()) if defined.size else math.nan
            nan_pairs[method][metric] = int(values.size - defined.size)
    return Summary(mean, std, nan_pairs)


__all__ = ["Summary", "nan_notes", "summarize"]
