"""Scoring the validation pairs at every block end (docs/training.md, "Training on your own
pairs"): ``val.csv``, the ``best`` weights, the validation panel of ``losses.png``.

Each validation pair is read as for training (whole image, no crop), fused whole by the model
being trained with the decoder it would fuse with (``fuse0`` before the first phaseM stage-2
block, else ``fuse``), and scored on fast metrics from :mod:`critnet.metrics` (gray, 8-bit as
the paper's tables): Q^AB/F, SSIM, EN (higher is better) and Q^CV (lower is better). ``val.csv``
has one row per scoring: the block end's step, epoch, block, phase and each metric's mean over
the pairs; with ``--init`` a first row (block -1, phase ``init``) scores the starting weights.

**Best rule**: among the trained block ends, the row with the lowest mean rank over the four
metrics (each metric ranked across those rows, ties sharing their mean rank); ties go to the
higher Q^AB/F, then the earlier step. ``best.safetensors`` is a copy of that block's
``block<b>.safetensors``; it is re-chosen at every block end over all rows so far.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from critnet.io.atomic import atomic_path
from critnet.metrics import METRICS, compute_metrics
from critnet.train.data.build import TrainingData

VAL_METRICS = ("Qabf", "SSIM", "EN", "Qcv")
COLUMNS = ["step", "epoch", "block", "phase", "decoder", "pairs", *VAL_METRICS]


def mean_ranks(rows: list[dict[str, Any]], metrics: tuple[str, ...] = VAL_METRICS) -> list[float]:
    """Per row, the mean over ``metrics`` of its rank among ``rows`` (1 = best; ties share the
    mean rank; lower-is-better metrics ranked ascending)."""
    from scipy.stats import rankdata

    ranks = []
    for name in metrics:
        values = np.array([float(r[name]) for r in rows])
        ranks.append(rankdata(values if METRICS[name].lower_better else -values))
    return list(np.mean(ranks, axis=0)) if rows else []


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best trained block end by the module's rule (``None`` before the first one)."""
    trained = [r for r in rows if int(r["block"]) >= 0]
    if not trained:
        return None
    scores = mean_ranks(trained)
    order = sorted(range(len(trained)),
                   key=lambda i: (scores[i], -float(trained[i]["Qabf"]), int(trained[i]["step"])))
    return trained[order[0]]


class Validator:
    """Scores ``data.val`` and keeps ``out_dir/val.csv`` (rows after ``resume_step`` dropped)."""

    def __init__(self, data: TrainingData, out_dir: str | os.PathLike,
                 resume_step: int | None = None) -> None:
        self.data = data
        self.path = Path(out_dir) / "val.csv"
        self.rows: list[dict[str, Any]] = []
        if resume_step is not None and self.path.is_file():
            with self.path.open(newline="") as handle:
                self.rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= resume_step]

    def score(self, model: torch.nn.Module, decoder: str, **where: Any) -> dict[str, Any]:
        """Fuse and score every validation pair; append the row (``where``: step, epoch,
        block, phase) and rewrite ``val.csv`` atomically."""
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        sums = dict.fromkeys(VAL_METRICS, 0.0)
        with torch.inference_mode():
            for ref in self.data.val:
                ir, vis = self.data.sources[ref.source].images(ref)
                fused = model(torch.from_numpy(ir)[None, None].to(device),
                              torch.from_numpy(vis)[None, None].to(device), decoder=decoder)
                scores = compute_metrics(ir, vis, fused[0, 0].float().cpu().numpy(),
                                         VAL_METRICS)
                for name in VAL_METRICS:
                    sums[name] += scores[name]
        model.train(was_training)
        count = len(self.data.val)
        row = {**{k: str(v) for k, v in where.items()}, "decoder": decoder, "pairs": str(count),
               **{k: f"{v / count:.6f}" for k, v in sums.items()}}  # as read back from the CSV
        self.rows = [r for r in self.rows if int(r["step"]) != int(where["step"])] + [row]
        with atomic_path(self.path) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
        return row

    def keep_best(self, out_dir: Path) -> dict[str, Any] | None:
        """Copy the best block's weights to ``best.safetensors``; the best row."""
        best = best_row(self.rows)
        if best is None:
            return None
        source = out_dir / f"block{int(best['block'])}.safetensors"
        if source.is_file():
            with atomic_path(out_dir / "best.safetensors") as tmp:
                shutil.copyfile(source, tmp)
        return best


def plot_scores(axes: list[Any], val_csv: Path) -> None:
    """One validation metric per axis of ``axes`` against the step (best row marked)."""
    with val_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    best = best_row(rows)
    steps = [int(r["step"]) for r in rows]
    for axis, name in zip(axes, VAL_METRICS, strict=True):
        axis.plot(steps, [float(r[name]) for r in rows], "o-", lw=1, ms=3)
        if best is not None:
            axis.plot([int(best["step"])], [float(best[name])], "r*", ms=9)
        axis.set_title(f"validation {name} {METRICS[name].arrow} (red: best)", fontsize=10)
    axes[-1].set_xlabel("step")
