"""The segments of a JPEG file's header (markers up to the first scan), read without decoding.

Radiometric JPEGs keep what the camera measured in application segments before the image data:
FLIR in ``APP1`` segments whose payload starts ``FLIR\\0`` (the FFF record with raw data,
calibration and an embedded photo), DJI in ``APP3`` segments (the raw 16-bit sensor frame) with
its measurement parameters in ``APP4``. :func:`jpeg_segments` lists them; nothing here decodes
pixels. Truncated or corrupt headers end the list (the image reader reports those files).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

APP1, APP3, APP4, SOF0, SOF2, SOS = 0xE1, 0xE3, 0xE4, 0xC0, 0xC2, 0xDA
#: Bytes of each segment's payload kept for identification.
HEAD = 16


@dataclass(frozen=True)
class Segment:
    """One marker segment: ``marker`` (e.g. ``0xE3``), payload ``offset`` in the file and
    payload ``length`` (bytes after the length field), the first :data:`HEAD` payload bytes."""

    marker: int
    offset: int
    length: int
    head: bytes


@dataclass
class JpegHeader:
    """The segments of a JPEG header and its frame size (``None`` when no frame header came
    before the scan or the end of the file)."""

    path: Path
    segments: list[Segment] = field(default_factory=list)
    size: tuple[int, int] | None = None  # (width, height) of the main image

    def of(self, marker: int) -> list[Segment]:
        """The segments with ``marker``, in file order."""
        return [s for s in self.segments if s.marker == marker]

    def read(self, segments: list[Segment]) -> bytes:
        """The payloads of ``segments`` joined (their bytes as stored, in order)."""
        with open(self.path, "rb") as f:
            parts = []
            for s in segments:
                f.seek(s.offset)
                parts.append(f.read(s.length))
        return b"".join(parts)


def jpeg_segments(path: str | os.PathLike) -> JpegHeader | None:
    """The header segments of a JPEG file, or ``None`` if ``path`` is not a JPEG (or is not a
    readable file: the image reader says why)."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except OSError:
        return None
    with f:
        if f.read(2) != b"\xff\xd8":
            return None
        header = JpegHeader(path)
        while True:
            marker = _next_marker(f)
            if marker is None or marker in (SOS, 0xD9):
                return header
            if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length field
                continue
            raw = f.read(2)
            if len(raw) < 2:
                return header
            length = struct.unpack(">H", raw)[0] - 2
            if length < 0:
                return header
            offset = f.tell()
            head = f.read(min(HEAD, length))
            if len(head) < min(HEAD, length):
                return header
            header.segments.append(Segment(marker, offset, length, head))
            if marker in (SOF0, SOF2, 0xC1) and header.size is None and len(head) >= 5:
                height, width = struct.unpack(">HH", head[1:5])
                header.size = (width, height)
            f.seek(offset + length)


def _next_marker(f) -> int | None:
    """The next marker byte after ``0xFF`` (fill bytes skipped), ``None`` at the end."""
    byte = f.read(1)
    while byte and byte != b"\xff":  # garbage between segments: skip to the next marker
        byte = f.read(1)
    while byte == b"\xff":
        byte = f.read(1)
    return byte[0] if byte else None
