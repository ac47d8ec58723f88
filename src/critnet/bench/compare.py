"""``critnet bench compare``: fuse a benchmark dataset with our model(s) and the classic baselines,
gather every published method's outputs for it, score them all, and write the paper-style table
(Tables 2–4), per-image scores, distribution plots (Figs. 6, 8, 10) and a qualitative grid
(Figs. 5, 7, 9).

Everything is evaluated grey (paper §4.2: sources converted to grey; MATLAB ``rgb2gray`` as in
:mod:`critnet.metrics`). Fused images that we compute are cached in ``OUT/fused/<method>/`` and
per-image scores in ``OUT/scores.csv``, so an interrupted or repeated run resumes.

Layout of ``OUT``::

    fused/<method>/<stem>.png   our model and baseline results (8-bit grey), SOURCE.txt beside
    scores.csv                  method, stem, metric, value, source (one row per score)
    table.md table.csv table.tex  means over the pairs, bold best / italic second
    distributions.png curves.png  per-metric spread over images, one box / curve per method
    grid.png                    IR, VIS and every method on chosen pairs, zoomed inset each
    results.json                the fragment ``critnet bench report`` assembles into RESULTS.md
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from critnet.atomic import atomic_path
from critnet.baselines import BASELINES
from critnet.bench.datasets import Dataset, load_dataset
from critnet.bench.paper_tables import TABLE_FOR_DATASET
from critnet.errors import InputError
from critnet.io import write_image
from critnet.metrics import PAPER_METRICS, FusionTriple, compute_on_triple, resolve_metric_names
from critnet.metrics.prepare import to_gray_uint8
from critnet.tables import format_table

GrayFusion = Callable[[np.ndarray, np.ndarray], np.ndarray]
Scores = dict[str, dict[str, dict[str, float]]]  # method -> stem -> metric -> value

KINDS = ("published", "baseline", "ours")


@dataclass
class Method:
    """One row of a comparison.

    Attributes:
        name: row label (``"LRRNet"``, ``"LP"``, ``"C-RITNet (lite)"``).
        kind: ``published`` (fused files exist), ``baseline`` or ``ours`` (fused here).
        source: what produced the images (folder, rule, weights file + hash); a change of source
            invalidates the cached images and scores of that method.
        files: ``{stem: path}`` for published methods.
        fuse: for computed methods, ``(ir, vis) -> fused``: ``(H, W)`` float in [0, 1] each.
    """

    name: str
    kind: str
    source: str
    files: dict[str, Path] | None = None
    fuse: GrayFusion | None = None

    @property
    def slug(self) -> str:
        """File-system-safe folder name (``w/o MIT`` → ``w_o_MIT``)."""
        return re.sub(r"[^A-Za-z0-9.+-]+", "_", self.name).strip("_") or "method"


def load_gray(path: str | os.PathLike) -> np.ndarray:
    """An image file as ``(H, W) uint8`` grey (colour via MATLAB ``rgb2gray``, as the metrics)."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            if img.mode not in ("L", "RGB"):
                img = img.convert("RGBA" if "A" in img.mode else "RGB")
            array = np.asarray(img)
    except OSError as error:
        raise InputError(f"{path}: cannot read image ({error})") from None
    return to_gray_uint8(array)


def baseline_methods(names: Iterable[str] | None = None) -> list[Method]:
    """The classic rules of :mod:`critnet.baselines` as rows (all of them by default)."""
    chosen = list(BASELINES) if names is None else list(names)
    return [Method(n, "baseline", f"critnet.baselines.{BASELINES[n].__name__}", fuse=BASELINES[n])
            for n in chosen]


def published_methods(dataset: Dataset) -> list[Method]:
    """Rows for the published outputs found for ``dataset`` (see :mod:`critnet.bench.datasets`)."""
    rows = []
    for name, files in dataset.fused_methods.items():
        folder = next(iter(files.values())).parent
        try:
            source = folder.relative_to(dataset.root).as_posix()
        except ValueError:
            source = str(folder)
        rows.append(Method(name, "published", source, files=files))
    return rows


def file_digest(path: str | os.PathLike) -> str:
    """First 12 hex digits of a file's SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def model_method(name: str, weights: str | os.PathLike, *, device: str = "cpu") -> Method:
    """A row fused by C-RITNet with ``weights`` (bundled name or ``.safetensors`` path); the model
    is loaded on first use and fuses the grey sources (paper §4.2)."""
    from critnet.weights import resolve_weights

    path = resolve_weights(weights)
    cache: dict[str, object] = {}

    def fuse(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
        from critnet.api import fuse_arrays, load_model

        if "model" not in cache:
            cache["model"] = load_model(path, device=device)
        return fuse_arrays(cache["model"], ir.astype(np.float32), vis.astype(np.float32),
                           gray=True)

    return Method(name, "ours", f"weights {path.name} sha256:{file_digest(path)}", fuse=fuse)


def bundled_model_methods(device: str = "cpu") -> list[Method]:
    """One row per bundled weights file (``C-RITNet`` alone, ``C-RITNet (<name>)`` if several)."""
    from critnet.weights import bundled_weights

    bundled = bundled_weights()
    single = len(bundled) == 1
    return [model_method("C-RITNet" if single else f"C-RITNet ({n})", n, device=device)
            for n in bundled]


def select_methods(methods: Sequence[Method], wanted: str | Iterable[str] | None) -> list[Method]:
    """Keep the methods named in ``wanted`` (comma list or names; case-insensitive; the kinds
    ``published``, ``baseline``, ``ours`` select whole groups); ``None`` keeps all.

    Raises:
        InputError: a name that matches nothing (the message lists what is available).
    """
    if wanted is None:
        return list(methods)
    if isinstance(wanted, str):
        wanted = [w for w in wanted.split(",") if w.strip()]
    keep: list[Method] = []
    for token in (w.strip().lower() for w in wanted):
        group = [m for m in methods if token in (m.name.lower(), m.kind, m.kind + "s")]
        if not group:
            names = ", ".join(m.name for m in methods)
            raise InputError(f"unknown method {token!r}; available: {names} "
                             f"(or a kind: {', '.join(KINDS)})")
        keep += [m for m in group if m not in keep]
    return [m for m in methods if m in keep]


# -- fusing (cached) ------------------------------------------------------------------------------

def materialise(method: Method, dataset: Dataset, out_dir: Path, *, progress: bool = True
                ) -> dict[str, Path]:
    """``{stem: fused file}`` for ``method`` on ``dataset``; computed methods are fused into
    ``out_dir/fused/<slug>/<stem>.png`` (atomic writes) unless already cached from the same
    source. Published files are returned as they are (never written to)."""
    if method.files is not None:
        return dict(method.files)
    if method.fuse is None:
        raise InputError(f"method {method.name!r} has neither files nor a fusion function")
    folder = out_dir / "fused" / method.slug
    marker = folder / "SOURCE.txt"
    if marker.is_file() and marker.read_text().strip() != method.source:
        for stale in folder.glob("*.png"):
            stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(marker) as tmp:
        tmp.write_text(method.source + "\n")
    paths = {stem: folder / f"{stem}.png" for stem in dataset.stems}
    todo = [(stem, ir, vis) for stem, ir, vis in dataset.pairs if not paths[stem].exists()]
    for stem, ir_path, vis_path in tqdm(todo, desc=f"fuse {method.name}", unit="pair",
                                        disable=not progress or not todo, leave=False):
        ir = load_gray(ir_path).astype(np.float64) / 255.0
        vis = load_gray(vis_path).astype(np.float64) / 255.0
        fused = np.asarray(method.fuse(ir, vis), dtype=np.float64)
        if fused.shape != ir.shape:
            raise InputError(f"{method.name} returned shape {fused.shape} for {stem} "
                             f"({ir.shape} expected)")
        write_image(paths[stem], fused)
    return paths


# -- scoring (cached) -----------------------------------------------------------------------------

SCORE_FIELDS = ("method", "stem", "metric", "value", "source")


def read_scores(path: Path) -> dict[tuple[str, str, str], tuple[float, str]]:
    """Cached scores: ``{(method, stem, metric): (value, source)}`` (empty if no file)."""
    if not path.is_file():
        return {}
    with path.open(newline="") as handle:
        return {(r["method"], r["stem"], r["metric"]): (float(r["value"]), r["source"])
                for r in csv.DictReader(handle)}


def write_scores(path: Path, cache: dict[tuple[str, str, str], tuple[float, str]]) -> None:
    """Write the score cache atomically, sorted (stable files for version control)."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SCORE_FIELDS)
        for (method, stem, metric), (value, source) in sorted(cache.items()):
            writer.writerow([method, stem, metric, repr(value), source])


def score_all(dataset: Dataset, methods: Sequence[Method], fused: dict[str, dict[str, Path]],
              metrics: Sequence[str], cache_path: Path, *, progress: bool = True) -> Scores:
    """Score every method on every pair (grey), reusing cached values of the same source.

    Returns:
        ``{method: {stem: {metric: value}}}``; NaN where a metric is undefined.
    """
    cache = read_scores(cache_path)
    scores: Scores = {m.name: {} for m in methods}
    bar = tqdm(dataset.pairs, desc=f"score {dataset.key}", unit="pair", disable=not progress)
    for stem, ir_path, vis_path in bar:
        triple = None
        changed = False
        for method in methods:
            keys = [(method.name, stem, m) for m in metrics]
            hit = [cache.get(k) for k in keys]
            if all(h is not None and h[1] == method.source for h in hit):
                scores[method.name][stem] = {m: h[0] for m, h in zip(metrics, hit, strict=True)}
                continue
            if triple is None:  # sources read once per pair; their cached work is shared
                ir = load_gray(ir_path)
                triple = FusionTriple(ir, load_gray(vis_path), ir)
            values = compute_on_triple(triple.with_fused(load_gray(fused[method.name][stem])),
                                       metrics)
            scores[method.name][stem] = values
            cache.update({(method.name, stem, m): (v, method.source) for m, v in values.items()})
            changed = True
        if changed:
            write_scores(cache_path, cache)
    return scores


def summarize(scores: Scores, metrics: Sequence[str]
              ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]],
                         dict[str, dict[str, int]]]:
    """Mean, standard deviation and NaN count per method and metric (NaNs left out)."""
    mean: dict[str, dict[str, float]] = {}
    std: dict[str, dict[str, float]] = {}
    nans: dict[str, dict[str, int]] = {}
    for method, per_stem in scores.items():
        mean[method], std[method], nans[method] = {}, {}, {}
        for metric in metrics:
            values = np.array([v[metric] for v in per_stem.values()], dtype=np.float64)
            finite = values[~np.isnan(values)]
            mean[method][metric] = float(finite.mean()) if finite.size else math.nan
            std[method][metric] = float(finite.std()) if finite.size else math.nan
            nans[method][metric] = int(values.size - finite.size)
    return mean, std, nans


# -- the whole command ----------------------------------------------------------------------------

@dataclass
class CompareResult:
    """What :func:`compare` wrote and computed."""

    out_dir: Path
    dataset: Dataset
    methods: list[Method]
    metrics: list[str]
    scores: Scores
    mean: dict[str, dict[str, float]]
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def compare(dataset: str | Dataset, out_dir: str | os.PathLike, *,
            methods: str | Iterable[str] | None = None,
            weights: Sequence[str] | None = None,
            extra_methods: Sequence[Method] = (),
            metrics: str | Iterable[str] = PAPER_METRICS,
            data_root: str | os.PathLike | None = None,
            device: str = "cpu",
            grid_pairs: Sequence[str] | None = None,
            zoom: tuple[int, int, int, int] | None = None,
            plots: bool = True,
            command: str = "",
            paper_table: str | None = None,
            first_column: str = "Method",
            progress: bool = True) -> CompareResult:
    """Run a full comparison on one dataset and write its outputs into ``out_dir``.

    Args:
        dataset: a key of :data:`critnet.bench.datasets.SPECS` or a resolved :class:`Dataset`.
        out_dir: output folder (created; must not be inside a data folder).
        methods: keep only these rows (names or kinds, see :func:`select_methods`).
        weights: C-RITNet weights (bundled names or paths) for "ours" rows; ``None`` uses every
            bundled file (none bundled: no "ours" row, with a note).
        extra_methods: further rows (e.g. ablation models), placed last.
        metrics: names, ``"paper"`` (default: the six of Tables 2–4) or ``"all"``.
        data_root: the shared data root (default :func:`critnet.paths.data_root`).
        device: where our model runs.
        grid_pairs: stems for the qualitative grid (default: two spread over the set).
        zoom: inset box ``(x, y, w, h)`` in pixels for every grid row (default: automatic).
        plots: write the plots and the grid.
        command: the command line to record in the outputs.
        paper_table: the published table to set beside these results in the report (default:
            the dataset's, :data:`critnet.bench.paper_tables.TABLE_FOR_DATASET`).
        first_column: title of the row-label column.
        progress: tqdm bars.

    Raises:
        InputError: unknown dataset / method / metric, or ``out_dir`` inside the data root.
    """
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset, data_root)
    out = Path(out_dir)
    _refuse_inside_inputs(out, ds)
    metric_names = resolve_metric_names(metrics)
    notes: list[str] = []
    if weights is None:
        ours = bundled_model_methods(device)
        if not ours:
            notes.append("No C-RITNet weights are bundled yet: no C-RITNet row (pass --weights).")
    else:
        ours = [model_method(*_weights_label(w, len(weights)), device=device) for w in weights]
    rows = [*published_methods(ds), *baseline_methods(), *ours, *extra_methods]
    rows = select_methods(rows, methods)
    if not rows:
        raise InputError(f"no methods to compare on {ds.key}")
    out.mkdir(parents=True, exist_ok=True)
    fused = {m.name: materialise(m, ds, out, progress=progress) for m in rows}
    scores = score_all(ds, rows, fused, metric_names, out / "scores.csv", progress=progress)
    mean, std, nans = summarize(scores, metric_names)
    notes += [f"Not used: {line}" for line in ds.skipped]
    for method, counts in nans.items():
        for metric, count in counts.items():
            if count:
                notes.append(f"{method}: {metric} undefined (NaN) on {count} pair(s), "
                             f"left out of its mean")
    result = CompareResult(out, ds, rows, metric_names, scores, mean, notes)
    _write_tables(result, std, command, paper_table or TABLE_FOR_DATASET.get(ds.key),
                  first_column)
    if plots:
        from critnet.bench.grid import qualitative_grid
        from critnet.bench.plots import plot_curves, plot_distributions

        result.files.append(plot_distributions(scores, metric_names, out / "distributions.png",
                                               title=ds.spec.title))
        result.files.append(plot_curves(scores, metric_names, out / "curves.png",
                                        title=ds.spec.title))
        stems = list(grid_pairs) if grid_pairs else default_grid_pairs(ds.stems)
        unknown = [s for s in stems if s not in ds.stems]
        if unknown:
            raise InputError(f"grid pairs not in {ds.key}: {unknown}")
        result.files.append(qualitative_grid(ds, rows, fused, stems, out / "grid.png",
                                             zoom=zoom))
    return result


def default_grid_pairs(stems: Sequence[str], count: int = 2) -> list[str]:
    """``count`` stems spread evenly over the (sorted) test set."""
    if len(stems) <= count:
        return list(stems)
    step = len(stems) / count
    return [stems[int(step * i + step / 2)] for i in range(count)]


def _weights_label(weights: str, count: int) -> tuple[str, str]:
    """``(row name, weights)`` for one ``--weights`` value: ``LABEL=PATH`` names the row
    ``C-RITNet (LABEL)``; otherwise the file's stem names it, or its folder's name for a run's
    ``weights.safetensors``; a single unlabelled file is plain ``C-RITNet``. An existing file
    whose name contains ``=`` is taken as a path."""
    text = str(weights)
    label, sep, labelled = text.partition("=")
    if sep and label and labelled and not Path(text).exists():
        return f"C-RITNet ({label})", labelled
    path = Path(text)
    stem = path.parent.name if path.stem == "weights" and path.parent.name else path.stem
    return ("C-RITNet" if count == 1 else f"C-RITNet ({stem})"), text


def _refuse_inside_inputs(out: Path, ds: Dataset) -> None:
    out_resolved = out.resolve()
    folders = {ir.parent.parent.resolve() for _, ir, _ in ds.pairs}
    folders |= {p.parent.resolve() for files in ds.fused_methods.values() for p in files.values()}
    for folder in folders:
        if out_resolved == folder or folder in out_resolved.parents:
            raise InputError(f"{out}: output folder is inside the input folder {folder}; "
                             f"choose another --out")


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def _write_tables(result: CompareResult, std: dict[str, dict[str, float]], command: str,
                  paper_table: str | None, first_column: str) -> None:
    ds, out, metrics = result.dataset, result.out_dir, result.metrics
    title = f"{ds.spec.title}: {len(ds.pairs)} pairs, evaluated grey"
    kinds = {m.name: {"kind": m.kind, "source": m.source} for m in result.methods}
    md = [f"# {title}", "", format_table(result.mean, metrics, "markdown", first=first_column),
          "Bold: best; italic: second best; ↑/↓: higher/lower is better. "
          "Means over the pairs.", ""]
    if ds.spec.note:
        md.append(f"Test set: {ds.spec.note}.")
    md += [f"- {n}" for n in result.notes]
    if command:
        md += ["", f"Command: `{command}`"]
    result.files += [
        _write_text(out / "table.md", "\n".join(md).rstrip() + "\n"),
        _write_text(out / "table.csv", format_table(result.mean, metrics, "csv", extra=kinds)),
        _write_text(out / "table.tex", format_table(result.mean, metrics, "latex",
                                                     caption=title, first=first_column)),
    ]
    fragment = {
        "dataset": ds.key, "title": ds.spec.title, "note": ds.spec.note, "pairs": len(ds.pairs),
        "metrics": metrics, "paper_table": paper_table, "first_column": first_column,
        "methods": [{"name": m.name, "kind": m.kind, "source": m.source}
                    for m in result.methods],
        "mean": result.mean, "std": std, "notes": result.notes, "command": command,
    }
    result.files.append(_write_text(out / "results.json",
                                    json.dumps(fragment, indent=1, allow_nan=True) + "\n"))
