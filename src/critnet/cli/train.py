"""``critnet train``: MPTP training from a YAML config and/or folders of pairs (single process or
under torchrun)."""

from __future__ import annotations

import click


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="YAML training config, e.g. configs/cpu.yaml (with --ir/--vis: the base "
                   "the options change).")
@click.option("--ir", "ir_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of infrared training images (paired with --vis by file stem).")
@click.option("--vis", "vis_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of visible training images.")
@click.option("--init", default=None, metavar="lite|PATH",
              help="Fine-tune these weights (all modules) instead of training from scratch.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Epochs (default: derived from the number of pairs).")
@click.option("--val", "val_fraction", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Fraction of the stems held out for validation, by a hash of the stem "
                   "(default 0.1 with --ir/--vis; 0: none; in a small folder the split adapts "
                   "and says how).")
@click.option("--val-ir", type=click.Path(file_okay=False), default=None,
              help="Validation folder of infrared images (with --val-vis), instead of --val.")
@click.option("--val-vis", type=click.Path(file_okay=False), default=None,
              help="Validation folder of visible images.")
@click.option("--resize-ir", is_flag=True,
              help="Resample IR images to the visible size instead of skipping the pair.")
@click.option("--strict", is_flag=True, help="Refuse to train if any file or pair is unusable.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: runs/<config name>).")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop when the global step reaches N (checkpoint written there).")
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:N (default: the config's).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train(config_path: str | None, ir_dir: str | None, vis_dir: str | None, init: str | None,
          epochs: int | None, val_fraction: float | None, val_ir: str | None,
          val_vis: str | None, resize_ir: bool, strict: bool, out_dir: str | None,
          resume: bool, max_steps: int | None, device: str | None, no_progress: bool) -> None:
    """Train C-RITNet with the mutual promotion training paradigm.

    With --config alone, training reads the config's data sources; by default RoadScene from
    DATA/roadscene (subsets.csv, ir/, vi/), where DATA is the config's data.root, else the
    CRITNET_DATA environment variable, else ../shared/data (download it with: critnet data
    fetch roadscene).

    With --ir/--vis, training reads your own pairs, matched by stem and read as critnet fuse
    reads them; 10 % of the stems (by a hash of the stem) are held out and scored at every
    block end (val.csv; best.safetensors). Unusable files are listed and skipped.

    \b
      critnet train --ir IR_DIR --vis VIS_DIR --out runs/mine
      critnet train --ir IR_DIR --vis VIS_DIR --out runs/ft --init lite
      critnet train --config configs/cpu.yaml
    \b
    Multi-GPU / multi-node: torchrun --nproc_per_node K -m critnet train --config ...
    """
    from critnet.train import load_config, run_training
    from critnet.train.recipe import folder_config

    if (ir_dir is None) != (vis_dir is None) or (val_ir is None) != (val_vis is None):
        raise click.UsageError("give --ir and --vis together (and --val-ir with --val-vis)")
    if val_fraction is not None and val_ir is not None:
        raise click.UsageError("give --val FRACTION or --val-ir/--val-vis, not both")
    if config_path is None and ir_dir is None:
        raise click.UsageError("give --config FILE or --ir IR_DIR --vis VIS_DIR")
    base = load_config(config_path) if config_path is not None else None
    options = (ir_dir, init, epochs, val_fraction, val_ir, resize_ir or None, strict or None)
    config = base if all(o is None for o in options) else folder_config(
        base, ir=ir_dir, vis=vis_dir, init=init, epochs=epochs, val=val_fraction,
        val_ir=val_ir, val_vis=val_vis, resize_ir=resize_ir, strict=strict)
    summary = run_training(config, out_dir, resume=resume, max_steps=max_steps,
                           device=device, progress=not no_progress,
                           log=lambda line: click.echo(line, err=True))
    if summary["is_main"]:
        click.echo(f"step {summary['step']}/{summary['total_steps']} "
                   f"({summary['steps_run']} steps in {summary['seconds']:.1f} s) -> "
                   f"{summary['out_dir']}")
        best = summary.get("best")
        if best:
            click.echo(f"best: block {best['block']} (step {best['step']}, Qabf {best['Qabf']}, "
                       f"SSIM {best['SSIM']}, EN {best['EN']}, Qcv {best['Qcv']}) -> "
                       f"{summary['out_dir']}/best.safetensors")
