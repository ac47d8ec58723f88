"""Writing images atomically; the format follows the file suffix."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from critnet.atomic import OutputError, atomic_path, output_error
from critnet.errors import InputError

#: Output formats by suffix; a path without a suffix is written as PNG.
WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP",
                 ".tif": "TIFF", ".tiff": "TIFF", "": "PNG"}


def check_output_suffix(path: str | os.PathLike) -> str:
    """The PIL format for writing ``path`` (by suffix; none means PNG).

    Raises:
        InputError: an unsupported suffix.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in WRITE_FORMATS:
        known = ", ".join(s for s in WRITE_FORMATS if s)
        raise InputError(f"{path}: cannot write {suffix!r} files (use one of {known})")
    return WRITE_FORMATS[suffix]


def to_uint(image: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Quantise a float image in [0, 1] to ``uint8`` or ``uint16`` (rounded, clipped)."""
    peak = 2**bit_depth - 1
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.round(np.clip(image, 0.0, 1.0) * peak).astype(dtype)


def write_image(path: str | os.PathLike, image: np.ndarray, *, bit_depth: int = 8) -> Path:
    """Write a float image in [0, 1] atomically; the format follows the suffix (none → PNG).

    Args:
        path: output file; its folder is created if needed. Written via a temporary file, so
            an existing file is replaced only by a complete new one.
        image: H×W (gray) or H×W×3 (color) array in [0, 1] (values outside are clipped).
        bit_depth: 8 (default), or 16 for gray PNG / TIFF.

    Raises:
        InputError: unsupported suffix, or 16-bit requested for color or for JPEG/BMP.
        OutputError: the file cannot be written (one line: path and reason).
    """
    path = Path(path)
    fmt = check_output_suffix(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give an output file name such as "
                         f"{path / 'fused.png'}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise InputError(f"{path}: expected an H×W or H×W×3 image, got shape {image.shape}")
    if bit_depth not in (8, 16):
        raise InputError(f"{path}: bit depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and (image.ndim == 3 or fmt not in ("PNG", "TIFF")):
        raise InputError(f"{path}: 16-bit output is only available for gray PNG or TIFF")
    pil = Image.fromarray(to_uint(image, bit_depth))
    options = {"quality": 95} if fmt == "JPEG" else {}
    try:
        with atomic_path(path) as tmp:
            pil.save(tmp, format=fmt, **options)
    except OutputError:
        raise
    except OSError as error:  # a full disk, a folder made read-only meanwhile
        raise output_error(path, error) from None
    return path
