"""``critnet fuse``: fuse one pair of images, or two folders of pairs matched by file stem."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from tqdm import tqdm

from critnet.api import FuseOptions, describe_weights, fuse_file, load_model
from critnet.backends import BACKENDS, PRECISIONS, model_device
from critnet.folder import FOLDER_EXTENSIONS, fuse_folder
from critnet.fusion import DEVICES, OUTPUT_NORMALIZATIONS, resolve_device
from critnet.io import NORMALIZATIONS
from critnet.model import PRESETS

_PATH = click.Path(path_type=Path)


@click.command("fuse")
@click.argument("inputs", nargs=-1, type=_PATH, metavar="[IR VIS]")
@click.option("--ir", "ir_input", type=_PATH, help="Infrared image, or folder of them.")
@click.option("--vis", "vis_input", type=_PATH, help="Visible image, or folder of them.")
@click.option("-o", "--output", type=_PATH, required=True,
              help="Output image (format from its suffix; PNG without one), or output folder.")
@click.option("--weights", metavar="NAME|PATH",
              help="Bundled weights name or .safetensors file [default: bundled default].")
@click.option("--preset", type=click.Choice(sorted(PRESETS)),
              help="Refuse weights of any other preset.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="auto = CUDA when available, else CPU.")
@click.option("--backend", type=click.Choice(BACKENDS), default="torch", show_default=True,
              help="onnxruntime runs the exported graph on the CPU (needs critnet[onnx]).")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True,
              help="bf16/fp16: half-precision torch inference (for CUDA), within 1/255 of fp32.")
@click.option("--gray", is_flag=True, help="Grey output even for colour visible images.")
@click.option("--resize-ir", is_flag=True,
              help="Resample IR (bicubic) to the visible size instead of refusing a mismatch.")
@click.option("--ir-normalize", type=click.Choice(NORMALIZATIONS),
              help="IR scaling: full (÷ max of the bit depth), minmax, percentile (0.5-99.5 %) "
                   "[default: percentile for 16-bit IR, full for 8-bit].")
@click.option("--normalize", type=click.Choice(OUTPUT_NORMALIZATIONS), default="none",
              show_default=True,
              help="minmax stretches each output to [0, 1] (parity with the released code only).")
@click.option("--ext", type=click.Choice(FOLDER_EXTENSIONS), default="png", show_default=True,
              help="Output format in folder mode.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (default: skip them).")
@click.option("--register", type=click.Choice(("affine", "homography")), is_flag=False,
              flag_value="affine", default=None,
              help="Estimate the IR->visible transform (ECC on edges; --register alone: affine) "
                   "and warp IR before fusing (needs critnet[video]).")
@click.option("--pair-by", type=click.Choice(("time", "index")), default="time", show_default=True,
              help="Videos: pair frames by nearest timestamp or by index.")
@click.option("--time-tolerance", type=float, metavar="SECONDS",
              help="Videos, --pair-by time: largest IR/visible time gap [default: 1 IR frame].")
@click.option("--ir-range", type=(float, float), metavar="LO HI",
              help="Videos: IR levels mapped to 0..1 for the whole stream [default: 16-bit IR: "
                   "0.5-99.5 % of the first 30 frames; 8-bit: /255].")
def fuse(
    inputs: tuple[Path, ...],
    ir_input: Path | None,
    vis_input: Path | None,
    output: Path,
    weights: str | None,
    preset: str | None,
    device: str,
    backend: str,
    precision: str,
    gray: bool,
    resize_ir: bool,
    ir_normalize: str | None,
    normalize: str,
    ext: str,
    overwrite: bool,
    register: str | None,
    pair_by: str,
    time_tolerance: float | None,
    ir_range: tuple[float, float] | None,
) -> None:
    """Fuse infrared and visible images with C-RITNet.

    A colour visible image gives a colour result: its luma (Y) is fused with the IR image and
    its colour (Cb/Cr) is kept. IR and visible images must have the same size (or pass
    --resize-ir). Inputs: PNG, JPEG, BMP, TIFF; 1/8/16-bit grey, RGB, RGBA, palette.

    \b
    One pair (an existing output is refused unless --overwrite):
      critnet fuse ir.png vis.jpg -o fused.png
      critnet fuse thermal16.tif vis.png -o fused.png --ir-normalize minmax
      critnet fuse ir.png vis_large.png -o fused.png --resize-ir

    \b
    Two folders, pairs matched by file stem (ir/X.png + vis/X.jpg -> out/X.png):
      critnet fuse --ir data/ir --vis data/vi -o out/

    In folder mode existing outputs are skipped, so rerunning an interrupted run resumes it
    (--overwrite redoes them); files without a partner are listed; a pair whose input is
    unusable is reported by name and the run goes on, ending with exit code 1.

    \b
    Two videos (any format FFmpeg reads; needs critnet[video]) -> MP4 at the visible frame rate:
      critnet fuse thermal.mkv colour.mp4 -o fused.mp4 --register

    \b
    Weights: the bundled default, or --weights NAME|PATH:
      critnet fuse ir.png vis.png -o fused.png --weights runs/lite/final.safetensors
    """
    ir_path, vis_path = _inputs(inputs, ir_input, vis_input)
    model = load_model(weights, device=resolve_device(device), preset=preset, backend=backend,
                       precision=precision)
    used = f"weights: {describe_weights(weights)} on {model_device(model)}"
    if (backend, precision) != ("torch", "fp32"):
        used += f", {backend} {precision}"
    options = FuseOptions(gray=gray, resize_ir=resize_ir, ir_normalize=ir_normalize,
                          normalize=normalize, register=register)
    if register is not None:
        _report_registrations()
    if _video_mode(ir_path, vis_path):
        _fuse_video(ir_path, vis_path, output, model, options, pair_by, time_tolerance, ir_range,
                    overwrite, used)
        return
    if not _folder_mode(ir_path, vis_path):
        fuse_file(ir_path, vis_path, output, model, options=options, overwrite=overwrite)
        click.echo(f"wrote {output} ({used})")
        return
    click.echo(used)
    report = fuse_folder(ir_path, vis_path, output, model, options=options, ext=ext,
                         overwrite=overwrite, progress=None,
                         log=lambda line: tqdm.write(line, file=sys.stderr))
    click.echo(f"{report.summary()} -> {output}")
    if report.failed:
        sys.exit(1)


def _inputs(
    inputs: tuple[Path, ...], ir_input: Path | None, vis_input: Path | None
) -> tuple[Path, Path]:
    if inputs and (ir_input or vis_input):
        raise click.UsageError("give IR VIS as arguments or as --ir/--vis, not both")
    if inputs:
        if len(inputs) != 2:
            raise click.UsageError(f"expected two inputs, IR and VIS; got {len(inputs)}")
        return inputs[0], inputs[1]
    if ir_input is None or vis_input is None:
        raise click.UsageError("give IR VIS (two images) or --ir DIR --vis DIR (two folders)")
    return ir_input, vis_input


def _report_registrations() -> None:
    """Print each estimated transform (logged by critnet.registration) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name("critnet-cli")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("critnet.registration")
    logger.setLevel(logging.INFO)
    for old in [h for h in logger.handlers if h.get_name() == "critnet-cli"]:
        logger.removeHandler(old)
    logger.addHandler(handler)


def _video_mode(ir_path: Path, vis_path: Path) -> bool:
    from critnet.video import is_video

    return is_video(ir_path) and is_video(vis_path)


def _fuse_video(ir_path: Path, vis_path: Path, output: Path, model, options: FuseOptions,
                pair_by: str, time_tolerance: float | None,
                ir_range: tuple[float, float] | None, overwrite: bool, used: str) -> None:
    from critnet.video import fuse_video

    click.echo(used)
    with tqdm(unit="frame", desc="fusing", file=sys.stderr) as bar:
        report = fuse_video(ir_path, vis_path, output, model, options=options, pair_by=pair_by,
                            time_tolerance=time_tolerance, ir_range=ir_range,
                            overwrite=overwrite, progress=bar.update,
                            log=lambda line: tqdm.write(line, file=sys.stderr))
    click.echo(f"wrote {output} ({report.summary()})")


def _folder_mode(ir_path: Path, vis_path: Path) -> bool:
    """Folders unless either input is an existing file (so a missing file is named as such)."""
    return not (ir_path.is_file() or vis_path.is_file()) and (
        ir_path.is_dir() or vis_path.is_dir() or not ir_path.suffix)
