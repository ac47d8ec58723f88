"""Fusion of IR and visible video streams: reading, pairing, one stream-wide IR range, writing.

Two entry points (both fuse every frame through :func:`critnet.pipeline.single.fuse_arrays`, so a
frame fuses exactly like a still image):

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

Modules: :mod:`~critnet.pipeline.video.streams` (decode, pair),
:mod:`~critnet.pipeline.video.frames`
(the stream-wide range, fusion per frame), :mod:`~critnet.pipeline.video.files` (encode, write).
"""

from critnet.pipeline.video.files import VideoReport, fuse_video
from critnet.pipeline.video.frames import RANGE_FRAMES, fuse_frames, levels_to_unit, stream_range
from critnet.pipeline.video.streams import (
    MISSING_PYAV,
    PAIRINGS,
    VIDEO_SUFFIXES,
    Frame,
    av_module,
    is_video,
    pair_frames,
    read_frames,
)

__all__ = ["MISSING_PYAV", "PAIRINGS", "RANGE_FRAMES", "VIDEO_SUFFIXES", "Frame", "VideoReport",
           "av_module", "fuse_frames", "fuse_video", "is_video", "levels_to_unit", "pair_frames",
           "read_frames", "stream_range"]
