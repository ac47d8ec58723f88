"""What ``critnet fuse``'s arguments mean: the two inputs (or one camera file), single, folder or
video mode, the output path, and option combinations that would do nothing."""

from __future__ import annotations

import os
from pathlib import Path

import click

from critnet.errors import InputError
from critnet.io import WRITE_FORMATS


def inputs_of(
    inputs: tuple[Path, ...], ir_input: Path | None, vis_input: Path | None
) -> tuple[Path, Path]:
    from critnet.io.paths import broken_link

    for path in (*inputs, ir_input, vis_input):
        if path is not None and (problem := broken_link(path)):
            raise InputError(f"{path}: {problem}")
    if inputs and (ir_input or vis_input):
        raise click.UsageError("give IR VIS as arguments or as --ir/--vis, not both")
    if len(inputs) == 1:
        return inputs[0], camera_pair(inputs[0])
    if inputs:
        if len(inputs) != 2:
            raise click.UsageError(f"expected two inputs, IR and VIS; got {len(inputs)}")
        return inputs[0], inputs[1]
    if ir_input is None or vis_input is None:
        raise click.UsageError("give IR VIS (two images) or --ir DIR --vis DIR (two folders)")
    return ir_input, vis_input


def as_path(text: str | None) -> Path | None:
    return None if text is None else Path(text)


def camera_pair(path: Path) -> Path:
    """One input: a radiometric JPEG fused with its own embedded photo (the visible input is
    the file itself, read as its photo); refused for any other file."""
    from critnet.io.camera import camera_family

    if path.is_file() and camera_family(path) is None:
        raise InputError(f"{path}: one input must be a radiometric JPEG with an embedded photo "
                         f"(FLIR MSX / FLIR One); for other files give IR VIS")
    return path


def output_path(output: str, folder_mode: bool, vis_path: Path, ext: str) -> Path:
    """``-o`` as a path: a trailing slash names a folder (one pair goes in as VIS_STEM.EXT);
    an image file name for a folder run is refused."""
    path = Path(output)
    if folder_mode:
        if path.suffix and path.suffix.lower() in WRITE_FORMATS and not path.is_dir():
            raise InputError(f"{output}: looks like an image file name but the inputs are "
                             f"folders; give an output folder (e.g. -o {path.with_suffix('')}/)")
        return path
    if output.endswith(("/", os.sep)):
        return path / f"{vis_path.stem}.{ext}"
    return path


def refuse_idle_options(video_mode: bool, register: str | None, bit_depth: str,
                         pair_by: str) -> None:
    """Refuse options given on the command line that would do nothing as combined (a silent
    no-op hides a mistake), in one line naming the option and what it needs."""
    ctx = click.get_current_context()

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE

    if given("register_method") and register is None:
        raise InputError("--register-method chooses how --register estimates the "
                         "transform; it does nothing without --register")
    if video_mode and bit_depth == "16":
        raise InputError("--bit-depth 16 is for grey PNG/TIFF images; a fused video is "
                         "8-bit H.264/MPEG-4")
    if not video_mode and (given("pair_by") or given("time_tolerance")):
        option = "--pair-by" if given("pair_by") else "--time-tolerance"
        raise InputError(f"{option} pairs the frames of two videos; the inputs are not "
                         f"videos")
    if given("time_tolerance") and pair_by == "index":
        raise InputError("--time-tolerance applies to --pair-by time; --pair-by index "
                         "pairs frames by their number")


def video_mode_of(ir_path: Path, vis_path: Path, output: Path) -> bool:
    """Whether both inputs are videos; a video with an image, or a video output from inputs
    that are not both videos, is refused naming the input that is not a video."""
    from critnet.pipeline.video import is_video
    from critnet.pipeline.video.files import check_video_output

    videos = (is_video(ir_path), is_video(vis_path))
    if all(videos):
        check_video_output(output)
        return True
    if any(videos) or is_video(output):
        video = ir_path if videos[0] else vis_path if videos[1] else f"the output {output}"
        other = vis_path if videos[0] else ir_path
        raise InputError(f"{other}: not a video (by its suffix), but {video} is one: fuse two "
                         f"videos into a video, or two images into an image")
    return False


def folder_mode_of(ir_path: Path, vis_path: Path) -> bool:
    """Folders unless either input is an existing file (so a missing file is named as such)."""
    return not (ir_path.is_file() or vis_path.is_file()) and (
        ir_path.is_dir() or vis_path.is_dir() or not ir_path.suffix)
