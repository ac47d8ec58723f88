"""Camera files: radiometric JPEGs read for what the camera measured, not their palette image.

:func:`read_camera` is the dispatcher the image readers call first: ``None`` for an ordinary
image, else a :class:`CameraFrame` (temperatures in °C or raw counts, and the embedded photo on
the thermal grid where the file has one). One file per camera family:

- :mod:`critnet.io.camera.flir`: FLIR radiometric JPEGs (``flyr``, extra ``critnet[thermal]``).
- :mod:`critnet.io.camera.dji`: DJI R-JPEGs (raw counts, no dependency).
- :mod:`critnet.io.camera.segments`: the JPEG header segments both are found by.
- :mod:`critnet.io.camera.naming`: DJI's file naming (``DJI_0001_T`` / ``_W`` / ``_V`` / ``_Z``).
"""

from __future__ import annotations

import os

from critnet.errors import InputError
from critnet.io.camera.dji import is_dji_rjpeg, read_dji
from critnet.io.camera.flir import MISSING_FLYR, is_flir, read_flir
from critnet.io.camera.frame import CELSIUS, RAW_COUNTS, CameraFrame
from critnet.io.camera.segments import jpeg_segments


def camera_family(path: str | os.PathLike) -> str | None:
    """``"flir"``, ``"dji"`` or ``None`` (not a radiometric JPEG), from the header only."""
    header = jpeg_segments(path)
    if header is None:
        return None
    if is_flir(header):
        return "flir"
    if is_dji_rjpeg(header):
        return "dji"
    return None


def read_camera(path: str | os.PathLike) -> CameraFrame | None:
    """The measurement of a radiometric JPEG, or ``None`` for any other file.

    Raises:
        CritnetError: the reader's optional extra is missing (one line naming it).
        InputError: a radiometric JPEG whose data is truncated or unreadable.
    """
    header = jpeg_segments(path)
    if header is None:
        return None
    if is_flir(header):
        return read_flir(header)
    if is_dji_rjpeg(header):
        return read_dji(header)
    return None


def camera_photo(path: str | os.PathLike) -> CameraFrame | None:
    """:func:`read_camera` for a **visible** input: ``None`` for an ordinary image, the frame
    when it has an embedded photo.

    Raises:
        InputError: a radiometric JPEG without an embedded photo (its palette image is not a
            visible photo), naming the way out.
    """
    frame = read_camera(path)
    if frame is None or frame.photo is not None:
        return frame
    hint = ("the _W/_V visible file of the same shot" if frame.camera == "DJI"
            else "the camera's visible photo")
    raise InputError(f"{path}: {frame.camera} radiometric JPEG holds no visible photo, only a "
                     f"palette rendering; give {hint} as the visible input")


__all__ = ["CELSIUS", "MISSING_FLYR", "RAW_COUNTS", "CameraFrame", "camera_family",
           "camera_photo", "read_camera"]
