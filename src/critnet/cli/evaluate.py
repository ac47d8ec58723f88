"""``critnet evaluate``: fusion metrics for folders of fused images (thin wrapper over
:mod:`critnet.evaluation.evaluate`)."""

from __future__ import annotations

import warnings

import click

from critnet.evaluation.evaluate import (
    evaluate_methods,
    parse_methods,
    per_image_csv,
    result_json,
)
from critnet.evaluation.summary import nan_notes
from critnet.evaluation.tables import format_table
from critnet.io.atomic import atomic_path
from critnet.metrics.retention import RING


def _check_ring(ring: tuple[int, int]) -> tuple[int, int]:
    if ring[0] >= ring[1]:
        raise click.BadParameter(f"INNER {ring[0]} must be below OUTER {ring[1]}")
    return ring


def _write(path: str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@click.command("evaluate")
@click.option("--ir", "ir_dir", required=True, type=click.Path(), help="Infrared source folder.")
@click.option("--vis", "vis_dir", required=True, type=click.Path(), help="Visible source folder.")
@click.option("--fused", "fused", required=True, multiple=True, metavar="[NAME=]DIR",
              help="Fused-image folder of one method (repeatable); named by its folder name "
                   "unless NAME= is given.")
@click.option("--metrics", default="paper", show_default=True,
              help="'paper' (CC,EN,Qabf,Qcv,SCD,SSIM), 'all', or a comma list such as CC,EN.")
@click.option("--mode", type=click.Choice(["gray", "vifb"]), default="gray", show_default=True,
              help="gray: every image converted with MATLAB rgb2gray; vifb: VIFB's per-channel "
                   "scoring of colour fused images.")
@click.option("--convention", type=click.Choice(["matlab", "cddfuse", "tang"]),
              default="matlab", show_default=True,
              help="Which reference code defines each metric: matlab (VIFB / the C-RITNet "
                   "paper), cddfuse (MMIF-CDDFuse utils/Evaluator.py) or tang (Tang's "
                   "Image-Fusion MATLAB scripts). A metric it does not define shows as —.")
@click.option("--per-image", "per_image", type=click.Path(), help="Write per-image CSV "
              "(method,image,<metric>...).")
@click.option("--table", type=click.Path(), help="Write the table of means as Markdown.")
@click.option("--latex", type=click.Path(), help="Write the table of means as LaTeX.")
@click.option("--csv", "csv_path", type=click.Path(), help="Write the means as CSV.")
@click.option("--json", "json_path", type=click.Path(), help="Write everything as JSON.")
@click.option("--digits", type=click.IntRange(0, 12), default=4, show_default=True,
              help="Decimals in the tables.")
@click.option("--jobs", "-j", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Worker processes.")
@click.option("--skip-missing", is_flag=True, help="Warn about and skip unmatched or missing "
              "files instead of failing.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--masks", type=click.Path(), help="Folder of target masks named by the pair "
              "stems (any subset): adds the column Retention, SCR(fused) / SCR(IR) over each "
              "target (docs/metrics.md).")
@click.option("--ring", nargs=2, type=click.IntRange(min=0), default=RING, show_default=True,
              callback=lambda _ctx, _param, ring: _check_ring(ring),
              metavar="INNER OUTER", help="With --masks: the clutter ring around each target, "
              "in pixels from it.")
def evaluate(ir_dir: str, vis_dir: str, fused: tuple[str, ...], metrics: str, mode: str,
             convention: str, per_image: str | None, table: str | None, latex: str | None,
             csv_path: str | None, json_path: str | None, digits: int, jobs: int,
             skip_missing: bool, no_progress: bool, masks: str | None,
             ring: tuple[int, int]) -> None:
    """Score fused images against their IR/VIS pairs and print a table of means.

    Pairs are matched by file stem. The best value per column is bold (** in Markdown) and
    the second italic, respecting whether lower is better (arrows in the header).

    \b
    Example:
      critnet evaluate --ir tno/ir --vis tno/vi --fused out/A --fused B=out/other \\
          --metrics all --per-image per_image.csv --table table.md --skip-missing
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = evaluate_methods(ir_dir, vis_dir, parse_methods(fused), metrics, jobs=jobs,
                                  skip_missing=skip_missing, mode=mode,
                                  progress=not no_progress, convention=convention,
                                  masks=masks, ring=tuple(ring))
    for warning in caught:
        click.echo(f"critnet: warning: {warning.message}", err=True)
    for note in nan_notes(result.nan_pairs):
        click.echo(f"critnet: note: {note}", err=True)
    if result.absent:
        click.echo(f"critnet: note: convention {convention} does not define "
                   f"{', '.join(result.absent)}: shown as —", err=True)
    absent = result.absent
    markdown = format_table(result.means, result.metrics, "markdown", digits=digits,
                            absent=absent)
    click.echo(f"{len(result.images)} image pairs, {len(result.methods)} method(s), "
               f"mode {mode}, convention {convention}\n")
    click.echo(markdown, nl=False)
    outputs = {table: markdown,
               latex: lambda: format_table(result.means, result.metrics, "latex", digits=digits,
                                           absent=absent),
               csv_path: lambda: format_table(result.means, result.metrics, "csv",
                                              absent=absent),
               per_image: lambda: per_image_csv(result),
               json_path: lambda: result_json(result)}
    for path, text in outputs.items():
        if path:
            _write(path, text if isinstance(text, str) else text())
