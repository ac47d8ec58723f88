"""Video streams in: decoding with PyAV and pairing IR with visible frames by time or index."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from critnet.errors import InputError

PAIRINGS = ("time", "index")

#: Suffixes taken for video files by the CLI (everything else is an image or a folder).
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts",
                  ".wmv", ".flv", ".y4m", ".nut")

#: Suffixes a fused video can be written as (containers that hold H.264 or MPEG-4 Part 2).
VIDEO_OUTPUT_SUFFIXES = tuple(s for s in VIDEO_SUFFIXES if s not in (".webm", ".y4m"))

MISSING_PYAV = "video needs PyAV: pip install 'critnet[video]' (or pip install av)"


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``time`` in seconds, ``levels`` H×W (grey; uint8 or uint16) or H×W×3
    (RGB uint8)."""

    time: float
    levels: np.ndarray

def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a video file by its suffix."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES

def av_module() -> Any:
    """PyAV, or an :class:`InputError` naming the extra to install."""
    try:
        import av
    except ImportError:
        raise InputError(MISSING_PYAV) from None
    return av

def read_frames(path: str | os.PathLike, role: str) -> Iterator[Frame]:
    """Decode a video file's first video stream.

    Args:
        path: any container/codec FFmpeg reads.
        role: ``ir`` (frames as grey levels: uint16 for 16-bit grey streams, else uint8 luma) or
            ``vis`` (RGB uint8, or grey uint8 for grey streams).

    Raises:
        InputError: not readable, no video stream, a corrupt stream (naming the path).
    """
    av = av_module()
    path = Path(path)
    container = _open(av, path)
    try:
        stream = container.streams.video[0]
        pix_fmt = stream.codec_context.pix_fmt or ""
        if role == "ir":
            fmt = "gray16le" if pix_fmt.startswith(("gray16", "gray12", "gray10")) else "gray"
        else:
            fmt = "gray" if pix_fmt.startswith("gray") else "rgb24"
        try:
            for frame in container.decode(stream):
                time = frame.time if frame.time is not None else float(frame.index) / float(
                    stream.average_rate or 1)
                yield Frame(time=float(time), levels=frame.to_ndarray(format=fmt))
        except av.error.FFmpegError as error:
            raise InputError(f"{path}: corrupt video stream ({error})") from None
    finally:
        container.close()

def pair_frames(
    ir: Iterable[Frame],
    vis: Iterable[Frame],
    *,
    pair_by: str = "time",
    time_tolerance: float | None = None,
    ir_rate: float | None = None,
    names: tuple[str, str] = ("IR video", "visible video"),
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(ir, vis)`` level pairs, one per visible frame (see the module docstring).

    Args:
        ir, vis: frames in presentation order.
        pair_by: ``time`` (nearest IR frame in time) or ``index``.
        time_tolerance: largest allowed ``|t_ir - t_vis|`` in seconds for ``time``; ``None``: one
            IR frame interval (``1 / ir_rate``; 0.1 s when the rate is unknown).
        names: the two inputs, for messages.

    Raises:
        InputError: unknown ``pair_by``; ``index``: different lengths; ``time``: a visible frame
            with no IR frame within the tolerance; either stream has no frames.
    """
    if pair_by not in PAIRINGS:
        raise InputError(f"unknown pairing {pair_by!r}; choose one of {', '.join(PAIRINGS)}")
    if pair_by == "index":
        yield from _pair_by_index(iter(ir), iter(vis), names)
        return
    tolerance = time_tolerance if time_tolerance is not None else (
        1.0 / ir_rate if ir_rate else 0.1)
    ir_iter = iter(ir)
    current = next(ir_iter, None)
    if current is None:
        raise InputError(f"{names[0]}: no video frames")
    upcoming = next(ir_iter, None)
    seen_vis = False
    for frame in vis:
        seen_vis = True
        while upcoming is not None and abs(upcoming.time - frame.time) <= abs(
                current.time - frame.time):
            current, upcoming = upcoming, next(ir_iter, None)
        gap = abs(current.time - frame.time)
        if gap > tolerance:
            raise InputError(f"{names[1]}: frame at {frame.time:.3f} s has no IR frame within "
                             f"{tolerance:.3f} s (nearest at {current.time:.3f} s in {names[0]}); "
                             f"raise --time-tolerance or use --pair-by index")
        yield current.levels, frame.levels
    if not seen_vis:
        raise InputError(f"{names[1]}: no video frames")

def length_mismatch(names: tuple[str, str], ir_frames: int, vis_frames: int) -> InputError:
    """The refusal of streams of different lengths under ``--pair-by index``."""
    return InputError(f"{names[0]} has {ir_frames} frames but {names[1]} has {vis_frames}: "
                      f"lengths must match with --pair-by index (use --pair-by time)")


def _pair_by_index(ir: Iterator[Frame], vis: Iterator[Frame],
                   names: tuple[str, str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    count = 0
    for vis_frame in vis:
        ir_frame = next(ir, None)
        if ir_frame is None:
            raise length_mismatch(names, count, count + 1 + sum(1 for _ in vis))
        count += 1
        yield ir_frame.levels, vis_frame.levels
    rest = sum(1 for _ in ir)
    if rest:
        raise length_mismatch(names, count + rest, count)
    if count == 0:
        raise InputError(f"{names[1]}: no video frames")

def _open(av: Any, path: Path) -> Any:
    if not path.is_file():
        raise InputError(f"{path}: video not found")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as error:
        raise InputError(f"{path}: not a readable video ({_reason(error)})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: has no video stream")
    return container

def probe_rate(av: Any, path: Path) -> Fraction:
    container = _open(av, path)
    try:
        rate = container.streams.video[0].average_rate or container.streams.video[0].base_rate
    finally:
        container.close()
    if not rate:
        raise InputError(f"{path}: video has no frame rate")
    return Fraction(rate)

def frame_count(path: str | os.PathLike) -> tuple[int | None, bool]:
    """``(frames, exact)`` of a video's first stream from its header, without decoding: the
    container's count (``exact``), else duration × frame rate (an estimate), else ``None``."""
    av = av_module()
    container = _open(av, Path(path))
    try:
        stream = container.streams.video[0]
        if stream.frames:
            return int(stream.frames), True
        rate = stream.average_rate or stream.base_rate
        if stream.duration and stream.time_base and rate:
            return round(float(stream.duration * stream.time_base * rate)), False
        if container.duration and rate:
            return round(container.duration / 1_000_000 * float(rate)), False
        return None, False
    finally:
        container.close()


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error).splitlines()[0]
