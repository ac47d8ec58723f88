"""A camera frame as an IR or visible image for fusion: its levels, info and scaling."""

from __future__ import annotations

import numpy as np

from critnet.errors import InputError
from critnet.io.camera.frame import CELSIUS, CameraFrame
from critnet.io.levels import ImageInfo, check_ir_scaling, normalize_levels

#: Why a colour IR image without radiometric data is refused, and the ways on (one line).
PALETTE_HINT = ("colour IR image without radiometric data looks like a palette rendering "
                "(its colours are a colour scale, not intensities); give the camera's "
                "radiometric file (FLIR radiometric JPEG or DJI R-JPEG) or a grey thermal image, "
                "or pass --ir-palette-ok (ir_palette_ok=True) to fuse its luma anyway")


def camera_ir(
    frame: CameraFrame,
    name: str,
    normalize: str | None,
    value_range: tuple[float, float] | None,
) -> tuple[np.ndarray, ImageInfo]:
    """The frame as IR float32 in [0, 1] (``percentile`` by default; ``value_range`` in °C).

    Raises:
        InputError: a ``value_range`` for a frame of raw counts (no temperatures in °C), or an
            unknown ``normalize``.
    """
    h, w = frame.values.shape
    celsius = frame.unit == CELSIUS
    if value_range is not None and not celsius:
        raise InputError(f"{name}: {frame.camera} R-JPEG read as raw sensor counts, so an IR range "
                         f"in °C cannot apply (convert it to a float32 TIFF of °C with the "
                         f"maker's tool for that); use --ir-normalize instead")
    info = ImageInfo(name=name, size=(w, h), bit_depth=32 if celsius else 16, color=False,
                     mode="F" if celsius else "I;16")
    check_ir_scaling(frame.values, name, normalize or "percentile", value_range,
                     floating=celsius, unit=" °C" if celsius else "")
    return normalize_levels(frame.values, info.peak, normalize or "percentile",
                            value_range=value_range), info


def camera_visible(frame: CameraFrame, name: str) -> tuple[np.ndarray, ImageInfo]:
    """The embedded photo (on the thermal grid) as the visible image, float32 in [0, 1]."""
    photo = frame.photo
    h, w = photo.shape[:2]
    return photo, ImageInfo(name=name, size=(w, h), bit_depth=8, color=True, mode="RGB")
