"""Issue 23's objective study, scored on the validation split only (never RoadScene-50 or TNO).

Usage::

    python benchmarks/objective_study.py [--runs runs/objectives] [--variants a,b,...]
        [--weights NAME=PATH ...] [--out docs/results/objectives/validation.md]

For each run ``runs/objectives/<variant>/`` (a ``critnet train --config
configs/objectives/<variant>.yaml`` run) its ``weights.safetensors`` fuses the run's own
validation pairs (``data.json``: the 10 % hash-of-stem split of the RoadScene training pairs)
and is scored on the paper's six metrics (grey, MATLAB convention) and on **pseudo-target
retention**: the TNO target masks are for testing only, so on validation the targets are
found in the IR image itself — connected regions of the lightly smoothed IR image above
``max(mean + 2·std, 97th percentile)``, 30 px to 5 % of the image each — and scored with
:func:`critnet.metrics.target_retention` (ring 3–15 px). A pair without such a region is left
out of that mean.

Selection rule (stated before the study ran): among the variants whose mean pseudo-retention
is at least the paper objective's (``difference``) minus 0.02, the lowest mean rank over the
six metrics (Q^CV ranked low-is-better); ties by Q^AB/F.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from critnet.evaluation.evaluate import score_pair
from critnet.io import read_image
from critnet.io.atomic import atomic_path
from critnet.io.paths import data_root
from critnet.metrics import PAPER_METRICS, target_retention, to_gray_uint8
from critnet.pipeline.loading import load_model
from critnet.pipeline.single import fuse
from critnet.train import validation

VARIANTS = ("difference", "steep", "local_contrast", "salient_contrast")
SLACK = 0.02


def pseudo_targets(ir: np.ndarray) -> np.ndarray:
    """Boolean H×W: the warm regions of a grey IR image (module docstring)."""
    x = ndimage.gaussian_filter(to_gray_uint8(ir).astype(np.float64), 1.0)
    level = max(x.mean() + 2 * x.std(), float(np.percentile(x, 97)))
    labels, count = ndimage.label(x > level)
    if not count:
        return np.zeros(x.shape, bool)
    sizes = ndimage.sum(np.ones_like(x), labels, index=np.arange(1, count + 1))
    keep = np.flatnonzero((sizes >= 30) & (sizes <= 0.05 * x.size)) + 1
    return np.isin(labels, keep)


def validation_pairs(run: Path) -> list[tuple[Path, Path]]:
    facts = json.loads((run / "data.json").read_text())
    root = Path(facts["sources"][0]["root"]) if facts.get("sources") else data_root() / "roadscene"
    if not root.is_dir():
        root = data_root() / "roadscene"
    pairs = []
    for entry in facts["stems"]["validation"]:
        stem = entry.split(":")[1]
        ir = next((root / "ir").glob(stem + ".*"))
        pairs.append((ir, next((root / "vi").glob(stem + ".*"))))
    return pairs


def score(weights: Path, pairs: list[tuple[Path, Path]]) -> dict[str, float]:
    model = load_model(str(weights), device="cpu", backend="torch")
    rows, kept = {m: [] for m in PAPER_METRICS}, []
    for ir_path, vis_path in pairs:
        ir, _ = read_image(ir_path)
        vis, _ = read_image(vis_path)
        fused = np.asarray(fuse(ir, vis, model))  # the arrays just read, not the files again
        values = score_pair(ir, vis, {"m": fused}, PAPER_METRICS)["m"]
        for m in PAPER_METRICS:
            rows[m].append(values[m])
        mask = pseudo_targets(ir)
        if mask.any():
            value = target_retention(ir, fused, mask)
            if math.isfinite(value):
                kept.append(value)
    out = {m: float(np.nanmean(v)) for m, v in rows.items()}
    out["Retention*"] = float(np.mean(kept)) if kept else math.nan
    out["pairs*"] = len(kept)
    return out


def mean_ranks(table: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean rank over the six metrics per variant (:func:`critnet.train.validation.mean_ranks`:
    ties share their rank, Q^CV lower-better)."""
    return dict(zip(table, validation.mean_ranks(list(table.values()), PAPER_METRICS),
                    strict=True))


def choose(table: dict[str, dict[str, float]], reference: str = "difference") -> str:
    floor = table[reference]["Retention*"] - SLACK
    ranks = mean_ranks(table)
    eligible = [n for n in table if table[n]["Retention*"] >= floor] or [reference]
    return min(eligible, key=lambda n: (ranks[n], -table[n]["Qabf"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/objectives")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--weights", action="append", default=[],
                        help="NAME=PATH: score another weights file on the same pairs")
    parser.add_argument("--out", default="docs/results/objectives/validation.md")
    args = parser.parse_args(argv)
    runs = Path(args.runs)
    variants = [v for v in args.variants.split(",") if (runs / v / "weights.safetensors").is_file()]
    if not variants:
        print(f"{runs}: no finished study run (weights.safetensors)", file=sys.stderr)
        return 2
    pairs = validation_pairs(runs / variants[0])
    table = {v: score(runs / v / "weights.safetensors", pairs) for v in variants}
    for spec in args.weights:
        name, _, path = spec.partition("=")
        table[name] = score(Path(path), pairs)
    ranks = mean_ranks(table)
    winner = choose(table) if "difference" in table else min(ranks, key=ranks.get)
    head = ["variant", *PAPER_METRICS, "Retention*", "mean rank"]
    lines = [f"Validation: {len(pairs)} RoadScene training-split pairs (hash of stem), "
             f"pseudo-targets on {table[variants[0]]['pairs*']} of them. Command: "
             f"`python benchmarks/objective_study.py {' '.join(argv or sys.argv[1:])}`", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in table.items():
        cells = [f"{row[m]:.4f}" if m != "Qcv" else f"{row[m]:.1f}" for m in PAPER_METRICS]
        mark = " (chosen)" if name == winner else ""
        lines.append(f"| {name}{mark} | " + " | ".join(cells)
                     + f" | {row['Retention*']:.4f} | {ranks[name]:.2f} |")
    lines += ["", f"Rule: retention* ≥ difference's − {SLACK}, then the lowest mean rank over "
              f"the six metrics; chosen: **{winner}**."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(text)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
