"""``critnet bench``: reproduce the paper's tables and figures (thin; logic in
critnet.evaluation.bench)."""

from __future__ import annotations

import shlex
import sys

import click

from critnet.errors import InputError
from critnet.evaluation.bench.registry import DATASETS, STUDIES


def _zoom(_ctx: click.Context, _param: click.Parameter, value: str | None
          ) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    try:
        x, y, w, h = (int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected x,y,w,h (4 integers, pixels)") from None
    return x, y, w, h


def _pairs(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[str] | None:
    return [s.strip() for s in value.split(",") if s.strip()] if value else None


def _command() -> str:
    return "critnet " + " ".join(shlex.quote(a) for a in sys.argv[1:])


_shared = [
    click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
                 help="Output folder (fused cache, scores, tables, plots, grid)."),
    click.option("--pairs", callback=_pairs, default=None,
                 help="Stems for the qualitative grid, comma-separated (default: two)."),
    click.option("--zoom", callback=_zoom, default=None,
                 help="Inset box x,y,w,h in pixels (default: where methods disagree most)."),
    click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto."),
    click.option("--no-progress", is_flag=True, help="No progress bars."),
]


def _with_shared(command):
    for option in reversed(_shared):
        command = option(command)
    return command


@click.group()
def bench() -> None:
    """Reproduce the paper's evaluation: tables, plots and comparison figures.

    \b
      critnet bench compare --dataset tno42 --out docs/results/tno42
      critnet bench ablation --runs docs/results/runs --out docs/results/ablation  (Table 1)
      critnet bench lambda --runs docs/results/runs --out docs/results/lambda      (Table 5)
      critnet bench report                                                   (RESULTS.md)
      critnet bench features --dataset tno42 --pairs STEM --out DIR          (Fig. 4)
    """


@bench.command("compare")
@click.option("--dataset", required=True, type=click.Choice(list(DATASETS)))
@click.option("--methods", default=None,
              help="Rows to keep, comma-separated names or kinds (published, baseline, ours).")
@click.option("--weights", multiple=True,
              help="C-RITNet weights (bundled name or .safetensors; LABEL=PATH names the row); "
                   "repeatable. Default: every bundled file.")
@click.option("--metrics", default="paper", show_default=True,
              help="paper, all, or names such as CC,EN,Qabf.")
@_with_shared
def compare_command(dataset: str, methods: str | None, weights: tuple[str, ...], metrics: str,
                    out_dir: str, pairs: list[str] | None,
                    zoom: tuple[int, int, int, int] | None, device: str,
                    no_progress: bool) -> None:
    """Compare our model, classic baselines and published outputs on one dataset (Tables 2-4)."""
    from critnet.evaluation.bench.compare import RunOptions, compare

    result = compare(dataset, out_dir, methods=methods, weights=list(weights) or None,
                     metrics=metrics, options=RunOptions(device=device, grid_pairs=pairs,
                                                         zoom=zoom, command=_command(),
                                                         progress=not no_progress))
    _summary(result)


def _study(key: str) -> click.Command:
    """``critnet bench <key>`` for the study ``STUDIES[key]``."""

    @bench.command(key, help=STUDIES[key].help)
    @click.option("--configs", "configs_dir", default="configs", show_default=True,
                  type=click.Path(file_okay=False), help="Folder of the variant YAML configs.")
    @click.option("--runs", "runs_dir", default="runs", show_default=True,
                  type=click.Path(file_okay=False),
                  help="Run folders: RUNS/<config stem>/weights.safetensors are reused.")
    @click.option("--schedule", type=click.Choice(["cpu", "paper"]), default="cpu",
                  show_default=True, help="cpu: configs as written; paper: the paper schedule "
                                          "(configs/paper.yaml; for a GPU).")
    @click.option("--max-steps", type=click.IntRange(min=1), default=None,
                  help="Stop each training run at this step (smoke tests).")
    @click.option("--plan", "plan_only", is_flag=True,
                  help="Only print what would be trained, resumed or reused.")
    @click.option("--trained-only", is_flag=True,
                  help="Train nothing: evaluate the variants whose runs have finished.")
    @_with_shared
    def command(configs_dir: str, runs_dir: str, schedule: str, max_steps: int | None,
                plan_only: bool, trained_only: bool, out_dir: str, pairs: list[str] | None,
                zoom: tuple[int, int, int, int] | None, device: str, no_progress: bool) -> None:
        from pathlib import Path

        from critnet.evaluation.bench.ablation import plan_runs, run_study
        from critnet.evaluation.bench.compare import RunOptions

        if plan_only:
            for plan in plan_runs(STUDIES[key], Path(configs_dir), Path(runs_dir), schedule):
                click.echo(f"{plan.label}: {plan.action} {plan.config} -> {plan.run_dir}")
            return
        result = run_study(key, out_dir, configs_dir=configs_dir, runs_dir=runs_dir,
                           schedule=schedule, max_steps=max_steps, trained_only=trained_only,
                           log=click.echo,
                           options=RunOptions(device=device, grid_pairs=pairs, zoom=zoom,
                                              command=_command(), progress=not no_progress))
        _summary(result)

    return command


for _key in STUDIES:
    _study(_key)


@bench.command("report")
@click.option("--results", "results_dir", default="docs/results", show_default=True,
              type=click.Path(file_okay=False), help="Folder of <section>/results.json.")
@click.option("-o", "--out", "out_path", default="docs/RESULTS.md", show_default=True,
              type=click.Path(dir_okay=False), help="Markdown file to write.")
def report_command(results_dir: str, out_path: str) -> None:
    """Assemble RESULTS.md from the bench outputs, beside the paper's Tables 1-5."""
    from pathlib import Path

    from critnet.evaluation.bench.report import write_report

    if not Path(results_dir).is_dir():
        raise InputError(f"{results_dir}: results folder not found")
    click.echo(write_report(results_dir, out_path))


@bench.command("features")
@click.option("--dataset", type=click.Choice(list(DATASETS)), default=None,
              help="Take the pairs named by --pairs from this benchmark dataset.")
@click.option("--pairs", callback=_pairs, default=None,
              help="Stems of --dataset, comma-separated (default: its first pair).")
@click.option("--pair", "files", type=click.Path(dir_okay=False), nargs=2, multiple=True,
              metavar="IR VIS", help="An image pair given by its two files; repeatable.")
@click.option("--weights", default=None,
              help="Bundled weights name or .safetensors path (default: the bundled lite).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: <stem>.png (the figure) and <stem>.json per pair.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto.")
def features_command(dataset: str | None, pairs: list[str] | None,
                     files: tuple[tuple[str, str], ...], weights: str | None, out_dir: str,
                     device: str) -> None:
    """Feature maps before and after mutual information transfer (Fig. 4).

    \b
      critnet bench features --dataset tno42 --pairs 17_Kaptein_1123 --out docs/results/features
    """
    from pathlib import Path

    from critnet.evaluation.bench.datasets import load_dataset
    from critnet.evaluation.bench.features import bench_features
    from critnet.pipeline.loading import load_model

    if dataset is None and not files:
        raise InputError("give --dataset (with --pairs) or at least one --pair IR VIS")
    chosen = [(Path(ir).stem, Path(ir), Path(vis)) for ir, vis in files]
    title = "image pair"
    if dataset is not None:
        data = load_dataset(dataset)
        by_stem = {stem: (stem, ir, vis) for stem, ir, vis in data.pairs}
        unknown = [s for s in pairs or [] if s not in by_stem]
        if unknown:
            raise InputError(f"{data.root / data.spec.folder}: no pair named {unknown[0]!r} "
                             f"in {dataset}")
        chosen += [by_stem[s] for s in pairs] if pairs else [data.pairs[0]]
        title = data.spec.title
    model = load_model(weights, device=device)
    for path in bench_features(model, chosen, out_dir, title=title):
        click.echo(f"wrote {path}")


def _summary(result) -> None:
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo((result.out_dir / "table.md").read_text())
    click.echo(f"wrote {len(result.files)} files to {result.out_dir}")
