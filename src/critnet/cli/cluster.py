"""``critnet fuse --engine ray``: a folder run on Ray Data (:mod:`critnet.pipeline.cluster`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from critnet.pipeline.options import FuseOptions


def fuse_on_ray(
    inputs: tuple[Path, ...],
    ir_input: str | None,
    vis_input: str | None,
    output: str,
    *,
    weights: str | None,
    preset: str | None,
    device: str,
    backend: str,
    precision: str,
    options: FuseOptions,
    ext: str,
    overwrite: bool,
    address: str | None,
    workers: int | None,
    video: dict[str, Any],
    quiet: bool,
    progress: bool | None,
    check_output: Callable[[], Any],
) -> None:
    """Check the arguments, load the model here once (a bad weights name fails in a second,
    and the onnxruntime graph is cached before the workers look for it), run, and print the
    local run's lines; exit code 1 when a pair failed. ``check_output`` refuses an image file
    name as the output folder (the local run's check)."""
    from critnet.pipeline.backends import describe_backend, model_device
    from critnet.pipeline.cluster import fuse_folder_ray, require_ray
    from critnet.pipeline.cluster.storage import is_url
    from critnet.pipeline.fusion import resolve_device
    from critnet.pipeline.loading import describe_weights, load_model

    if inputs or not (ir_input and vis_input):
        raise click.UsageError("--engine ray fuses folders: give --ir DIR --vis DIR (paths "
                               "every node can read, or URLs such as s3://bucket/ir)")
    for folder in (ir_input, vis_input):
        if not is_url(folder) and Path(folder).is_file():
            raise click.UsageError(f"{folder}: --engine ray fuses folders; for one pair leave "
                                   f"out --engine ray")
    check_output()
    require_ray()
    model = load_model(weights, device=resolve_device(device), preset=preset, backend=backend,
                       precision=precision)
    used = f"weights: {describe_weights(weights)} on {model_device(model)}"
    if describe_backend(model) != "torch fp32":
        used += f", {describe_backend(model)}"
    del model
    say = (lambda _line: None) if quiet else click.echo
    say(f"{used}; on Ray ({address or 'a local runtime'})")
    report = fuse_folder_ray(ir_input, vis_input, output, weights=weights, preset=preset,
                             backend=backend, precision=precision, device=device,
                             options=options, ext=ext, overwrite=overwrite, address=address,
                             workers=workers, video=video, progress=progress,
                             log=lambda line: tqdm.write(line, file=sys.stderr))
    say(f"{report.summary()} -> {output}")
    if report.failed:
        sys.exit(1)
