"""Video files in and out: two video files → one fused video, encoded and written atomically."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from critnet.errors import InputError
from critnet.io.atomic import atomic_path, remove_stale_temps
from critnet.io.outputs import check_output_file
from critnet.pipeline.options import FuseOptions
from critnet.pipeline.overlap import Writer, prefetched
from critnet.pipeline.video.frames import RANGE_FRAMES, fuse_frames
from critnet.pipeline.video.streams import (
    VIDEO_OUTPUT_SUFFIXES,
    av_module,
    frame_count,
    length_mismatch,
    pair_frames,
    probe_rate,
    read_frames,
)

if TYPE_CHECKING:
    from critnet.model import CRITNet


@dataclass(frozen=True)
class VideoReport:
    """What :func:`fuse_video` did: frames written and the output frame rate."""

    path: Path
    frames: int
    rate: Fraction

    def summary(self) -> str:
        return f"{self.frames} frames at {float(self.rate):.4g} fps"

def fuse_video(
    ir_path: str | os.PathLike,
    vis_path: str | os.PathLike,
    out_path: str | os.PathLike,
    model: CRITNet | None = None,
    *,
    options: FuseOptions | None = None,
    pair_by: str = "time",
    time_tolerance: float | None = None,
    ir_range: tuple[float, float] | None = None,
    range_frames: int = RANGE_FRAMES,
    register_every: int = 0,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    log: Callable[[str], None] | None = None,
    **overrides: Any,
) -> VideoReport:
    """Fuse two video files into one video, written atomically (on any error, or if killed,
    ``out_path`` is untouched and no partial file remains under its name; the hidden temporary
    file a killed run leaves beside it is removed by the next run).

    Args:
        ir_path, vis_path: video files; the output has the visible stream's frame rate and
            size and keeps its colour (Y fused, Cb/Cr kept).
        out_path: ``.mp4`` (or another container FFmpeg writes, e.g. ``.mkv``).
        pair_by, time_tolerance: see :func:`pair_frames`.
        options, overrides, ir_range, range_frames, register_every: see :func:`fuse_frames`
            (e.g. ``register="affine"``).
        progress: called with 1 after each written frame (e.g. ``tqdm.update``).
        log: receives the IR range line of :func:`fuse_frames`.

    Returns:
        a :class:`VideoReport`.

    Raises:
        InputError: unreadable/corrupt/empty inputs, mismatched lengths (``index``; before
            any frame is fused when the containers record their frame counts) or times
            (``time``), odd frame sizes, output equal to an input, existing without
            ``overwrite``, or not writable.
    """
    av = av_module()
    options = FuseOptions.resolve(options, overrides)
    ir_path, vis_path, out_path = Path(ir_path), Path(vis_path), Path(out_path)
    for role, source in (("IR", ir_path), ("visible", vis_path)):
        if not source.is_file():
            raise InputError(f"{source}: {role} video not found")
    check_video_output(out_path)
    if time_tolerance is not None and not 0 < time_tolerance < math.inf:
        raise InputError(f"time tolerance must be a positive number of seconds, got "
                         f"{time_tolerance!r}")
    check_output_file(out_path, {"IR": ir_path, "visible": vis_path}, overwrite=overwrite,
                      example="fused.mp4")
    if (stale := remove_stale_temps(out_path.parent, out_path)) and log is not None:
        log(f"removed {len(stale)} temporary file(s) of {out_path} left by an interrupted run")
    rate, ir_rate = probe_rate(av, vis_path), probe_rate(av, ir_path)
    names = (f"IR video {ir_path}", f"visible video {vis_path}")
    if pair_by == "index":  # refused before fusing where the headers give both lengths
        (ir_count, ir_exact), (vis_count, vis_exact) = map(frame_count, (ir_path, vis_path))
        if ir_exact and vis_exact and ir_count != vis_count:
            raise length_mismatch(names, ir_count, vis_count)
    # Decoding runs in a reader thread and encoding in a writer thread while this one fuses
    # (critnet.pipeline.overlap); frames stay in order.
    pairs = prefetched(pair_frames(read_frames(ir_path, "ir"), read_frames(vis_path, "vis"),
                                   pair_by=pair_by, time_tolerance=time_tolerance,
                                   ir_rate=float(ir_rate), names=names))
    fused = fuse_frames(pairs, model, options=options, ir_range=ir_range,
                        range_frames=range_frames, register_every=register_every, log=log,
                        names=names)
    encoder = _Encoder(av, rate, out_path, progress)
    try:
        with atomic_path(out_path) as tmp:
            encoder.container = av.open(str(tmp), mode="w")
            try:
                with Writer() as writer:
                    for frame in fused:
                        writer.submit(encoder.encode, frame)
                if encoder.stream is None:
                    raise InputError(f"{vis_path}: no video frames")
                encoder.container.mux(encoder.stream.encode(None))
            finally:
                encoder.container.close()
    except OSError as error:
        raise InputError(f"{out_path}: cannot write the output video ({error.strerror or error})"
                         ) from None
    finally:
        fused.close()  # stops the reader thread if a frame failed
        pairs.close()
    return VideoReport(path=out_path, frames=encoder.count, rate=rate)


def check_video_output(out_path: Path) -> None:
    """Refuse an output name whose suffix is not a video container this writes (an image
    suffix, none, ``.webm``).

    Raises:
        InputError: one line naming the output and the suffixes to use.
    """
    suffix = out_path.suffix.lower()
    if suffix not in VIDEO_OUTPUT_SUFFIXES:
        raise InputError(f"{out_path}: two videos fuse into a video file, and "
                         f"{repr(suffix) if suffix else 'a name without a suffix'} is not one "
                         f"this can write; name the output {', '.join(VIDEO_OUTPUT_SUFFIXES)} "
                         f"(e.g. -o {out_path.with_suffix('.mp4')})")


@dataclass
class _Encoder:
    """Encodes fused frames into ``container`` (the stream is added on the first frame)."""

    av: Any
    rate: Fraction
    out_path: Path
    progress: Callable[[int], None] | None
    container: Any = None
    stream: Any = None
    count: int = 0

    def encode(self, frame: np.ndarray) -> None:
        if self.stream is None:
            size = (frame.shape[1], frame.shape[0])
            self.stream = _output_stream(self.av, self.container, self.rate, size, self.out_path)
        rgb = frame if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=2)
        packet_frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        self.container.mux(self.stream.encode(packet_frame))
        self.count += 1
        if self.progress is not None:
            self.progress(1)


#: libx264's ``veryfast`` preset: at 640×480 it encodes in 13 ms a frame instead of the default
#: ``medium``'s 36 ms (96 fused RoadScene frames, 2 cores), with a file of the same size at the
#: same constant quality (CRF 23); ``medium`` took a third of a real-time video's time budget
#: (docs/results/throughput.md).
X264_OPTIONS = {"preset": "veryfast"}


def _output_stream(av: Any, container: Any, rate: Fraction, size: tuple[int, int],
                   out_path: Path) -> Any:
    width, height = size
    if width % 2 or height % 2:
        raise InputError(f"{out_path}: frames are {width}×{height}; H.264/MPEG-4 with 4:2:0 "
                         f"chroma needs even width and height (crop or resize the visible video)")
    for codec in ("libx264", "h264", "mpeg4"):
        try:
            stream = container.add_stream(codec, rate=rate, options=X264_OPTIONS
                                          if codec == "libx264" else {})
        except (av.error.FFmpegError, ValueError, av.codec.codec.UnknownCodecError):
            continue
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "mpeg4":
            stream.bit_rate = 8_000_000
        return stream
    raise InputError(f"{out_path}: the installed PyAV can encode neither H.264 nor MPEG-4")
