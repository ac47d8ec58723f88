"""FLIR radiometric JPEGs (T-, E-, AX-series, FLIR One...): temperatures and the embedded photo.

The JPEG image of such a file is the camera's palette rendering; the measurement is in its
``APP1`` "FLIR" segments (the FFF record): the raw sensor frame, the Planck constants and
atmosphere parameters of the file, and on MSX / FLIR One cameras a visible photo with its
alignment (``Real2IR``: the photo's field of view over the IR one; ``OffsetX/Y``: the shift of
the IR centre on the photo, in photo pixels). They are read with ``flyr`` (pure Python, optional
extra ``critnet[thermal]``), which converts the raw frame to °C with the file's own calibration.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image

from critnet.errors import CritnetError, InputError
from critnet.io.camera.frame import CELSIUS, CameraFrame
from critnet.io.camera.segments import APP1, JpegHeader

MISSING_FLYR = ("reading FLIR radiometric JPEGs needs flyr: pip install 'critnet[thermal]' "
                "(or pip install flyr)")


def is_flir(header: JpegHeader) -> bool:
    """Whether the header has the FLIR ``APP1`` segments (the FFF record)."""
    return any(s.head.startswith(b"FLIR\x00") for s in header.of(APP1))


def read_flir(header: JpegHeader) -> CameraFrame:
    """Temperatures in °C (file's calibration) and the photo on the thermal grid, when present.

    Raises:
        CritnetError: ``flyr`` is not installed (naming the extra).
        InputError: the FLIR record is truncated or unreadable, or gives no finite temperature.
    """
    try:
        import flyr
    except ImportError:
        raise CritnetError(MISSING_FLYR) from None
    name = str(header.path)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # flyr's and numpy's, on damaged records
            thermogram = flyr.unpack(name)
            celsius = np.asarray(thermogram.celsius, dtype=np.float32)
            optical = thermogram.optical
            pip = thermogram.pip_info
            camera = thermogram.camera_metadata.model if thermogram.camera_metadata else None
    except Exception as error:  # noqa: BLE001 - a third-party parser on untrusted bytes
        raise InputError(f"{name}: FLIR radiometric data {_why(header, error)}") from None
    if celsius.ndim != 2 or not np.isfinite(celsius).any():
        raise InputError(f"{name}: FLIR radiometric data holds no finite temperature")
    photo = None
    if optical is not None and pip is not None and np.ndim(optical) == 3:
        photo = photo_on_thermal_grid(np.asarray(optical), celsius.shape, pip.real_to_ir,
                                      (pip.offset_x, pip.offset_y), pip.crop_box, name)
    label = f"FLIR {camera}".replace("FLIR FLIR", "FLIR") if camera and camera != "*" else "FLIR"
    return CameraFrame(values=celsius, unit=CELSIUS, camera=label, photo=photo)


def photo_on_thermal_grid(
    photo: np.ndarray,
    thermal_shape: tuple[int, int],
    real_to_ir: float,
    offset: tuple[int, int],
    window: tuple[int, int, int, int] | None = None,
    name: str = "<photo>",
) -> np.ndarray:
    """The embedded photo resampled onto the thermal grid with the file's alignment.

    The IR picture-in-picture ``window`` (``x1, y1, x2, y2`` in IR pixels; the whole frame when
    ``None`` or unusable) spans ``1 / real_to_ir`` of the photo's width, its centre on the photo
    centre shifted by ``offset`` photo pixels; the whole IR frame follows at that scale. Each IR
    pixel gets the photo area it sees (antialiased bicubic); photo pixels outside the photo
    repeat its edge. (Checked on a FLIR T640 file, whose window is the central half of the frame,
    and a FLIR One file, whose window is the whole frame: edges coincide within the parallax of
    the scene's distance.)

    Returns:
        H×W×3 float32 in [0, 1] with ``(H, W) = thermal_shape``.

    Raises:
        InputError: a non-positive or non-finite ``real_to_ir``, or a photo that is not RGB.
    """
    h, w = thermal_shape
    if not (np.isfinite(real_to_ir) and real_to_ir > 0) or photo.ndim != 3 or photo.shape[2] < 3:
        raise InputError(f"{name}: FLIR embedded photo or its alignment is unusable "
                         f"(Real2IR {real_to_ir!r}, photo shape {photo.shape})")
    ph, pw = photo.shape[:2]
    wx0, wy0, wx1, wy1 = _window(window, w, h)
    scale = pw / ((wx1 - wx0) * real_to_ir)  # photo pixels per IR pixel
    x0 = pw / 2 + offset[0] - (wx0 + wx1) / 2 * scale  # photo x of the IR frame's left edge
    y0 = ph / 2 + offset[1] - (wy0 + wy1) / 2 * scale
    x1, y1 = x0 + w * scale, y0 + h * scale
    pad = int(np.ceil(max(0.0, -x0, -y0, x1 - pw, y1 - ph))) + 2
    padded = np.pad(np.asarray(photo[..., :3], dtype=np.uint8), ((pad, pad), (pad, pad), (0, 0)),
                    mode="edge")
    placed = Image.fromarray(padded).resize(
        (w, h), Image.Resampling.BICUBIC, box=(x0 + pad, y0 + pad, x1 + pad, y1 + pad))
    return np.asarray(placed, dtype=np.float32) / 255.0


def _window(window: tuple[int, int, int, int] | None, w: int, h: int) -> tuple[int, ...]:
    """The PiP window as half-open pixel edges ``(x0, y0, x1, y1)``: FLIR files store the last
    column / row either inclusive (``239`` of 240) or exclusive (``80`` of 80)."""
    if window is None:
        return 0, 0, w, h
    x1, y1, x2, y2 = (int(v) for v in window)
    x2, y2 = min(x2 + 1, w), min(y2 + 1, h)
    if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h) or x2 - x1 < 2 or y2 - y1 < 2:
        return 0, 0, w, h
    return x1, y1, x2, y2


def _why(header: JpegHeader, error: BaseException) -> str:
    """What went wrong in flyr, in words: ``truncated`` when the file does not end with the
    JPEG end marker or flyr missed a piece of the record (it fails on one with a bare
    ``KeyError: 6``); else ``unreadable`` and the parser's own message."""
    try:
        with open(header.path, "rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(file.tell() - 2, 0))
            ends = file.read(2) == b"\xff\xd9"  # a complete JPEG ends with its EOI marker
    except OSError:
        ends = True
    if not ends or isinstance(error, (KeyError, IndexError, EOFError)) or "truncat" in str(error):
        return ("truncated or incomplete (the file ends early, or a piece of its FLIR record is "
                "missing); copy the file again from the camera")
    return f"unreadable ({_one_line(error)})"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
