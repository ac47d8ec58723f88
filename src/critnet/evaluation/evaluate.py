"""Score fused images with the fusion metrics: one pair (:func:`score_pair`), folders of them
(:func:`evaluate_methods`); the means over the pairs and the one NaN rule are
:mod:`critnet.evaluation.summary`.

Library half of ``critnet evaluate`` (the CLI only parses arguments); tables are rendered by
:mod:`critnet.evaluation.tables`::

    from critnet.evaluation.evaluate import evaluate_methods
    from critnet.evaluation.tables import format_table
    result = evaluate_methods("tno/ir", "tno/vi", {"SeAFusion": "tno_fused/SeAFusion"}, "paper")
    print(format_table(result.means, result.metrics, "markdown"))

Pairs are matched by file stem (:func:`critnet.io.pairs.match_pairs`); each method folder must
hold one fused image per pair, of the pair's size. Means are taken over the images that every
method has, so the rows of a table are comparable.

NaN rule (``docs/metrics.md``): a metric undefined on a pair (NaN, e.g. CC of a constant image)
is left out of that metric's mean and standard deviation, and the number of such pairs is
reported beside the mean (:attr:`Summary.nan_pairs`); with no defined pair the mean is NaN.
Infinite values (PSNR of a perfect fusion) are values and propagate.

Conventions (``convention=``, :mod:`critnet.metrics.conventions`): ``"matlab"`` (default) is the
registry; ``"cddfuse"`` and ``"tang"`` score with that reference code's definitions and grey
conversion, and a requested metric the convention does not define is *absent*: listed in
:attr:`EvaluationResult.absent`, left out of the per-image rows and means.
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

from critnet.errors import InputError
from critnet.evaluation.summary import summarize
from critnet.evaluation.tables import json_number
from critnet.io import read_raw
from critnet.io.pairs import list_images, match_pairs
from critnet.metrics import (
    METRICS,
    FusionTriple,
    compute_metrics,
    compute_on_triple,
    resolve_metric_names,
    to_gray_uint8,
)
from critnet.metrics.conventions import (
    compute_convention,
    convention_metrics,
    get_convention,
    lower_better,
)
from critnet.metrics.retention import RING, check_target_mask, target_retention

#: The column name of target retention (``masks=``).
RETENTION = "Retention"


@dataclass
class EvaluationResult:
    """Per-image metric values and their means.

    Attributes:
        metrics: metric names, in column order.
        methods: method names, in row order.
        images: the stems evaluated (common to every method), sorted.
        per_image: ``{method: {stem: {metric: value}}}``.
        means: ``{method: {metric: mean over images}}`` (NaN pairs left out, see
            :func:`summarize`).
        nan_pairs: ``{method: {metric: pairs where the metric is NaN}}``.
        skipped: ``{method: [stems]}`` of pairs left out by ``skip_missing``.
        convention: the metric convention (``"matlab"``, ``"cddfuse"``, ``"tang"``).
        absent: requested metrics the convention does not define (no values anywhere).
    """

    metrics: list[str]
    methods: list[str]
    images: list[str]
    per_image: dict[str, dict[str, dict[str, float]]]
    means: dict[str, dict[str, float]] = field(default_factory=dict)
    nan_pairs: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    convention: str = "matlab"
    absent: list[str] = field(default_factory=list)


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


def score_pair(ir: np.ndarray, vis: np.ndarray, fused: Mapping[str, np.ndarray],
               metrics: Sequence[str], mode: str = "gray", *, convention: str = "matlab"
               ) -> dict[str, dict[str, float]]:
    """Score several fused images of one pair, sharing the sources' cached work across them.

    Args:
        ir, vis: the sources, ``(H, W)`` or ``(H, W, 3)``, any dtype :func:`to_gray_uint8` takes.
        fused: ``{method: fused image}``, each of the sources' ``(H, W)``.
        metrics: registry names.
        mode: ``"gray"`` or ``"vifb"`` (see :func:`critnet.metrics.compute_metrics`).
        convention: ``"matlab"`` (registry names) or ``"cddfuse"`` / ``"tang"`` (gray mode
            only; names the convention does not define are left out of the rows).

    Returns:
        ``{method: {metric: value}}``; NaN where a metric is undefined.
    """
    out: dict[str, dict[str, float]] = {}
    if convention != "matlab":
        gray = get_convention(convention).gray
        sources = FusionTriple(gray(ir), gray(vis), gray(next(iter(fused.values()))))
        return {method: compute_convention(sources.with_fused(gray(image)), metrics, convention)
                for method, image in fused.items()}
    base: FusionTriple | None = None
    for method, image in fused.items():
        if mode == "gray":
            base = base or FusionTriple.from_images(ir, vis, image)
            out[method] = compute_on_triple(base.with_fused(to_gray_uint8(image)), metrics)
        else:
            out[method] = compute_metrics(ir, vis, image, metrics, mode=mode)
    return out


def _evaluate_pair(task: tuple[str, Path, Path, list[tuple[str, Path]], list[str], str, str,
                                Path | None, tuple[int, int]]
                   ) -> tuple[str, dict[str, dict[str, float]]]:
    """One pair, every method: read the files, check sizes, :func:`score_pair` (and
    :data:`RETENTION` against the pair's target mask, when masks are given)."""
    stem, ir_path, vis_path, fused_paths, metrics, mode, convention, mask_path, ring = task
    ir, vis = read_image(ir_path), read_image(vis_path)
    fused: dict[str, np.ndarray] = {}
    for method, path in fused_paths:
        fused[method] = read_image(path)
        if fused[method].shape[:2] != ir.shape[:2] or vis.shape[:2] != ir.shape[:2]:
            raise InputError(f"{path}: size {fused[method].shape[1]}x{fused[method].shape[0]} "
                             f"differs from its pair ({ir_path}: {ir.shape[1]}x{ir.shape[0]}, "
                             f"{vis_path}: {vis.shape[1]}x{vis.shape[0]})")
    scores = score_pair(ir, vis, fused, metrics, mode, convention=convention)
    if mask_path is not False:
        mask = read_image(mask_path) if mask_path is not None else None
        if mask is not None and mask.shape[:2] != ir.shape[:2]:
            raise InputError(f"{mask_path}: target mask is {mask.shape[1]}x{mask.shape[0]} but "
                             f"its pair is {ir.shape[1]}x{ir.shape[0]}")
        if mask is not None:
            check_target_mask(mask, str(mask_path))
        for method, image in fused.items():
            scores[method][RETENTION] = (math.nan if mask is None else target_retention(
                ir, image, mask if mask.ndim == 2 else mask[..., 0], ring))
    return stem, scores


def evaluate_methods(ir_dir: str | os.PathLike, vis_dir: str | os.PathLike,
                     methods: Mapping[str, str | os.PathLike],
                     metrics: str | Iterable[str] | None = "paper", *, jobs: int = 1,
                     skip_missing: bool = False, mode: str = "gray", progress: bool = False,
                     convention: str = "matlab", masks: str | os.PathLike | None = None,
                     ring: tuple[int, int] = RING) -> EvaluationResult:
    """Score each method's fused folder against the IR/VIS pairs.

    Args:
        ir_dir, vis_dir: source folders, paired by file stem.
        methods: ``{method name: fused folder}``; files named by the same stems.
        metrics: names, ``"paper"`` (default), ``"all"`` or ``"CC,EN,..."``.
        jobs: worker processes (images in parallel); 1 = in this process.
        skip_missing: warn about and leave out unmatched/missing files instead of raising.
        mode: ``"gray"`` or ``"vifb"`` (see :func:`critnet.metrics.compute_metrics`).
        progress: show a tqdm progress bar on stderr.
        convention: ``"matlab"`` (default), ``"cddfuse"`` or ``"tang"``
            (:mod:`critnet.metrics.conventions`); ``"all"`` then means the convention's names,
            and requested names it does not define are reported in ``absent``.
        masks: a folder of target masks named by the pair stems (any subset of the pairs):
            adds the column :data:`RETENTION` (:func:`critnet.metrics.target_retention`), NaN
            — left out of its mean by the NaN rule — for pairs without a mask.
        ring: ``(inner, outer)`` radii of the clutter ring around each target, in pixels.

    Raises:
        InputError: a folder is missing or empty, files are missing or unmatched (without
            ``skip_missing``), an image cannot be read, or sizes differ.
    """
    convention = get_convention(convention).name
    if convention == "matlab":
        names, absent = resolve_metric_names(metrics), []
    else:
        names, absent = convention_metrics(metrics, convention)
    if mode not in ("gray", "vifb"):
        raise InputError(f"unknown metric mode {mode!r}; use 'gray' or 'vifb'")
    if mode == "vifb" and convention != "matlab":
        raise InputError(f"mode 'vifb' is VIFB's colour scoring; convention {convention!r} "
                         "scores grey images only (use mode 'gray')")
    defined = [n for n in names if n not in absent]
    pairs, fused, missing = _plan(ir_dir, vis_dir, methods, skip_missing)
    mask_files: dict[str, Path] | None = None
    if masks is not None:
        if not Path(masks).is_dir():
            raise InputError(f"{masks}: target mask folder not found")
        mask_files = list_images(masks)
        if not set(mask_files) & {stem for stem, _, _ in pairs}:
            raise InputError(f"{masks}: no target mask is named like a pair (file stems)")
        names, defined = [*names, RETENTION], [*defined]
    tasks = [(stem, ir, vis, [(m, fused[m][stem]) for m in methods], defined, mode, convention,
              False if mask_files is None else mask_files.get(stem), ring)
             for stem, ir, vis in pairs]
    per_image: dict[str, dict[str, dict[str, float]]] = {m: {} for m in methods}

    bar = None
    if progress:
        from critnet.io.progress import progress_bar

        bar = progress_bar(total=len(tasks), unit="pair", desc="evaluate", leave=False)
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
    summary = summarize(per_image, defined + ([RETENTION] if mask_files is not None else []))
    return EvaluationResult(metrics=names, methods=list(methods),
                            images=[stem for stem, _, _ in pairs], per_image=per_image,
                            means=summary.mean, nan_pairs=summary.nan_pairs, skipped=missing,
                            convention=convention, absent=absent)


def per_image_csv(result: EvaluationResult) -> str:
    """CSV with columns ``method,image,<metric>...`` (full precision, one row per image; an
    absent metric's cells are empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["method", "image", *result.metrics])
    for method in result.methods:
        for stem in result.images:
            row = result.per_image[method][stem]
            writer.writerow([method, stem, *(repr(float(row[m])) if m in row else ""
                                             for m in result.metrics)])
    return buf.getvalue()


def result_json(result: EvaluationResult) -> str:
    """The whole result (metadata, means, per-image values) as JSON; NaN/inf and absent metrics
    become null."""
    reference = get_convention(result.convention).reference
    return json.dumps({
        "convention": result.convention,
        "absent": result.absent,
        "metrics": {m: {"lower_better": lower_better(m),
                        "reference": None if m in result.absent else
                        METRICS[m].reference if result.convention == "matlab" else reference}
                    for m in result.metrics},
        "methods": result.methods,
        "images": result.images,
        "skipped": result.skipped,
        "means": {k: {m: json_number(row[m]) if m in row else None for m in result.metrics}
                  for k, row in result.means.items()},
        "nan_pairs": result.nan_pairs,
        "per_image": {k: {s: {m: json_number(row[m]) if m in row else None
                              for m in result.metrics}
                          for s, row in rows.items()} for k, rows in result.per_image.items()},
    }, indent=2)
