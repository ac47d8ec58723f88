"""``critnet bench report``: assemble ``docs/RESULTS.md`` from the ``results.json`` fragments that
``bench compare`` / ``bench ablation`` / ``bench lambda`` write, beside the paper's Tables 1–5.

A study with no fragment yet is listed as pending, with the paper's table and the command that
produces it, so the file is a complete template before any weights exist.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from critnet.evaluation.bench.paper_tables import TABLES, PaperTable
from critnet.evaluation.bench.registry import DATASETS, STUDIES, section_keys
from critnet.evaluation.tables import format_table, format_value
from critnet.io.atomic import atomic_path
from critnet.metrics import PAPER_METRICS

FIGURES = (("distributions.png", "per-image distribution"),
           ("curves.png", "per-image values (paper layout)"),
           ("grid.png", "qualitative comparison"))
OUR_PREFIX = "C-RITNet"

FINDINGS_NAME = "FINDINGS.md"


def load_fragments(results_dir: str | os.PathLike) -> dict[str, dict]:
    """``{folder name: fragment}`` for every ``<results_dir>/<name>/results.json``."""
    results_dir = Path(results_dir)
    fragments = {}
    for path in sorted(results_dir.glob("*/results.json")):
        fragments[path.parent.name] = json.loads(path.read_text())
    return fragments


def paper_row_for(name: str, paper: PaperTable) -> str | None:
    """The paper's row matching our row ``name`` (same name; ``C-RITNet*`` ↔ ``Ours``)."""
    if name in paper.rows:
        return name
    if name.startswith(OUR_PREFIX) and "Ours" in paper.rows:
        return "Ours"
    return None


def side_by_side(mean: Mapping[str, Mapping[str, float]], paper: PaperTable,
                 metrics: Sequence[str]) -> str:
    """Markdown table of the rows present in both: ``measured / paper`` per metric ("" if none)."""
    pairs = [(name, row) for name in mean if (row := paper_row_for(name, paper))]
    if not pairs:
        return ""
    shown = [m for m in metrics if m in PAPER_METRICS]
    lines = ["| Row (here / paper) | " + " | ".join(shown) + " |",
             "|---|" + "---:|" * len(shown)]
    for name, row in pairs:
        cells = [f"{format_value(float(mean[name].get(m, math.nan)))} / "
                 f"{format_value(paper.rows[row][m])}" for m in shown]
        label = name if name == row else f"{name} / {row}"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _section(key: str, fragment: dict | None, base: str) -> list[str]:
    entry = DATASETS.get(key) or STUDIES.get(key)
    paper_key = (fragment or {}).get("paper_table") or (entry.paper_table if entry else None)
    paper = TABLES.get(paper_key) if paper_key else None
    title = STUDIES[key].title if key in STUDIES else key
    if fragment is None:
        lines = [f"## {title}: pending", "", f"Not run yet. Command: `{entry.command}`", ""]
        if paper is not None:
            lines += [f"Paper, {paper.caption} — {paper.test_set}:", "",
                      format_table(paper.rows, PAPER_METRICS, first="Paper row")]
        return lines
    metrics = fragment["metrics"]
    mean = {name: {m: (math.nan if v is None else v) for m, v in vals.items()}
            for name, vals in fragment["mean"].items()}
    heading = fragment["title"] if key == fragment["dataset"] else f"{title}: {fragment['title']}"
    lines = [f"## {heading} — {fragment['pairs']} pairs", ""]
    if fragment.get("note"):
        lines += [f"Test set: {fragment['note']}.", ""]
    lines += ["Measured here (means over the pairs, grey):", "",
              format_table(mean, metrics, first=fragment.get("first_column", "Method"),
                           extra=fragment.get("costs") or None)]
    kinds = {}
    for method in fragment["methods"]:
        kinds.setdefault(method["kind"], []).append(method["name"])
    lines += ["Rows: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in kinds.items()) + ".", ""]
    if paper is not None:
        lines += [f"Paper, {paper.caption} — {paper.test_set}:", "",
                  format_table(paper.rows, PAPER_METRICS, first="Paper row")]
        both = side_by_side(mean, paper, metrics)
        if both:
            lines += ["Rows in both (measured here / paper; different test sets):", "", both]
    figures = [f"[{label}]({base}/{key}/{name})" for name, label in FIGURES]
    figures += [f"[{name[5:-4]} against CPU time]({base}/{key}/{name})"
                for name in fragment.get("cost_plots", [])]
    lines += ["Figures: " + " · ".join(figures) + f" · [table CSV]({base}/{key}/table.csv) · "
              f"[LaTeX]({base}/{key}/table.tex)", ""]
    lines += [f"- {note}" for note in fragment.get("notes", [])]
    if fragment.get("command"):
        lines += ["", f"Command: `{fragment['command']}`"]
    return [*lines, ""]


def build_report(results_dir: str | os.PathLike, *, link_base: str = "results") -> str:
    """The text of RESULTS.md from the fragments in ``results_dir``.

    Args:
        results_dir: folder of ``<section>/results.json`` fragments.
        link_base: how RESULTS.md reaches ``results_dir`` (relative link prefix).
    """
    fragments = load_fragments(results_dir)
    lines = [
        "# Results",
        "",
        "Generated by `critnet bench report` from `docs/results/*/results.json`; do not edit by "
        "hand. Rerun the commands below to refresh a section, then the report.",
        "",
        "Conventions: every image is evaluated grey (visible and colour outputs converted with "
        "MATLAB `rgb2gray`, as the paper converts its sources, §4.2); metrics from "
        "`critnet.metrics` (the paper's six: CC, EN, Q^AB/F, Q^CV (lower is better), SCD, SSIM); "
        "bold is best and italic second in each column. Classic baselines "
        "(`critnet.evaluation.baselines`: pixel average, pixel maximum, Laplacian pyramid) are "
        "reference rows anyone can rerun.",
        "",
        "The paper's test sets are not public (docs/design.md §4): its numbers are shown beside "
        "ours for orientation, not as a digit-for-digit reproduction.",
        "",
    ]
    findings = Path(results_dir) / FINDINGS_NAME
    if findings.is_file():  # the hand-written reading of the measurements
        lines += [findings.read_text().strip(), ""]
    known = section_keys()
    keys = known + [k for k in fragments if k not in known]
    for key in keys:
        lines += _section(key, fragments.get(key), link_base)
    return "\n".join(lines).rstrip() + "\n"


def write_report(results_dir: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write :func:`build_report` to ``out`` (atomically); links are relative to ``out``."""
    out = Path(out)
    base = os.path.relpath(Path(results_dir).resolve(), out.resolve().parent)
    text = build_report(results_dir, link_base=Path(base).as_posix())
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    return out
