"""``critnet demo``: fuse the built-in example scene; no input needed."""

from __future__ import annotations

from pathlib import Path

import click

from critnet.pipeline.demo import UNTRAINED_WARNING, demo_model, run_demo
from critnet.pipeline.fusion import DEVICES


@click.command("demo")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("critnet-demo"),
              show_default=True, help="Folder for ir.png, vis.png, fused.png and panel.png.")
@click.option("--weights", metavar="NAME|PATH",
              help="Bundled weights name or .safetensors file [default: bundled default].")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
def demo(output: Path, weights: str | None, device: str) -> None:
    """Fuse a built-in night scene and write the inputs, the result and a comparison panel.

    The scene is generated in code: a person hidden in foggy foliage in the visible image but
    bright in the infrared image, and texture (bricks, leaves, lane marks) only the visible
    image shows. Open panel.png to compare IR | visible | fused.

    \b
    Examples:
      critnet demo
      critnet demo -o /tmp/demo --weights path/to/weights.safetensors
    """
    model, description, trained = demo_model(weights, device=device, backend="auto")
    if not trained:
        click.secho(UNTRAINED_WARNING, err=True, fg="red", bold=True)
    label = "fused" if trained else "fused (UNTRAINED weights: not meaningful)"
    result = run_demo(output, model, fused_label=label)
    click.echo(f"weights: {description}")
    for path in (result.ir, result.vis, result.fused, result.panel):
        click.echo(f"wrote {path}")
    click.echo(f"open {result.panel} to compare IR | visible | fused")
    if not trained:
        click.echo(UNTRAINED_WARNING)
