"""DJI R-JPEGs (H20T, H20N, M2EA, M30T, M3T, ...): the raw sensor frame from the ``APP3`` segments.

The JPEG image of an R-JPEG is a palette rendering; the measurement is the 16-bit raw frame
(little-endian, W×H of the thermal sensor, 640×512 on most models) split over the file's
``APP3`` segments, with DJI's measurement parameters in ``APP4``. The raw counts rise
monotonically with temperature (Spearman ρ ≥ 0.999 against DJI's conversion on the fixtures),
which is all fusion needs; they are read here without any dependency.

Temperatures in °C need DJI's own conversion (the DJI Thermal SDK, or its AGPL-3.0 Python port
``dji-thermal-cli``), which critnet does not call: the frame is the raw counts, and an IR range
in °C is refused with the way out (:func:`critnet.io.camera.read_camera`). Convert with DJI's
tool to a float32 TIFF of °C when temperatures are needed; critnet reads those.
"""

from __future__ import annotations

import numpy as np

from critnet.errors import InputError
from critnet.io.camera.frame import RAW_COUNTS, CameraFrame
from critnet.io.camera.segments import APP1, APP3, JpegHeader

#: Thermal sensor sizes (W, H) of DJI cameras, tried when the JPEG frame size does not match.
SENSOR_SIZES = ((640, 512), (1280, 1024), (320, 256), (160, 120))


def is_dji_rjpeg(header: JpegHeader) -> bool:
    """Whether the file is a DJI R-JPEG: EXIF ``Make`` DJI and at least one ``APP3`` segment."""
    exif = [s for s in header.of(APP1) if s.head.startswith(b"Exif\x00\x00")]
    if not exif or not header.of(APP3):
        return False
    return b"DJI" in header.read(exif[:1])


def read_dji(header: JpegHeader) -> CameraFrame:
    """The raw frame of a DJI R-JPEG (sensor counts, monotonic in temperature).

    Raises:
        InputError: the ``APP3`` data does not hold a W×H 16-bit frame (truncated or edited
            file).
    """
    name = str(header.path)
    data = header.read(header.of(APP3))
    width, height = _frame_size(len(data), header.size, name)
    raw = np.frombuffer(data, dtype="<u2").reshape(height, width).astype(np.float32)
    return CameraFrame(values=raw, unit=RAW_COUNTS, camera="DJI")


def _frame_size(nbytes: int, jpeg_size: tuple[int, int] | None, name: str) -> tuple[int, int]:
    candidates = ((jpeg_size,) if jpeg_size else ()) + SENSOR_SIZES
    for width, height in candidates:
        if width * height * 2 == nbytes:
            return width, height
    shown = f"{jpeg_size[0]}×{jpeg_size[1]}" if jpeg_size else "unknown"
    raise InputError(f"{name}: DJI R-JPEG raw thermal data is {nbytes:,} bytes, not a 16-bit "
                     f"frame of the image size ({shown}): truncated or edited file")
