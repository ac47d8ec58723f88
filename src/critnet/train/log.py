"""Per-step records of every loss term: ``log.csv``, optional TensorBoard, ``losses.png``."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from critnet.io.atomic import atomic_path

#: CSV columns, fixed for every phase (terms a phase does not compute are left empty).
TERMS = ["total", "int", "jgrad", "distill", "mit",
         "ir_rec", "ir_grad", "ir_en_content", "ir_en_edge", "ir_en", "ir_sipria",
         "vis_rec", "vis_grad", "vis_en_content", "vis_en_edge", "vis_en", "vis_sipria",
         "inter"]
COLUMNS = ["step", "epoch", "block", "phase", "lr", *TERMS, "wall_time"]


class StepLog:
    """Appends one row per step to ``log.csv`` (and TensorBoard scalars when enabled).

    The trainer calls :meth:`sync` before every checkpoint, so the file on disk holds every row
    up to the checkpoint's step. On resume the log is rewritten (atomically) to the complete,
    in-order rows up to the checkpoint's step: rows written after it by the interrupted run,
    and a row cut short by a kill, are dropped, so each step appears exactly once.
    """

    def __init__(self, out_dir: str | os.PathLike, *, resume_step: int | None = None,
                 tensorboard: bool = False) -> None:
        self.path = Path(out_dir) / "log.csv"
        kept = _rows_up_to(self.path, resume_step) if resume_step is not None else []
        if resume_step is not None and [int(r["step"]) for r in kept] != list(
                range(1, resume_step + 1)):
            warnings.warn(f"{self.path}: rows for some of steps 1..{resume_step} are missing "
                          f"(written before the log was synced at checkpoints)", stacklevel=2)
        with atomic_path(self.path) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(kept)
        self._file = self.path.open("a", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                warnings.warn("tensorboard: true but tensorboard is not installed; skipping",
                              stacklevel=2)
            else:
                self._tb = SummaryWriter(str(Path(out_dir) / "tensorboard"))

    def write(self, row: dict[str, Any], *, flush: bool = False) -> None:
        self._writer.writerow({k: row.get(k, "") for k in COLUMNS})
        if flush:
            self._file.flush()
        if self._tb is not None:
            for key in TERMS:
                if key in row:
                    self._tb.add_scalar(f"loss/{key}", row[key], row["step"])
            self._tb.add_scalar("lr", row["lr"], row["step"])

    def sync(self) -> None:
        """Push every row written so far to disk (before a checkpoint refers to them)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _rows_up_to(path: Path, step: int) -> list[dict[str, str]]:
    """The complete rows of steps 1..``step`` at the start of ``path``, in order; reading stops
    at the first row that is cut short, out of order or after ``step``."""
    if not path.is_file():
        return []
    kept: list[dict[str, str]] = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            # complete over the file's own header: a log written before a column was added
            # (e.g. ``distill``) resumes, its rows getting that column empty
            complete = None not in row and all(value is not None for value in row.values())
            if not complete or not row["step"].isdigit():
                break
            current = int(row["step"])
            if current > step or (kept and current <= int(kept[-1]["step"])):
                break
            kept.append(row)
    return kept


def plot_losses(log_csv: str | os.PathLike, png: str | os.PathLike, window: int = 25,
                val_csv: str | os.PathLike | None = None) -> Path:
    """Plot every logged loss term against the step (moving average over up to ``window``
    steps, at most a tenth of the series; log scale), phaseS blocks shaded, and beside them the
    validation scores of ``val_csv`` when it exists; written atomically with matplotlib's Agg
    backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    with Path(log_csv).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    groups = [("ℓ_mit terms", ["mit", "int", "jgrad", "distill"]),
              ("ℓ_sipria terms (ir / vis)", ["ir_sipria", "vis_sipria", "ir_rec", "vis_rec",
                                             "ir_grad", "vis_grad", "ir_en", "vis_en"]),
              ("ℓ_inter", ["inter"])]
    val = Path(val_csv) if val_csv is not None and Path(val_csv).is_file() else None
    fig = plt.figure(figsize=(15 if val else 10, 9))
    if val is None:
        axes = fig.subplots(len(groups), 1, sharex=True)
    else:  # the losses on the left, one validation metric per panel on the right
        from critnet.train.validation import VAL_METRICS, plot_scores

        grid = fig.add_gridspec(12, 2, width_ratios=[2, 1])
        axes = [fig.add_subplot(grid[0:4, 0])]
        axes += [fig.add_subplot(grid[4 * i:4 * i + 4, 0], sharex=axes[0])
                 for i in range(1, len(groups))]
        span = 12 // len(VAL_METRICS)
        plot_scores([fig.add_subplot(grid[span * i:span * i + span, 1])
                     for i in range(len(VAL_METRICS))], val)
    steps = np.array([int(r["step"]) for r in rows]) if rows else np.zeros(0)
    for axis, (title, keys) in zip(axes, groups, strict=True):
        for key in keys:
            mask = np.array([r[key] != "" for r in rows], dtype=bool)
            if not mask.any():
                continue
            values = np.array([float(r[key]) for r, m in zip(rows, mask, strict=True) if m])
            width = max(1, min(window, len(values) // 10))
            kernel = np.ones(width) / width
            smooth = np.convolve(values, kernel, mode="valid")
            axis.plot(steps[mask][len(values) - len(smooth):], smooth, label=key, lw=1)
        blocks = sorted({(int(r["block"]), r["phase"]) for r in rows})
        for block, phase in blocks:
            span = steps[[int(r["block"]) == block for r in rows]]
            if phase == "S":
                axis.axvspan(span.min(), span.max(), color="0.92", zorder=0)
        axis.set_yscale("log")
        axis.set_title(title, fontsize=10)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7, ncol=4)
    axes[-1].set_xlabel("step (grey: phaseS blocks)")
    fig.tight_layout()
    png = Path(png)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return png


def fetch_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with their tensor values (the loss terms) replaced by Python floats, read from
    the device in one transfer."""
    keys = [[k for k, v in row.items() if isinstance(v, torch.Tensor)] for row in rows]
    tensors = [row[k].float().reshape(1) for row, ks in zip(rows, keys, strict=True) for k in ks]
    if not tensors:
        return rows
    values = iter(torch.cat(tensors).cpu().tolist())
    return [{**row, **{k: next(values) for k in ks}} for row, ks in zip(rows, keys, strict=True)]


def progress_postfix(row: dict[str, Any]) -> dict[str, str]:
    """The loss terms the progress bar shows, 4 significant digits."""
    keys = ["total", "mit", "ir_sipria", "vis_sipria", "inter"]
    return {k: f"{row[k]:.4g}" for k in keys if k in row}
