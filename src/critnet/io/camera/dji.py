"""DJI R-JPEGs (H20T, H20N, M2EA, M30T, M3T, ...): the raw sensor frame from the ``APP3`` segments.

The JPEG image of an R-JPEG is a palette rendering; the measurement is the 16-bit raw frame
(little-endian, W×H of the thermal sensor, 640×512 on most models) split over the file's
``APP3`` segments, with DJI's measurement parameters in ``APP4``. The raw counts rise
monotonically with temperature (Spearman ρ ≥ 0.999 against DJI's conversion on the fixtures),
which is all fusion needs; they are read here without any dependency.

Temperatures in °C need DJI's own conversion: when the optional package ``dji-thermal-cli``
(a pure-Python port of the DJI Thermal SDK; Python ≥ 3.12, AGPL-3.0, installed by the user) is
importable, the frame is its temperatures; otherwise it is the raw counts, and an IR range in
°C is refused with the way out (:func:`critnet.io.camera.read_camera`).
"""

from __future__ import annotations

import numpy as np

from critnet.errors import InputError
from critnet.io.camera.frame import CELSIUS, RAW_COUNTS, CameraFrame
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
    """The raw frame (or °C with ``dji-thermal-cli``) of a DJI R-JPEG.

    Raises:
        InputError: the ``APP3`` data does not hold a W×H 16-bit frame (truncated or edited
            file), or the temperature conversion fails on it.
    """
    name = str(header.path)
    data = header.read(header.of(APP3))
    width, height = _frame_size(len(data), header.size, name)
    raw = np.frombuffer(data, dtype="<u2").reshape(height, width).astype(np.float32)
    celsius = _temperatures(name, (height, width))
    if celsius is not None:
        return CameraFrame(values=celsius, unit=CELSIUS, camera="DJI")
    return CameraFrame(values=raw, unit=RAW_COUNTS, camera="DJI")


def _frame_size(nbytes: int, jpeg_size: tuple[int, int] | None, name: str) -> tuple[int, int]:
    candidates = ((jpeg_size,) if jpeg_size else ()) + SENSOR_SIZES
    for width, height in candidates:
        if width * height * 2 == nbytes:
            return width, height
    shown = f"{jpeg_size[0]}×{jpeg_size[1]}" if jpeg_size else "unknown"
    raise InputError(f"{name}: DJI R-JPEG raw thermal data is {nbytes:,} bytes, not a 16-bit "
                     f"frame of the image size ({shown}): truncated or edited file")


def _temperatures(name: str, shape: tuple[int, int]) -> np.ndarray | None:
    """°C from ``dji-thermal-cli`` when it is installed, else ``None``."""
    try:
        from dji_thermal_cli import api
    except ImportError:
        return None
    try:
        celsius = np.asarray(api.measure(name).temperature, dtype=np.float32)
    except Exception as error:  # noqa: BLE001 - a third-party decoder on untrusted bytes
        text = " ".join(str(error).split()) or type(error).__name__
        raise InputError(f"{name}: DJI temperature conversion failed ({text})") from None
    if celsius.shape != shape:
        return None
    return celsius
