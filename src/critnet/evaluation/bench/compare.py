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
    cost_<metric>.png           Q^AB/F and SSIM against CPU time (rows with a known cost)
    results.json                the fragment ``critnet bench report`` assembles into RESULTS.md

Rows: :mod:`critnet.evaluation.bench.methods`; cost columns: :mod:`critnet.evaluation.bench.costs`;
score cache:
:mod:`critnet.evaluation.bench.scores`; means and the NaN rule:
:func:`critnet.evaluation.summary.summarize`;
tables: :mod:`critnet.evaluation.tables`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from critnet.errors import InputError
from critnet.evaluation.bench.costs import cost_cells, load_costs
from critnet.evaluation.bench.datasets import Dataset, load_dataset
from critnet.evaluation.bench.grid import Box, qualitative_grid
from critnet.evaluation.bench.methods import (
    Method,
    baseline_methods,
    bundled_model_methods,
    materialise,
    model_method,
    published_methods,
    select_methods,
    weights_label,
)
from critnet.evaluation.bench.plots import (
    plot_cost,
    plot_curves,
    plot_distributions,
    plot_tradeoff,
)
from critnet.evaluation.bench.registry import RESULTS_DIR
from critnet.evaluation.bench.scores import Scores, score_all, score_retention
from critnet.evaluation.evaluate import RETENTION
from critnet.evaluation.summary import nan_notes, summarize
from critnet.evaluation.tables import format_table
from critnet.io.atomic import atomic_path
from critnet.io.outputs import check_output_folder
from critnet.metrics import PAPER_METRICS, resolve_metric_names


@dataclass(frozen=True)
class RunOptions:
    """How a comparison runs and what it records; shared by :func:`compare` and
    :func:`critnet.evaluation.bench.ablation.run_study`.

    Attributes:
        data_root: the shared data root (default :func:`critnet.io.paths.data_root`).
        device: where our model runs.
        grid_pairs: stems for the qualitative grid (default: two spread over the set).
        zoom: inset box ``(x, y, w, h)`` in pixels for every grid row (default: automatic).
        plots: write the plots and the grid.
        command: the command line to record in the outputs.
        progress: tqdm bars.
        costs_dir: folder of the cost CSVs (:mod:`critnet.evaluation.bench.costs`); the tables gain
            cost
            columns and ``cost_<metric>.png`` is drawn when a row has a cost there.
    """

    data_root: str | os.PathLike | None = None
    device: str = "cpu"
    grid_pairs: Sequence[str] | None = None
    zoom: Box | None = None
    plots: bool = True
    command: str = ""
    progress: bool = True
    costs_dir: str | os.PathLike = RESULTS_DIR


COST_PLOT_METRICS = ("Qabf", "SSIM")


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
    costs: dict[str, dict[str, str]] = field(default_factory=dict)


def compare(dataset: str | Dataset, out_dir: str | os.PathLike, *,
            methods: str | Iterable[str] | None = None,
            weights: Sequence[str] | None = None,
            extra_methods: Sequence[Method] = (),
            metrics: str | Iterable[str] = PAPER_METRICS,
            paper_table: str | None = None,
            first_column: str = "Method",
            options: RunOptions | None = None) -> CompareResult:
    """Run a full comparison on one dataset and write its outputs into ``out_dir``.

    Args:
        dataset: a key of :data:`critnet.evaluation.bench.registry.DATASETS` or a resolved
            :class:`Dataset`.
        out_dir: output folder (created; must not be inside a data folder).
        methods: keep only these rows (names or kinds, see :func:`select_methods`).
        weights: C-RITNet weights (bundled names or paths, ``LABEL=PATH`` names the row) for
            "ours" rows; ``None`` uses every bundled file (none bundled: no "ours" row, a note).
        extra_methods: further rows (e.g. ablation models), placed last.
        metrics: names, ``"paper"`` (default: the six of Tables 2–4) or ``"all"``.
        paper_table: the published table to set beside these results in the report (default:
            the dataset's, :attr:`critnet.evaluation.bench.registry.DatasetSpec.paper_table`).
        first_column: title of the row-label column.
        options: data root, device, grid, plots, recorded command, progress bars (default
            :class:`RunOptions`).

    Raises:
        InputError: unknown dataset / method / metric, or ``out_dir`` inside the data root.
    """
    options = options or RunOptions()
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset, options.data_root)
    out = Path(out_dir)
    _refuse_inside_inputs(out, ds)
    metric_names = resolve_metric_names(metrics)
    stems = list(options.grid_pairs) if options.grid_pairs else default_grid_pairs(ds.stems)
    unknown = [s for s in stems if s not in ds.stems]
    if options.plots and unknown:
        raise InputError(f"grid pairs not in {ds.key}: {unknown}")
    notes: list[str] = []
    if weights is None:
        ours = bundled_model_methods(options.device)
        if not ours:
            notes.append("No C-RITNet weights are bundled yet: no C-RITNet row (pass --weights).")
    else:
        ours = [model_method(*weights_label(w, len(weights)), device=options.device)
                for w in weights]
    rows = [*published_methods(ds), *baseline_methods(), *ours, *extra_methods]
    rows = select_methods(rows, methods)
    if not rows:
        raise InputError(f"no methods to compare on {ds.key}")
    out.mkdir(parents=True, exist_ok=True)
    fused = {m.name: materialise(m, ds, out, progress=options.progress) for m in rows}
    scores = score_all(ds, rows, fused, metric_names, out / "scores.csv",
                       progress=options.progress)
    table_metrics = list(metric_names)
    if ds.masks:
        score_retention(ds, rows, fused, scores, out / "scores.csv")
        table_metrics.append(RETENTION)
        notes.append(f"{RETENTION}: SCR(fused) / SCR(IR) over the target masks of "
                     f"{ds.spec.masks}/ ({len(ds.masks)} of the {len(ds.pairs)} pairs; "
                     f"ring 3–15 px around each target; docs/metrics.md), mean over those pairs.")
    summary = summarize(scores, table_metrics)
    notes += [f"Not used: {line}" for line in ds.skipped]
    notes += [n for n in nan_notes(summary.nan_pairs) if f": {RETENTION} " not in n]
    costs = {m.name: c for m in rows if (c := load_costs(options.costs_dir).get(m.name))}
    if costs:
        notes.append("Cost columns: forward time of one 640×480 pair on 2 CPU threads (median), "
                     "× SeAFusion = ratio to SeAFusion's time in the same run (loads differ "
                     "between runs; compare ratios; C-RITNet's rows: the default onnxruntime "
                     "backend, SeAFusion timed in the same process by "
                     "benchmarks/speed_table.py), sources in docs/results/costs*.csv.")
    result = CompareResult(out, ds, rows, table_metrics, scores, summary.mean, notes,
                           costs=cost_cells(costs, [m.name for m in rows]) if costs else {})
    _write_tables(result, summary.std, options.command,
                  paper_table or ds.spec.paper_table, first_column)
    if options.plots:
        title = ds.spec.title
        result.files += [
            plot_distributions(scores, metric_names, out / "distributions.png", title=title),
            plot_curves(scores, metric_names, out / "curves.png", title=title),
            *([plot_tradeoff(summary.mean, RETENTION, metric, out / f"retention_{metric}.png",
                             title=title) for metric in COST_PLOT_METRICS
               if metric in metric_names] if ds.masks else []),
            qualitative_grid(ds, rows, fused, stems, out / "grid.png", zoom=options.zoom),
        ]
        ratio = {name: cost.ratio for name, cost in costs.items()}
        result.files += [plot_cost(summary.mean, ratio, metric, out / f"cost_{metric}.png",
                                   title=title)
                         for metric in COST_PLOT_METRICS if costs and metric in metric_names]
    return result


def default_grid_pairs(stems: Sequence[str], count: int = 2) -> list[str]:
    """``count`` stems spread evenly over the (sorted) test set."""
    if len(stems) <= count:
        return list(stems)
    step = len(stems) / count
    return [stems[int(step * i + step / 2)] for i in range(count)]


def _refuse_inside_inputs(out: Path, ds: Dataset) -> None:
    folders = {ir.parent.parent for _, ir, _ in ds.pairs}
    folders |= {p.parent for files in ds.fused_methods.values() for p in files.values()}
    for folder in sorted(folders):
        check_output_folder(out, {"input": folder}, option="--out")


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def _write_tables(result: CompareResult, std: dict[str, dict[str, float]], command: str,
                  paper_table: str | None, first_column: str) -> None:
    ds, out, metrics = result.dataset, result.out_dir, result.metrics
    title = f"{ds.spec.title}: {len(ds.pairs)} pairs, evaluated grey"
    kinds = {m.name: {"kind": m.kind, "source": m.source, **result.costs.get(m.name, {})}
             for m in result.methods}
    md = [f"# {title}", "", format_table(result.mean, metrics, "markdown", first=first_column,
                                         extra=result.costs),
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
                                                     caption=title, first=first_column,
                                                     extra=result.costs)),
    ]
    fragment = {
        "dataset": ds.key, "title": ds.spec.title, "note": ds.spec.note, "pairs": len(ds.pairs),
        "metrics": metrics, "paper_table": paper_table, "first_column": first_column,
        "methods": [{"name": m.name, "kind": m.kind, "source": m.source}
                    for m in result.methods],
        "mean": result.mean, "std": std, "notes": result.notes, "command": command,
        "costs": result.costs,
        "cost_plots": [f"cost_{m}.png" for m in COST_PLOT_METRICS
                       if result.costs and m in metrics],
    }
    result.files.append(_write_text(out / "results.json",
                                    json.dumps(fragment, indent=1, allow_nan=True) + "\n"))
