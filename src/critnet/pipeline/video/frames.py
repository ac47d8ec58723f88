"""Video frames through the network: one stream-wide IR range (no flicker), optional
registration once per stream, each frame fused like a still image (docs/design.md §5)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from critnet.errors import InputError
from critnet.io.levels import PERCENTILES
from critnet.pipeline.loading import ready_model
from critnet.pipeline.options import FuseOptions
from critnet.pipeline.overlap import ordered_map
from critnet.pipeline.registration import Registration, estimate_transform, warp_ir
from critnet.pipeline.runtime import for_streams
from critnet.pipeline.single import fuse_arrays

if TYPE_CHECKING:
    from critnet.model import CRITNet

#: Frames whose pooled IR levels fix the stream-wide range when none is given.
RANGE_FRAMES = 30

#: Streams of frames up to this size (1920×1080) are fused two frames at once on onnxruntime
#: (:func:`critnet.pipeline.backends.for_streams`); larger ones one at a time, so that two
#: frames' memory (and two tiling estimates of the same free memory) never meet.
STREAM_MAX_PIXELS = 1920 * 1080


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
            logged by :mod:`critnet.pipeline.registration`).
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
    if not head:  # the first pair decides whether frames are small enough to fuse two at once
        first = next(iterator, None)
        head.extend([] if first is None else [first])
    if head and head[0][1].shape[0] * head[0][1].shape[1] <= STREAM_MAX_PIXELS:
        model, workers = for_streams(model)
    else:
        workers = 1

    def prepared() -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, FuseOptions]]:
        """Levels and registration, frame after frame (the registration is stream state)."""
        registration: Registration | None = None
        for index, (ir_levels, vis_levels) in enumerate(_chain(head, iterator)):
            ir = levels_to_unit(ir_levels, ir_range)
            vis = levels_to_unit(vis_levels, None)
            if register is not None:
                if registration is None or (register_every and index % register_every == 0):
                    try:
                        registration = estimate_transform(ir, vis, motion=register,
                                                          method=options.register_method)
                    except InputError as error:
                        raise InputError(f"{names[0]} frame {index}: {error}") from None
                if not registration.kept_identity:  # kept: fused like the unregistered pair
                    ir = warp_ir(ir, registration)
            yield index, ir, vis, vis_levels, frame_options(options, registration)

    def fused(job: tuple[int, np.ndarray, np.ndarray, np.ndarray, FuseOptions]) -> np.ndarray:
        index, ir, vis, vis_levels, frame = job
        out = fuse_arrays(model, ir, vis, options=frame,
                          names=(f"{names[0]} frame {index}", f"{names[1]} frame {index}"))
        return _like_levels(out, vis_levels)

    # Two frames at once on onnxruntime, in order (critnet.pipeline.overlap.ordered_map).
    yield from ordered_map(fused, prepared(), workers)


def frame_options(options: FuseOptions, registration: Registration | None) -> FuseOptions:
    """``options``, with ``resize_ir`` on when the registration kept the plain resize."""
    if registration is None or not registration.kept_identity or options.resize_ir:
        return options
    return FuseOptions.resolve(options, {"resize_ir": True})


def _chain(head: list, rest: Iterator) -> Iterator:
    yield from head
    yield from rest

def _like_levels(fused: np.ndarray, vis_levels: np.ndarray) -> np.ndarray:
    if np.asarray(vis_levels).dtype == np.uint8:
        return np.round(fused * 255.0).astype(np.uint8)
    return fused
