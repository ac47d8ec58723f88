"""Evaluate fused-image folders with the fusion metrics, and format paper-style tables.

Library half of ``critnet evaluate`` (the CLI only parses arguments)::

    from critnet.evaluate import evaluate_methods, format_table
    result = evaluate_methods("tno/ir", "tno/vi", {"SeAFusion": "tno_fused/SeAFusion"}, "paper")
    print(format_table(result.means, result.metrics, fmt="markdown"))

Pairs are matched by file stem (:func:`critnet.data.pairs.match_pairs`); each method folder must
hold one fused image per pair, of the pair's size. Means are taken over the images that every
method has, so the rows of a table are comparable.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from critnet.data.pairs import list_images, match_pairs
from critnet.errors import InputError
from critnet.io import read_raw
from critnet.metrics import (
    METRICS,
    FusionTriple,
    compute_metrics,
    compute_on_triple,
    resolve_metric_names,
    to_gray_uint8,
)

FORMATS = ("markdown", "latex", "csv", "json", "text")


@dataclass
class EvaluationResult:
    """Per-image metric values and their means.

    Attributes:
        metrics: metric names, in column order.
        methods: method names, in row order.
        images: the stems evaluated (common to every method), sorted.
        per_image: ``{method: {stem: {metric: value}}}``.
        means: ``{method: {metric: mean over images}}`` (NaN if any image gives NaN, as a
            MATLAB ``mean`` would).
        skipped: ``{method: [stems]}`` of pairs left out by ``skip_missing``.
    """

    metrics: list[str]
    methods: list[str]
    images: list[str]
    per_image: dict[str, dict[str, dict[str, float]]]
    means: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: dict[str, list[str]] = field(default_factory=dict)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an 8/16-bit image: ``(H, W)`` gray or ``(H, W, 3)`` RGB, ``uint8`` or ``uint16``.

    Palette images become RGB, alpha is dropped. Raises :class:`InputError` naming the file.
    """
    return read_raw(path)


def parse_methods(specs: Iterable[str]) -> dict[str, Path]:
    """``["DIR", "NAME=DIR"]`` -> ``{name: Path}``; a bare folder is named by its folder name.

    Raises:
        InputError: two methods with one name.
    """
    methods: dict[str, Path] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep:
            folder, name = spec, Path(spec.rstrip("/\\")).name
        if name in methods:
            raise InputError(f"two fused folders are both named {name!r}: use NAME=DIR")
        methods[name] = Path(folder)
    if not methods:
        raise InputError("no fused folder given")
    return methods


_Pairs = list[tuple[str, Path, Path]]


def _plan(ir_dir: str | os.PathLike, vis_dir: str | os.PathLike,
          methods: Mapping[str, str | os.PathLike], skip_missing: bool
          ) -> tuple[_Pairs, dict[str, dict[str, Path]], dict[str, list[str]]]:
    match = match_pairs(ir_dir, vis_dir)
    problems = [f"{p} has no visible partner" for p in match.unmatched_ir]
    problems += [f"{p} has no infrared partner" for p in match.unmatched_vis]
    pair_stems = {stem for stem, _, _ in match.pairs}
    fused = {name: list_images(folder) for name, folder in methods.items()}
    missing: dict[str, list[str]] = {}
    for name, files in fused.items():
        lacking = sorted(pair_stems - files.keys())
        if lacking:
            missing[name] = lacking
            problems.append(f"{methods[name]} lacks {len(lacking)} fused image(s) for pairs: "
                            f"{', '.join(lacking)}")
        extra = sorted(files.keys() - pair_stems)
        if extra:
            problems.append(f"{methods[name]} has {len(extra)} image(s) with no source pair: "
                            f"{', '.join(extra)}")
    if problems and not skip_missing:
        raise InputError("; ".join(problems) + " (use --skip-missing to evaluate the rest)")
    if problems:
        warnings.warn("skipping: " + "; ".join(problems), stacklevel=3)
    keep = set.intersection(pair_stems, *(set(files) for files in fused.values()))
    pairs = [p for p in match.pairs if p[0] in keep]
    if not pairs:
        raise InputError(f"no image stem is shared by {ir_dir}, {vis_dir} and every fused folder")
    return pairs, fused, missing


def _evaluate_pair(task: tuple[str, Path, Path, list[tuple[str, Path]], list[str], str]
                   ) -> tuple[str, dict[str, dict[str, float]]]:
    """One pair, every method: read once, reuse the sources' cached work across methods."""
    stem, ir_path, vis_path, fused_paths, metrics, mode = task
    ir, vis = read_image(ir_path), read_image(vis_path)
    out: dict[str, dict[str, float]] = {}
    base: FusionTriple | None = None
    for method, path in fused_paths:
        fused = read_image(path)
        if fused.shape[:2] != ir.shape[:2] or vis.shape[:2] != ir.shape[:2]:
            raise InputError(f"{path}: size {fused.shape[1]}x{fused.shape[0]} differs from its "
                             f"pair ({ir_path}: {ir.shape[1]}x{ir.shape[0]}, {vis_path}: "
                             f"{vis.shape[1]}x{vis.shape[0]})")
        if mode == "gray":
            base = base or FusionTriple.from_images(ir, vis, fused)
            out[method] = compute_on_triple(base.with_fused(to_gray_uint8(fused)), metrics)
        else:
            out[method] = compute_metrics(ir, vis, fused, metrics, mode=mode)
    return stem, out


def mean_values(per_image: Mapping[str, Mapping[str, Mapping[str, float]]], metrics: Sequence[str]
                ) -> dict[str, dict[str, float]]:
    """``{method: {stem: {metric: v}}}`` -> ``{method: {metric: mean}}`` (NaN propagates)."""
    return {method: {m: float(np.mean([row[m] for row in images.values()])) for m in metrics}
            for method, images in per_image.items()}


def evaluate_methods(ir_dir: str | os.PathLike, vis_dir: str | os.PathLike,
                     methods: Mapping[str, str | os.PathLike],
                     metrics: str | Iterable[str] | None = "paper", *, jobs: int = 1,
                     skip_missing: bool = False, mode: str = "gray", progress: bool = False
                     ) -> EvaluationResult:
    """Score each method's fused folder against the IR/VIS pairs.

    Args:
        ir_dir, vis_dir: source folders, paired by file stem.
        methods: ``{method name: fused folder}``; files named by the same stems.
        metrics: names, ``"paper"`` (default), ``"all"`` or ``"CC,EN,..."``.
        jobs: worker processes (images in parallel); 1 = in this process.
        skip_missing: warn about and leave out unmatched/missing files instead of raising.
        mode: ``"gray"`` or ``"vifb"`` (see :func:`critnet.metrics.compute_metrics`).
        progress: show a tqdm progress bar on stderr.

    Raises:
        InputError: a folder is missing or empty, files are missing or unmatched (without
            ``skip_missing``), an image cannot be read, or sizes differ.
    """
    names = resolve_metric_names(metrics)
    if mode not in ("gray", "vifb"):
        raise InputError(f"unknown metric mode {mode!r}; use 'gray' or 'vifb'")
    pairs, fused, missing = _plan(ir_dir, vis_dir, methods, skip_missing)
    tasks = [(stem, ir, vis, [(m, fused[m][stem]) for m in methods], names, mode)
             for stem, ir, vis in pairs]
    per_image: dict[str, dict[str, dict[str, float]]] = {m: {} for m in methods}

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), unit="pair", desc="evaluate", leave=False)
    if jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
            results = pool.map(_evaluate_pair, tasks, chunksize=max(1, len(tasks) // (4 * jobs)))
            for stem, values in results:
                for method, row in values.items():
                    per_image[method][stem] = row
                if bar is not None:
                    bar.update()
    else:
        for task in tasks:
            stem, values = _evaluate_pair(task)
            for method, row in values.items():
                per_image[method][stem] = row
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    return EvaluationResult(metrics=names, methods=list(methods),
                            images=[stem for stem, _, _ in pairs], per_image=per_image,
                            means=mean_values(per_image, names), skipped=missing)


# --- ranking and tables ---------------------------------------------------------------------

def rank_marks(means: Mapping[str, Mapping[str, float]], metrics: Sequence[str]
               ) -> dict[tuple[str, str], str]:
    """``{(method, metric): "best" | "second"}`` per column, respecting ``lower_better``.

    Ties share a rank; NaN never ranks. With one method nothing is marked.
    """
    marks: dict[tuple[str, str], str] = {}
    if len(means) < 2:
        return marks
    for metric in metrics:
        sign = 1.0 if METRICS[metric].lower_better else -1.0
        values = sorted({sign * row[metric] for row in means.values()
                         if not math.isnan(row[metric])})
        for method, row in means.items():
            v = row[metric]
            if math.isnan(v):
                continue
            if values and sign * v == values[0]:
                marks[(method, metric)] = "best"
            elif len(values) > 1 and sign * v == values[1]:
                marks[(method, metric)] = "second"
    return marks


def _fmt(value: float, digits: int) -> str:
    return "NaN" if math.isnan(value) else f"{value:.{digits}f}"


def format_table(means: Mapping[str, Mapping[str, float]], metrics: Sequence[str] | None = None,
                 fmt: str = "markdown", *, digits: int = 4, caption: str | None = None) -> str:
    """Methods × metrics table of means, laid out like the paper's Tables 2–4.

    Headers carry ↑/↓ from ``lower_better``; per column the best value is bold and the second
    italic (Markdown ``**x**``/``*x*``, LaTeX ``\\textbf``/``\\textit``; the plain ``text``
    format appends ``*``/``+``; ``csv``/``json`` carry numbers only).

    Args:
        means: ``{method: {metric: value}}`` (row order kept).
        metrics: columns; default: the keys of the first row.
        fmt: one of ``markdown``, ``latex``, ``csv``, ``json``, ``text``.
        digits: decimals shown.
        caption: LaTeX caption / Markdown title line.
    """
    if metrics is None:
        metrics = list(next(iter(means.values()), {}))
    metrics = list(metrics)
    if fmt == "json":
        return json.dumps({m: {k: _json_number(v) for k, v in row.items() if k in metrics}
                           for m, row in means.items()}, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["method", *metrics])
        for method, row in means.items():
            writer.writerow([method, *(repr(float(row[m])) for m in metrics)])
        return buf.getvalue()
    marks = rank_marks(means, metrics)
    headers = [f"{m} {METRICS[m].arrow}" for m in metrics]
    if fmt == "markdown":
        style = {"best": "**{}**", "second": "*{}*"}
        lines = [f"**{caption}**", ""] if caption else []
        lines += ["| Method | " + " | ".join(headers) + " |",
                  "|---|" + "---:|" * len(metrics)]
        for method, row in means.items():
            cells = [style.get(marks.get((method, m), ""), "{}").format(_fmt(row[m], digits))
                     for m in metrics]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        style = {"best": "\\textbf{{{}}}", "second": "\\textit{{{}}}"}
        arrows = {"↑": "$\\uparrow$", "↓": "$\\downarrow$"}
        head = [f"{_tex(m)} {arrows[METRICS[m].arrow]}" for m in metrics]
        lines = ["\\begin{table}[t]", "\\centering"]
        if caption:
            lines.append(f"\\caption{{{_tex(caption)}}}")
        lines += [f"\\begin{{tabular}}{{l{'c' * len(metrics)}}}", "\\hline",
                  "Method & " + " & ".join(head) + " \\\\", "\\hline"]
        for method, row in means.items():
            cells = [style.get(marks.get((method, m), ""), "{}").format(_fmt(row[m], digits))
                     for m in metrics]
            lines.append(f"{_tex(method)} & " + " & ".join(cells) + " \\\\")
        lines += ["\\hline", "\\end{tabular}", "\\end{table}"]
        return "\n".join(lines) + "\n"
    if fmt == "text":
        suffix = {"best": "*", "second": "+"}
        rows = [["Method", *headers]]
        for method, row in means.items():
            rows.append([method, *(_fmt(row[m], digits) + suffix.get(marks.get((method, m), ""),
                                                                      " ") for m in metrics)])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        out = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
        out.append("(* best, + second; ↑ higher is better, ↓ lower is better)")
        return "\n".join(out) + "\n"
    raise InputError(f"unknown table format {fmt!r}; use one of {', '.join(FORMATS)}")


def _tex(text: str) -> str:
    for char in "\\&%$#_{}":
        text = text.replace(char, "\\" + char)
    return text


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else float(value)


def per_image_csv(result: EvaluationResult) -> str:
    """CSV with columns ``method,image,<metric>...`` (full precision, one row per image)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["method", "image", *result.metrics])
    for method in result.methods:
        for stem in result.images:
            row = result.per_image[method][stem]
            writer.writerow([method, stem, *(repr(float(row[m])) for m in result.metrics)])
    return buf.getvalue()


def result_json(result: EvaluationResult) -> str:
    """The whole result (metadata, means, per-image values) as JSON; NaN/inf become null."""
    return json.dumps({
        "metrics": {m: {"lower_better": METRICS[m].lower_better,
                        "reference": METRICS[m].reference} for m in result.metrics},
        "methods": result.methods,
        "images": result.images,
        "skipped": result.skipped,
        "means": {k: {m: _json_number(v) for m, v in row.items()}
                  for k, row in result.means.items()},
        "per_image": {k: {s: {m: _json_number(v) for m, v in row.items()}
                          for s, row in rows.items()} for k, rows in result.per_image.items()},
    }, indent=2)
