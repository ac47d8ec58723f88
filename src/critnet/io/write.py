"""Writing images atomically; the format follows the file suffix."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from critnet.errors import InputError, OutputError
from critnet.io.atomic import atomic_path, output_error

#: Output formats by suffix; a path without a suffix is written as PNG.
WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP",
                 ".tif": "TIFF", ".tiff": "TIFF", "": "PNG"}
#: JPEG quality when none is given.
JPEG_QUALITY = 95


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


def check_output_options(
    path: str | os.PathLike, *, bit_depth: int = 8, quality: int | None = None
) -> str:
    """The PIL format for writing ``path``, after checking ``bit_depth`` and ``quality`` fit it.

    Raises:
        InputError: an unsupported suffix, a bit depth other than 8/16, 16 bits for JPEG/BMP,
            a quality outside 1..100, or a quality for anything but JPEG.
    """
    fmt = check_output_suffix(path)
    if bit_depth not in (8, 16):
        raise InputError(f"{path}: bit depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and fmt not in ("PNG", "TIFF"):
        raise InputError(f"{path}: 16-bit output is only available for PNG or TIFF, not {fmt}")
    if quality is not None and fmt != "JPEG":
        raise InputError(f"{path}: a quality applies to JPEG output only, not {fmt}")
    if quality is not None and not 1 <= quality <= 100:
        raise InputError(f"{path}: JPEG quality must be 1..100, got {quality}")
    return fmt


def to_uint(image: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Quantise a float image in [0, 1] to ``uint8`` or ``uint16`` (rounded, clipped).

    Row block by row block into a C-contiguous result, so no full-frame float copy is made.
    """
    peak = 2**bit_depth - 1
    image = np.asarray(image)
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    if image.ndim == 0:
        return np.round(np.clip(image, 0.0, 1.0) * peak).astype(dtype)
    out = np.empty(image.shape, dtype)
    step = max(1, (1 << 20) * image.shape[0] // max(image.size, 1))
    for start in range(0, image.shape[0], step):
        block = np.clip(image[start:start + step], 0.0, 1.0)  # a new array
        block *= peak
        np.round(block, out=block)
        out[start:start + step] = block
    return out


def write_image(
    path: str | os.PathLike, image: np.ndarray, *, bit_depth: int = 8, quality: int | None = None
) -> Path:
    """Write a float image in [0, 1] atomically; the format follows the suffix (none → PNG).

    Args:
        path: output file; its folder is created if needed. Written via a temporary file, so
            an existing file is replaced only by a complete new one.
        image: H×W (gray) or H×W×3 (color) array in [0, 1] (values outside are clipped).
        bit_depth: 8 (default), or 16 for gray PNG / TIFF.
        quality: JPEG quality 1..100 (``None``: :data:`JPEG_QUALITY`); JPEG only.

    Raises:
        InputError: as :func:`check_output_options`, or 16-bit requested for color.
        OutputError: the file cannot be written (one line: path and reason).
    """
    path = Path(path)
    fmt = check_output_options(path, bit_depth=bit_depth, quality=quality)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give an output file name such as "
                         f"{path / 'fused.png'}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise InputError(f"{path}: expected an H×W or H×W×3 image, got shape {image.shape}")
    if bit_depth == 16 and image.ndim == 3:
        raise InputError(f"{path}: 16-bit output is only available for gray images (use 8 bits, "
                         f"or --gray / gray=True)")
    pil = Image.fromarray(to_uint(image, bit_depth))
    options = {"quality": quality or JPEG_QUALITY} if fmt == "JPEG" else {}
    try:
        with atomic_path(path) as tmp:
            pil.save(tmp, format=fmt, **options)
    except OutputError:
        raise
    except OSError as error:  # a full disk, a folder made read-only meanwhile
        raise output_error(path, error) from None
    return path
