"""``critnet fuse``: fuse one pair of images, or two folders of pairs matched by file stem."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from critnet.cli import for_cli
from critnet.cli.fuse_inputs import (
    as_path,
    folder_mode_of,
    inputs_of,
    output_path,
    refuse_idle_options,
    video_mode_of,
)
from critnet.errors import InputError
from critnet.io import MAX_PIXELS, NORMALIZATIONS
from critnet.io.progress import log_line, progress_bar
from critnet.model import PRESETS
from critnet.pipeline.bundled import describe_model
from critnet.pipeline.folder import FOLDER_EXTENSIONS, FolderReport, fuse_folder
from critnet.pipeline.fusion import DEVICES, OUTPUT_NORMALIZATIONS
from critnet.pipeline.loading import describe_weights, load_model
from critnet.pipeline.options import FuseOptions
from critnet.pipeline.registration.estimate import DEFAULT_METHOD, METHODS
from critnet.pipeline.runtime import BACKENDS, PRECISIONS
from critnet.pipeline.single import fuse_file

_PATH = click.Path(path_type=Path)


@click.command("fuse")
@click.argument("inputs", nargs=-1, type=_PATH, metavar="[IR [VIS]]")
@click.option("--ir", "ir_input", type=click.Path(), help="Infrared image, or folder of them "
              "(--engine ray: also an fsspec URL such as s3://bucket/ir).")
@click.option("--vis", "vis_input", type=click.Path(), help="Visible image, or folder of them.")
@click.option("-o", "--output", type=click.Path(), required=True,
              help="Output image (format from its suffix; PNG without one), or output folder "
                   "(a trailing / means a folder: one pair is written there as VIS_STEM.EXT).")
@click.option("--weights", metavar="NAME|PATH",
              help="Bundled weights name or .safetensors file [default: bundled default].")
@click.option("--preset", type=click.Choice(sorted(PRESETS)),
              help="Refuse weights of any other preset.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="auto = CUDA when available, else CPU.")
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True,
              help="auto = onnxruntime (tiles, bf16/fp16 and CUDA on torch); onnxruntime runs "
                   "the exported graph on the CPU (shipped with the bundled weights; other "
                   "weights' graphs are exported once and cached, $CRITNET_CACHE); torch "
                   "needs critnet[torch].")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True,
              help="bf16/fp16: half-precision torch inference (for CUDA), within 1/255 of fp32.")
@click.option("--gray", is_flag=True, help="Grey output even for colour visible images.")
@click.option("--resize-ir", is_flag=True,
              help="Resample IR (bicubic) to the visible size instead of refusing a mismatch.")
@click.option("--ir-normalize", type=click.Choice(NORMALIZATIONS),
              help="IR scaling: full (÷ max of the bit depth), minmax, percentile (0.5-99.5 %) "
                   "[default: percentile for 16-bit and float IR, full for 8-bit].")
@click.option("--ir-range", nargs=2, type=float, metavar="LOW HIGH",
              help="IR values LOW..HIGH (file units: 16-bit levels, or temperatures in a float "
                   "TIFF or a radiometric JPEG, °C) map to black..white; instead of "
                   "--ir-normalize.")
@click.option("--ir-palette-ok", is_flag=True,
              help="Fuse a colour IR image without radiometric data (a palette rendering) as "
                   "its luma instead of refusing it.")
@click.option("--normalize", type=click.Choice(OUTPUT_NORMALIZATIONS), default="none",
              show_default=True,
              help="minmax stretches each output to [0, 1] (parity with the released code only).")
@click.option("--ext", type=click.Choice(FOLDER_EXTENSIONS), default="png", show_default=True,
              help="Output format in folder mode (and for one pair into -o DIR/).")
@click.option("--bit-depth", type=click.Choice(["8", "16"]), default="8", show_default=True,
              help="Bits per sample of the output; 16 for grey PNG/TIFF only.")
@click.option("--quality", type=int, help="JPEG output quality 1-100 [default: 95].")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (default: skip them).")
@click.option("--tile", default="auto", show_default=True, metavar="auto|N|off",
              help="Exact tiled inference in N×N tiles, N >= 64 (same result, bounded memory); "
                   "auto tiles only when the image would not fit in memory.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=MAX_PIXELS, show_default=True,
              help="Refuse larger input images (guard against decompression bombs).")
@click.option("--quiet", "-q", is_flag=True, help="Print errors only (implies --no-progress).")
@click.option("--no-progress", is_flag=True,
              help="No progress bar in folder mode (it is shown only on a terminal anyway).")
@click.option("--register", type=click.Choice(("affine", "homography")), is_flag=False,
              flag_value="affine", default=None,
              help="Estimate the IR->visible transform (ECC on edges; --register alone: affine) "
                   "and warp IR before fusing, unless it does not beat doing nothing (needs "
                   "critnet[video]).")
@click.option("--register-method", type=click.Choice(METHODS), default=DEFAULT_METHOD,
              show_default=True,
              help="Registration estimator: scale x translation search then ECC, multi-start "
                   "ECC, single-start ECC, or Mattes MI (needs critnet[register]).")
@click.option("--pair-by", type=click.Choice(("time", "index")), default="time", show_default=True,
              help="Videos: pair frames by nearest timestamp or by index.")
@click.option("--time-tolerance", type=click.FloatRange(min=0, min_open=True, max=3600),
              metavar="SECONDS",
              help="Videos, --pair-by time: largest IR/visible time gap [default: 1 IR frame].")
@click.option("--engine", type=click.Choice(("local", "ray")), default="local", show_default=True,
              help="Folders: fuse on this process, or on Ray Data (a local runtime, or the "
                   "cluster at --address; folders may be fsspec URLs; needs critnet[cluster]).")
@click.option("--address", metavar="ADDR",
              help="--engine ray: join this Ray cluster (ray start --head prints it; auto).")
@click.option("--workers", type=click.IntRange(min=1),
              help="--engine ray: worker processes, each loading the model once "
                   "[default: one per CPU of the cluster].")
def fuse(
    inputs: tuple[Path, ...],
    ir_input: str | None,
    vis_input: str | None,
    output: str,
    weights: str | None,
    preset: str | None,
    device: str,
    backend: str,
    precision: str,
    gray: bool,
    resize_ir: bool,
    ir_normalize: str | None,
    ir_range: tuple[float, float] | None,
    ir_palette_ok: bool,
    normalize: str,
    ext: str,
    bit_depth: str,
    quality: int | None,
    overwrite: bool,
    tile: str,
    max_pixels: int,
    quiet: bool,
    no_progress: bool,
    register: str | None,
    register_method: str,
    pair_by: str,
    time_tolerance: float | None,
    engine: str,
    address: str | None,
    workers: int | None,
) -> None:
    """Fuse infrared and visible images with C-RITNet.

    A colour visible image gives a colour result: its luma (Y) is fused with the IR image and
    its colour (Cb/Cr) is kept. IR and visible images must have the same size (or pass
    --resize-ir). Inputs: PNG, JPEG, BMP, TIFF; 1/8/16-bit or float32 grey, RGB, RGBA, palette.

    \b
    One pair (an existing output is refused unless --overwrite):
      critnet fuse ir.png vis.jpg -o fused.png
      critnet fuse thermal16.tif vis.png -o fused.png --ir-normalize minmax
      critnet fuse ir.png vis_large.png -o fused.png --resize-ir
      critnet fuse temps.tif vis.png -o fused.png --ir-range 15 40   # float32 °C
      critnet fuse ir.png vis.png -o fused.png --bit-depth 16 --gray

    \b
    Camera files (FLIR radiometric JPEG, DJI R-JPEG; needs critnet[thermal] for FLIR): as IR
    they give what the camera measured (°C), never their palette image; one FLIR file with an
    embedded photo fuses with it (on the thermal grid). A colour IR image without such data is
    refused as a palette rendering unless --ir-palette-ok:
      critnet fuse FLIR0001.jpg -o fused.png
      critnet fuse FLIR0001.jpg vis.jpg -o fused.png --resize-ir --ir-range 20 40
      critnet fuse --ir flight/ --vis flight/ -o out/   # DJI_0001_T.JPG + DJI_0001_W.JPG

    Multi-frame TIFF and animated GIF/WebP inputs are refused: fuse videos with
    critnet fuse IR_VIDEO VIS_VIDEO.

    \b
    Two folders, pairs matched by file stem (ir/X.png + vis/X.jpg -> out/X.png):
      critnet fuse --ir data/ir --vis data/vi -o out/

    In folder mode existing outputs are skipped, so rerunning an interrupted run resumes it
    (--overwrite redoes them); files without a partner are listed; a pair whose input is
    unusable is reported by name and the run goes on, ending with exit code 1. A progress bar
    is shown on a terminal only. Runs into one output folder at the same time split the work.
    --engine ray runs the same folder run on Ray Data (a local runtime, or --address of a
    cluster; folders may be URLs such as s3://bucket/ir; needs critnet[cluster]).

    \b
    Two videos (any format FFmpeg reads; needs critnet[video]) -> MP4 at the visible frame rate:
      critnet fuse thermal.mkv colour.mp4 -o fused.mp4 --register

    \b
    Weights: the bundled default, or --weights NAME|PATH:
      critnet fuse ir.png vis.png -o fused.png --weights runs/lite/final.safetensors
    """
    if engine == "local" and (address or workers):
        raise click.UsageError("--address and --workers apply to --engine ray")
    options = FuseOptions(gray=gray, resize_ir=resize_ir, ir_normalize=ir_normalize,
                          ir_range=ir_range or None, normalize=normalize,
                          bit_depth=int(bit_depth), quality=quality, tile=tile,
                          max_pixels=max_pixels, register=register,
                          register_method=register_method, ir_palette_ok=ir_palette_ok)
    if engine == "ray":
        from critnet.cli.cluster import fuse_on_ray

        fuse_on_ray(inputs, ir_input, vis_input, output, weights=weights, preset=preset,
                    device=device, backend=backend, precision=precision, options=options,
                    ext=ext, overwrite=overwrite, address=address, workers=workers,
                    video={"pair_by": pair_by, "time_tolerance": time_tolerance,
                           "ir_range": ir_range or None},
                    quiet=quiet, progress=False if quiet or no_progress else None,
                    check_output=lambda: output_path(output, True, Path("."), ext))
        return
    ir_path, vis_path = inputs_of(inputs, as_path(ir_input), as_path(vis_input))
    video_mode = video_mode_of(ir_path, vis_path, Path(output))
    refuse_idle_options(video_mode, register, bit_depth, pair_by)
    folder_mode = folder_mode_of(ir_path, vis_path)
    out = output_path(output, folder_mode, vis_path, ext)
    say = (lambda _line: None) if quiet else click.echo
    model = load_model(weights, device=device, preset=preset, backend=backend,
                       precision=precision)
    used = f"weights: {describe_weights(weights)} on {describe_model(model)}"
    if quiet and hasattr(model, "note"):  # the auto backend's one-line notes
        model.note = None
    if register is not None:
        _report_registrations()
    if video_mode:
        _fuse_video(ir_path, vis_path, Path(output), model, options, pair_by, time_tolerance,
                    ir_range, overwrite, used, say, show=False if quiet or no_progress else None)
        return
    if not folder_mode:
        fuse_file(ir_path, vis_path, out, model, options=options, overwrite=overwrite)
        say(f"wrote {out} ({used})")
        return
    say(used)
    report = FolderReport()
    try:
        fuse_folder(ir_path, vis_path, out, model, options=options, ext=ext,
                    overwrite=overwrite, progress=False if quiet or no_progress else None,
                    log=lambda line: log_line(for_cli(line)), report=report)
    except Exception:
        if report.fused or report.skipped or report.failed or report.claimed:
            say(f"stopped: {report.summary()} -> {out}")  # what was done, before the error
        raise
    say(f"{report.summary()} -> {out}")
    if report.failed:
        sys.exit(1)






def _report_registrations() -> None:
    """Print each estimated transform (logged by critnet.pipeline.registration) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name("critnet-cli")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("critnet.pipeline.registration")
    logger.setLevel(logging.INFO)
    for old in [h for h in logger.handlers if h.get_name() == "critnet-cli"]:
        logger.removeHandler(old)
    logger.addHandler(handler)




def _fuse_video(ir_path: Path, vis_path: Path, output: Path, model, options: FuseOptions,
                pair_by: str, time_tolerance: float | None,
                ir_range: tuple[float, float] | None, overwrite: bool, used: str, say,
                show: bool | None) -> None:
    from critnet.pipeline.video import fuse_video
    from critnet.pipeline.video.streams import frame_count

    say(used)
    try:  # one output frame per visible frame: the bar's total gives its rate and ETA
        total = frame_count(vis_path)[0] if vis_path.is_file() else None
    except InputError:
        total = None  # fuse_video names the problem
    with progress_bar(show=show, total=total, unit="frame", desc="fusing") as bar:
        report = fuse_video(ir_path, vis_path, output, model, options=options, pair_by=pair_by,
                            time_tolerance=time_tolerance, ir_range=ir_range,
                            overwrite=overwrite, progress=bar.update,
                            log=log_line)
    say(f"wrote {output} ({report.summary()})")
