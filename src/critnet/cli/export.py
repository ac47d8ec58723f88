"""``critnet export``: write a trained model as an ONNX graph (any H×W) for onnxruntime."""

from __future__ import annotations

from pathlib import Path

import click

from critnet.model import PRESETS
from critnet.pipeline.export import export_onnx, read_onnx_metadata
from critnet.pipeline.loading import describe_weights, load_model
from critnet.weights import default_weights_name, resolve_weights


@click.command("export")
@click.option("--onnx", "onnx_path", type=click.Path(path_type=Path), required=True,
              metavar="OUT.onnx", help="ONNX file to write (dynamic batch, height and width).")
@click.option("--weights", metavar="NAME|PATH",
              help="Bundled weights name or .safetensors file [default: bundled default].")
@click.option("--preset", type=click.Choice(sorted(PRESETS)),
              help="Refuse weights of any other preset.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.onnx.")
def export(onnx_path: Path, weights: str | None, preset: str | None, overwrite: bool) -> None:
    """Export C-RITNet to ONNX (opset 17; needs the extra: pip install 'critnet[torch]').

    The graph maps ir, vis (B×1×H×W float32 in [0, 1]) to fused (B×1×H×W in [0, 1]); its
    metadata names the preset, the config and the SHA-256 of the weights file.

    \b
      critnet export --onnx critnet-lite.onnx
      critnet export --onnx model.onnx --weights runs/lite/final.safetensors
    """
    model = load_model(weights, device="cpu", preset=preset)
    source = resolve_weights(weights if weights is not None else default_weights_name())
    export_onnx(model, onnx_path, weights_path=source, overwrite=overwrite)
    meta = read_onnx_metadata(onnx_path)
    click.echo(f"wrote {onnx_path} (preset {meta['preset']}, opset {meta['opset']}, "
               f"{describe_weights(weights)}, sha256 {meta['weights_sha256'][:12]})")
