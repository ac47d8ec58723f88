"""``critnet train``: MPTP training from a YAML config (single process or under torchrun)."""

from __future__ import annotations

import click


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="YAML training config, e.g. configs/cpu.yaml.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: runs/<config name>).")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop when the global step reaches N (checkpoint written there).")
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:N (default: the config's).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train(config_path: str, out_dir: str | None, resume: bool, max_steps: int | None,
          device: str | None, no_progress: bool) -> None:
    """Train C-RITNet with the mutual promotion training paradigm.

    Training reads RoadScene from DATA/roadscene (subsets.csv, ir/, vi/), where DATA is the
    config's data.root, else the CRITNET_DATA environment variable, else ../shared/data.

    \b
    Multi-GPU / multi-node: torchrun --nproc_per_node K -m critnet train --config ...
    """
    from critnet.train import run_training

    summary = run_training(config_path, out_dir, resume=resume, max_steps=max_steps,
                           device=device, progress=not no_progress)
    if summary["is_main"]:
        click.echo(f"step {summary['step']}/{summary['total_steps']} "
                   f"({summary['steps_run']} steps in {summary['seconds']:.1f} s) -> "
                   f"{summary['out_dir']}")
