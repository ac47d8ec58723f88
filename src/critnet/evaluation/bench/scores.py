"""Per-image scores of a benchmark comparison, cached in ``OUT/scores.csv`` (one row per
method, stem and metric, with the source that produced the fused image) so that a repeated or
interrupted run scores only what changed. Scoring itself is
:func:`critnet.evaluation.evaluate.score_pair`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from critnet.evaluation.bench.datasets import Dataset
from critnet.evaluation.bench.methods import Method, load_gray
from critnet.evaluation.evaluate import RETENTION, score_pair
from critnet.io import read_raw
from critnet.io.atomic import atomic_path
from critnet.metrics.retention import target_retention

Scores = dict[str, dict[str, dict[str, float]]]  # method -> stem -> metric -> value
CacheKey = tuple[str, str, str]  # method, stem, metric


SCORE_FIELDS = ("method", "stem", "metric", "value", "source")


def read_scores(path: Path) -> dict[CacheKey, tuple[float, str]]:
    """Cached scores: ``{(method, stem, metric): (value, source)}`` (empty if no file)."""
    if not path.is_file():
        return {}
    with path.open(newline="") as handle:
        return {(r["method"], r["stem"], r["metric"]): (float(r["value"]), r["source"])
                for r in csv.DictReader(handle)}


def write_scores(path: Path, cache: dict[CacheKey, tuple[float, str]]) -> None:
    """Write the score cache atomically, sorted (stable files for version control)."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SCORE_FIELDS)
        for (method, stem, metric), (value, source) in sorted(cache.items()):
            writer.writerow([method, stem, metric, repr(value), source])


def score_all(dataset: Dataset, methods: Sequence[Method], paths: dict[str, dict[str, Path]],
              metrics: Sequence[str], cache_path: Path, *, progress: bool = True) -> Scores:
    """Score every method on every pair (grey), reusing cached values of the same source.

    Returns:
        ``{method: {stem: {metric: value}}}``; NaN where a metric is undefined.
    """
    cache = read_scores(cache_path)
    scores: Scores = {m.name: {} for m in methods}
    bar = tqdm(dataset.pairs, desc=f"score {dataset.key}", unit="pair", disable=not progress)
    for stem, ir_path, vis_path in bar:
        todo = []
        for method in methods:
            hit = [cache.get((method.name, stem, m)) for m in metrics]
            if all(h is not None and h[1] == method.source for h in hit):
                scores[method.name][stem] = {m: h[0] for m, h in zip(metrics, hit, strict=True)}
            else:
                todo.append(method)
        if not todo:
            continue
        fused = {m.name: load_gray(paths[m.name][stem]) for m in todo}
        values = score_pair(load_gray(ir_path), load_gray(vis_path), fused, metrics)
        for method in todo:
            scores[method.name][stem] = values[method.name]
            cache.update({(method.name, stem, m): (v, method.source)
                          for m, v in values[method.name].items()})
        write_scores(cache_path, cache)
    return scores


def score_retention(dataset: Dataset, methods: Sequence[Method], paths: dict[str, dict[str, Path]],
                    scores: Scores, cache_path: Path) -> None:
    """Add :data:`~critnet.evaluation.evaluate.RETENTION` to ``scores`` in place: on the stems
    with a target mask (``dataset.masks``) the value of
    :func:`critnet.metrics.target_retention`, NaN on the others (left out of the mean)."""
    cache = read_scores(cache_path)
    changed = False
    for stem, ir_path, _ in dataset.pairs:
        mask_path = dataset.masks.get(stem)
        mask = ir = None
        for method in methods:
            row = scores[method.name].setdefault(stem, {})
            if mask_path is None:
                row[RETENTION] = float("nan")
                continue
            hit = cache.get((method.name, stem, RETENTION))
            if hit is not None and hit[1] == method.source:
                row[RETENTION] = hit[0]
                continue
            if mask is None:
                mask, ir = read_raw(mask_path), load_gray(ir_path)
                mask = mask if mask.ndim == 2 else mask[..., 0]
            row[RETENTION] = target_retention(ir, load_gray(paths[method.name][stem]), mask)
            cache[(method.name, stem, RETENTION)] = (row[RETENTION], method.source)
            changed = True
    if changed:
        write_scores(cache_path, cache)
