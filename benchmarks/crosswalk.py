"""Metric conventions crosswalk: every method of RoadScene-50 scored under each convention.

Usage: ``python benchmarks/crosswalk.py [--out docs/results/crosswalk] [--work DIR] [--jobs N]``

Rows: every method in ``peer_fused/`` (their grey RoadScene outputs) plus C-RITNet (lite, the
bundled weights, fused here into ``--work``). Columns: the metrics at least two conventions
define. Writes ``roadscene50.md`` (one table per convention, and which method ranks first on each
metric under each convention, flagged where the conventions disagree) and ``roadscene50.json``.
The data root is :func:`critnet.io.paths.data_root` (``$CRITNET_DATA``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from critnet.evaluation.bench.registry import roadscene_test50
from critnet.evaluation.evaluate import evaluate_methods
from critnet.evaluation.tables import format_table
from critnet.io.paths import data_root
from critnet.metrics.conventions import CONVENTIONS, lower_better
from critnet.pipeline.loading import load_model
from critnet.pipeline.single import fuse_file

METRICS = ("EN", "SD", "SF", "AG", "MI", "CC", "PSNR", "SCD", "VIF", "Qabf", "SSIM")
OURS = "C-RITNet (lite)"


def test_pairs(root: Path, work: Path) -> tuple[Path, Path, list[str]]:
    """Folders of links to the 50 RoadScene test pairs (``ir/``, ``vi/``) and their stems."""
    folder = root / "roadscene"
    stems = roadscene_test50(folder, sorted(p.stem for p in (folder / "ir").iterdir()))
    for side in ("ir", "vi"):
        (work / side).mkdir(parents=True, exist_ok=True)
        for stem in stems:
            source = next((folder / side).glob(f"{stem}.*"))
            link = work / side / source.name
            if not link.exists():
                link.symlink_to(source)
    return work / "ir", work / "vi", stems


def fuse_ours(ir_dir: Path, vis_dir: Path, stems: list[str], out: Path) -> Path:
    """Gray fused images of the bundled lite weights for ``stems`` (reused when present)."""
    out.mkdir(parents=True, exist_ok=True)
    model = load_model("lite")
    for stem in stems:
        target = out / f"{stem}.png"
        if not target.exists():
            fuse_file(next(ir_dir.glob(f"{stem}.*")), next(vis_dir.glob(f"{stem}.*")), target,
                      model, gray=True)
    return out


def first_places(means: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, str]]:
    """``{metric: {convention: best method}}`` over the methods' means."""
    best: dict[str, dict[str, str]] = {}
    for metric in METRICS:
        for convention, table in means.items():
            values = {m: v[metric] for m, v in table.items()
                      if metric in v and np.isfinite(v[metric])}
            if values:
                pick = min if lower_better(metric) else max
                best.setdefault(metric, {})[convention] = pick(values, key=values.get)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/results/crosswalk"))
    parser.add_argument("--work", type=Path, default=None,
                        help="Scratch folder (links to the pairs, our fused images).")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    root = data_root()
    peers = root / "peer_fused"
    if not peers.is_dir():
        print(f"{peers}: not found (set CRITNET_DATA)", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="critnet-crosswalk-"))
    ir_dir, vis_dir, stems = test_pairs(root, work)
    methods = {m.name: m / "roadscene" for m in sorted(peers.iterdir())
               if (m / "roadscene").is_dir()}
    methods[OURS] = fuse_ours(ir_dir, vis_dir, stems, work / "ours")

    means: dict[str, dict[str, dict[str, float]]] = {}
    absent: dict[str, list[str]] = {}
    sections = []
    for name in CONVENTIONS:
        started = time.perf_counter()
        result = evaluate_methods(ir_dir, vis_dir, methods, list(METRICS), jobs=args.jobs,
                                  convention=name)
        means[name], absent[name] = result.means, result.absent
        reference = CONVENTIONS[name].reference
        sections.append(f"### `{name}` ({reference})\n\n"
                        + format_table(result.means, list(METRICS), "markdown",
                                       absent=result.absent)
                        + f"\n\n({len(result.images)} pairs, "
                        f"{time.perf_counter() - started:.0f} s)\n")
    best = first_places(means)
    rows = ["| metric | " + " | ".join(f"`{c}`" for c in CONVENTIONS) + " | conventions agree |",
            "|---|" + "---|" * len(CONVENTIONS) + "---|"]
    for metric in METRICS:
        picks = [best.get(metric, {}).get(c, "—") for c in CONVENTIONS]
        defined = {p for p in picks if p != "—"}
        rows.append(f"| {metric} | " + " | ".join(picks) + " | "
                    + ("yes" if len(defined) <= 1 else "**no**") + " |")
    args.out.mkdir(parents=True, exist_ok=True)
    text = ("# Metric conventions crosswalk: RoadScene-50\n\n"
            "Generated by `python benchmarks/crosswalk.py`. The same fused images (grey), scored "
            "by each convention's reference definitions (`critnet evaluate --convention`). — : the "
            "convention does not define the metric.\n\n## First place per metric\n\n"
            + "\n".join(rows) + "\n\n## Means\n\n" + "\n".join(sections))
    (args.out / "roadscene50.md").write_text(text)
    (args.out / "roadscene50.json").write_text(json.dumps(
        {"stems": stems, "means": means, "absent": absent, "first": best}, indent=1,
        allow_nan=True))
    print("\n".join(rows))
    print(f"wrote {args.out / 'roadscene50.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
