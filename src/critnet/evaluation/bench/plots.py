"""Per-metric distribution plots over the images of a benchmark (the paper's Figs. 6, 8, 10).

Drawn with matplotlib's Agg canvas directly (no pyplot state, no display needed).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from critnet.io.atomic import atomic_path
from critnet.metrics import get_metric

Scores = Mapping[str, Mapping[str, Mapping[str, float]]]  # method -> stem -> metric -> value


def _figure(metrics: Sequence[str], width: float, height: float) -> tuple[Figure, list]:
    cols = min(3, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for extra in axes[len(metrics):]:
        extra.set_axis_off()
    return fig, axes[:len(metrics)]


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    return path


def _values(scores: Scores, method: str, metric: str) -> np.ndarray:
    return np.array([v[metric] for v in scores[method].values()], dtype=np.float64)


def plot_distributions(scores: Scores, metrics: Sequence[str], path: str | os.PathLike, *,
                       title: str = "") -> Path:
    """One box plot per metric, one box per method (whiskers 1.5 IQR, ◆ mean), NaNs dropped.

    Args:
        scores: ``{method: {stem: {metric: value}}}``.
        metrics: the panels, in order; each panel's title carries ↑/↓.
        path: PNG to write (atomically).
    """
    methods = list(scores)
    fig, axes = _figure(metrics, 0.55 * len(methods) + 1.5, 3.2)
    for ax, metric in zip(axes, metrics, strict=True):
        data = [v[~np.isnan(v)] for v in (_values(scores, m, metric) for m in methods)]
        ax.boxplot(data, showmeans=True, widths=0.6,
                   meanprops={"marker": "D", "markerfacecolor": "tab:red", "markersize": 4},
                   flierprops={"markersize": 3})
        ax.set_xticks(range(1, len(methods) + 1), methods, rotation=60, ha="right", fontsize=8)
        ax.set_title(f"{metric} {get_metric(metric).arrow}")
        ax.grid(axis="y", alpha=0.3)
    if title:
        fig.suptitle(f"{title}: per-image distribution")
    return _save(fig, path)


def plot_curves(scores: Scores, metrics: Sequence[str], path: str | os.PathLike, *,
                title: str = "") -> Path:
    """The paper's layout: per metric, each method's value on every image (image order on x),
    mean in the legend.

    Args:
        scores: ``{method: {stem: {metric: value}}}`` (every method on the same stems).
        metrics: the panels, in order.
        path: PNG to write (atomically).
    """
    methods = list(scores)
    fig, axes = _figure(metrics, 4.6, 3.2)
    palette = colormaps["tab10" if len(methods) <= 10 else "tab20"].colors
    for ax, metric in zip(axes, metrics, strict=True):
        for index, method in enumerate(methods):
            values = _values(scores, method, metric)
            x = np.arange(1, values.size + 1)
            finite = values[~np.isnan(values)]
            ax.plot(x, values, marker="o", markersize=2.5, linewidth=1,
                    color=palette[index % len(palette)],
                    label=f"{method}: {finite.mean():.4g}" if finite.size else f"{method}: n/a")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{metric} {get_metric(metric).arrow}")
        ax.set_xlabel("image")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2 if len(methods) > 6 else 1)
    if title:
        fig.suptitle(f"{title}: per-image values (mean in legend)")
    return _save(fig, path)


def plot_cost(mean: Mapping[str, Mapping[str, float]], ratio: Mapping[str, float], metric: str,
              path: str | os.PathLike, *, title: str = "") -> Path:
    """Quality against cost: ``metric``'s mean (y) against CPU forward time relative to
    SeAFusion's in the same run (x, log scale), one labelled point per method.

    Args:
        mean: ``{method: {metric: mean}}``.
        ratio: ``{method: forward time / SeAFusion's}``; methods without one are left out.
        metric: the y axis (its ↑/↓ in the label).
        path: PNG to write (atomically).
    """
    methods = [m for m in mean if m in ratio and not math.isnan(mean[m].get(metric, math.nan))]
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for method in methods:
        ours = method.startswith("C-RITNet")
        x, y = ratio[method], mean[method][metric]
        ax.scatter([x], [y], s=48 if ours else 30, marker="*" if ours else "o",
                   color="tab:red" if ours else "tab:blue", zorder=3)
        ax.annotate(method, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("CPU forward time per 640×480 pair (2 threads), × SeAFusion's\n"
                  "(peers: SeAFusion of the same run; "
                  "C-RITNet: of its speed_table.py run, see costs_measured.csv)")
    ax.set_ylabel(f"{metric} {get_metric(metric).arrow} (mean over the pairs)")
    ax.grid(alpha=0.3, which="both")
    if title:
        ax.set_title(f"{title}: {metric} against CPU time")
    return _save(fig, path)


def plot_tradeoff(mean: Mapping[str, Mapping[str, float]], x_metric: str, y_metric: str,
                  path: str | os.PathLike, *, title: str = "") -> Path:
    """One labelled point per method: ``y_metric``'s mean against ``x_metric``'s (e.g. Q^AB/F
    against target retention: the trade-off between the paper's metrics and keeping targets).
    Methods without both values are left out."""
    methods = [m for m in mean if not math.isnan(mean[m].get(x_metric, math.nan))
               and not math.isnan(mean[m].get(y_metric, math.nan))]
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for method in methods:
        ours = method.startswith("C-RITNet")
        x, y = mean[method][x_metric], mean[method][y_metric]
        ax.scatter([x], [y], s=48 if ours else 30, marker="*" if ours else "o",
                   color="tab:red" if ours else "tab:blue", zorder=3)
        ax.annotate(method, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(f"{x_metric} ↑ (mean over the pairs with a target mask; 1 = IR's contrast)")
    ax.set_ylabel(f"{y_metric} {get_metric(y_metric).arrow} (mean over the pairs)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(f"{title}: {y_metric} against {x_metric}")
    return _save(fig, path)
