"""Fusion of IR and visible video streams: reading, pairing, one stream-wide IR range, writing.

Two entry points (both fuse every frame through :func:`critnet.api.fuse_arrays`, so a frame fuses
exactly like a still image):

- :func:`fuse_frames`: a generator for users with their own capture loop (e.g. OpenCV cameras):
  give it ``(ir, vis)`` frame pairs, get fused frames back.
- :func:`fuse_video`: two video files (anything PyAV/FFmpeg can read) → one video (H.264 MP4 when
  the installed PyAV can encode it, else MPEG-4 Part 2), at the visible stream's frame rate,
  written atomically.

**No flicker**: a 16-bit IR stream is normalised with **one range for the whole stream** — a user
range, or the 0.5–99.5 % range of the first ``range_frames`` frames pooled — never per frame.
8-bit IR is divided by 255. (``docs/design.md`` §5; SPEC §5 "Video".)

**Pairing** (``pair_by``): ``index`` pairs the n-th frames; the streams must have equal length
(else refused, naming both counts). ``time`` pairs each visible frame with the IR frame nearest in
presentation time; it must lie within ``time_tolerance`` seconds (default: one IR frame interval),
else refused naming the time, so IR and visible streams may have different frame rates.

Needs PyAV and OpenCV: ``pip install critnet[video]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from critnet.api import FuseOptions, fuse_arrays, ready_model
from critnet.atomic import atomic_path
from critnet.errors import InputError
from critnet.io.levels import PERCENTILES
from critnet.model import CRITNet
from critnet.registration import Registration, estimate_transform, warp_ir

PAIRINGS = ("time", "index")
#: Suffixes taken for video files by the CLI (everything else is an image or a folder).
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts",
                  ".wmv", ".flv", ".y4m", ".nut")
#: Frames whose pooled IR levels fix the stream-wide range when none is given.
RANGE_FRAMES = 30
MISSING_PYAV = "video needs PyAV: pip install 'critnet[video]' (or pip install av)"


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``time`` in seconds, ``levels`` H×W (grey; uint8 or uint16) or H×W×3
    (RGB uint8)."""

    time: float
    levels: np.ndarray


@dataclass(frozen=True)
class VideoReport:
    """What :func:`fuse_video` did: frames written and the output frame rate."""

    path: Path
    frames: int
    rate: Fraction

    def summary(self) -> str:
        return f"{self.frames} frames at {float(self.rate):.4g} fps"


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


def stream_range(frames: Iterable[np.ndarray]) -> tuple[float, float]:
    """The IR range of a stream: the 0.5–99.5 % range of all given frames' levels pooled (their
    min..max when that is empty). Used once per stream, never per frame.

    Args:
        frames: H×W level arrays (e.g. the first :data:`RANGE_FRAMES` uint16 frames).

    Returns:
        ``(lo, hi)`` with ``hi > lo`` (``(0, 65535)`` for a flat stream).
    """
    pooled = np.concatenate([np.asarray(f, dtype=np.float64).ravel() for f in frames])
    lo, hi = (float(v) for v in np.percentile(pooled, PERCENTILES))
    if hi <= lo:
        lo, hi = float(pooled.min()), float(pooled.max())
    return (lo, hi) if hi > lo else (0.0, 65535.0)


def levels_to_unit(levels: np.ndarray, ir_range: tuple[float, float] | None) -> np.ndarray:
    """Frame levels → float32 in [0, 1]: by ``ir_range`` (clipped) when given, else by the dtype
    (uint8 ÷ 255, uint16 ÷ 65535, float kept as is)."""
    x = np.asarray(levels)
    if ir_range is not None:
        lo, hi = ir_range
        return np.clip((x.astype(np.float32) - lo) / (hi - lo), 0.0, 1.0)
    if np.issubdtype(x.dtype, np.integer):
        return x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    return np.clip(x.astype(np.float32), 0.0, 1.0)


def fuse_frames(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    model: CRITNet | None = None,
    *,
    options: FuseOptions | None = None,
    ir_range: tuple[float, float] | None = None,
    range_frames: int = RANGE_FRAMES,
    register_every: int = 0,
    log: Callable[[str], None] | None = None,
    names: tuple[str, str] = ("IR", "visible"),
    **overrides: Any,
) -> Iterator[np.ndarray]:
    """Fuse a stream of ``(ir, vis)`` frame pairs, yielding one fused frame per pair.

    Example (OpenCV cameras)::

        pairs = ((thermal.read()[1][..., 0], cv2.cvtColor(colour.read()[1], cv2.COLOR_BGR2RGB))
                 for _ in iter(int, 1))
        for fused in fuse_frames(pairs, critnet.load_model()):
            cv2.imshow("fused", cv2.cvtColor(fused, cv2.COLOR_RGB2BGR))

    Args:
        pairs: ``ir`` H'×W' uint8/uint16 levels (or float in [0, 1]); ``vis`` H×W or H×W×3
            uint8 (or float in [0, 1]).
        model: from :func:`critnet.load_model`; ``None``: the bundled default.
        options, overrides: as :func:`critnet.fuse` (``ir_normalize`` does not apply: see
            ``ir_range``).
            ``options.register`` (``affine`` / ``homography``) estimates the IR → visible
            transform on the first pair and warps every IR frame with it.
        ir_range: ``(lo, hi)`` IR levels mapped to 0..1 for every frame. ``None``: for uint16 IR
            the pooled range of the first ``range_frames`` frames (buffered, then fixed); other
            IR by its dtype. Never per frame.
        register_every: with ``options.register``, re-estimate every this many frames (0:
            once).
        log: receives one line for the stream-wide IR range (each registration estimate is
            logged by :mod:`critnet.registration`).
        names: the two streams, for messages (e.g. their paths).

    Yields:
        fused frames, the visible frame's size: uint8 H×W or H×W×3 for uint8 ``vis``, else
        float32 in [0, 1].

    Raises:
        InputError: size mismatch without ``resize_ir``/``register``, a failed registration.
    """
    options = FuseOptions.resolve(options, overrides)
    register = options.register
    options = FuseOptions.resolve(options, {"register": None})  # estimated once, not per frame
    model = ready_model(model, None)
    iterator = iter(pairs)
    head: list[tuple[np.ndarray, np.ndarray]] = []
    if ir_range is None:
        for pair in iterator:
            head.append(pair)
            if head[0][0].dtype != np.uint16 or len(head) >= range_frames:
                break
        if head and head[0][0].dtype == np.uint16:
            ir_range = stream_range(ir for ir, _ in head)
            if log is not None:
                log(f"IR range {ir_range[0]:g}..{ir_range[1]:g} (from the first {len(head)} "
                    f"frames) for the whole stream")
    registration: Registration | None = None
    for index, (ir_levels, vis_levels) in enumerate(_chain(head, iterator)):
        ir = levels_to_unit(ir_levels, ir_range)
        vis = levels_to_unit(vis_levels, None)
        if register is not None:
            if registration is None or (register_every and index % register_every == 0):
                try:
                    registration = estimate_transform(ir, vis, motion=register)
                except InputError as error:
                    raise InputError(f"{names[0]} frame {index}: {error}") from None
            ir = warp_ir(ir, registration)
        fused = fuse_arrays(model, ir, vis, options=options,
                            names=(f"{names[0]} frame {index}", f"{names[1]} frame {index}"))
        yield _like_levels(fused, vis_levels)


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
    ``out_path`` is untouched and no partial file remains under its name).

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
        InputError: unreadable/corrupt/empty inputs, mismatched lengths (``index``) or times
            (``time``), odd frame sizes, output equal to an input, existing without
            ``overwrite``, or not writable.
    """
    av = av_module()
    options = FuseOptions.resolve(options, overrides)
    ir_path, vis_path, out_path = Path(ir_path), Path(vis_path), Path(out_path)
    for role, source in (("IR", ir_path), ("visible", vis_path)):
        if not source.is_file():
            raise InputError(f"{source}: {role} video not found")
        if out_path.exists() and os.path.samefile(out_path, source):
            raise InputError(f"{out_path}: output path is the {role} input; choose another -o")
    if out_path.exists() and not overwrite:
        raise InputError(f"{out_path}: already exists (use --overwrite / overwrite=True)")
    rate, ir_rate = _probe(av, vis_path), _probe(av, ir_path)
    names = (f"IR video {ir_path}", f"visible video {vis_path}")
    pairs = pair_frames(read_frames(ir_path, "ir"), read_frames(vis_path, "vis"), pair_by=pair_by,
                        time_tolerance=time_tolerance, ir_rate=float(ir_rate), names=names)
    fused = fuse_frames(pairs, model, options=options, ir_range=ir_range,
                        range_frames=range_frames, register_every=register_every, log=log,
                        names=names)
    count = 0
    try:
        with atomic_path(out_path) as tmp:
            container = av.open(str(tmp), mode="w")
            try:
                stream = None
                for frame in fused:
                    if stream is None:
                        size = (frame.shape[1], frame.shape[0])
                        stream = _output_stream(av, container, rate, size, out_path)
                    rgb = frame if frame.ndim == 3 else np.repeat(frame[..., None], 3, axis=2)
                    packet_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb),
                                                              format="rgb24")
                    container.mux(stream.encode(packet_frame))
                    count += 1
                    if progress is not None:
                        progress(1)
                if stream is None:
                    raise InputError(f"{vis_path}: no video frames")
                container.mux(stream.encode(None))
            finally:
                container.close()
    except OSError as error:
        raise InputError(f"{out_path}: cannot write the output video ({error.strerror or error})"
                         ) from None
    return VideoReport(path=out_path, frames=count, rate=rate)


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


def _probe(av: Any, path: Path) -> Fraction:
    container = _open(av, path)
    try:
        rate = container.streams.video[0].average_rate or container.streams.video[0].base_rate
    finally:
        container.close()
    if not rate:
        raise InputError(f"{path}: video has no frame rate")
    return Fraction(rate)


def _output_stream(av: Any, container: Any, rate: Fraction, size: tuple[int, int],
                   out_path: Path) -> Any:
    width, height = size
    if width % 2 or height % 2:
        raise InputError(f"{out_path}: frames are {width}×{height}; H.264/MPEG-4 with 4:2:0 "
                         f"chroma needs even width and height (crop or resize the visible video)")
    for codec in ("libx264", "h264", "mpeg4"):
        try:
            stream = container.add_stream(codec, rate=rate)
        except (av.error.FFmpegError, ValueError, av.codec.codec.UnknownCodecError):
            continue
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "mpeg4":
            stream.bit_rate = 8_000_000
        return stream
    raise InputError(f"{out_path}: the installed PyAV can encode neither H.264 nor MPEG-4")


def _pair_by_index(ir: Iterator[Frame], vis: Iterator[Frame],
                   names: tuple[str, str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    count = 0
    for vis_frame in vis:
        ir_frame = next(ir, None)
        if ir_frame is None:
            rest = 1 + sum(1 for _ in vis)
            raise InputError(f"{names[0]} has {count} frames but {names[1]} has {count + rest}: "
                             f"lengths must match with --pair-by index (use --pair-by time)")
        count += 1
        yield ir_frame.levels, vis_frame.levels
    rest = sum(1 for _ in ir)
    if rest:
        raise InputError(f"{names[0]} has {count + rest} frames but {names[1]} has {count}: "
                         f"lengths must match with --pair-by index (use --pair-by time)")
    if count == 0:
        raise InputError(f"{names[1]}: no video frames")


def _chain(head: list, rest: Iterator) -> Iterator:
    yield from head
    yield from rest


def _like_levels(fused: np.ndarray, vis_levels: np.ndarray) -> np.ndarray:
    if np.asarray(vis_levels).dtype == np.uint8:
        return np.round(fused * 255.0).astype(np.uint8)
    return fused


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error).splitlines()[0]
