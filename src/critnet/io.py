"""Reading and writing images for fusion: 1/8/16-bit, grey or colour, with one-line errors.

Every reader returns float32 arrays in [0, 1] — ``H×W`` for grey images, ``H×W×3`` for colour —
together with an :class:`ImageInfo`. Anything that cannot be used raises
:class:`~critnet.errors.InputError` with the file name and the problem on one line.

Supported: PNG, JPEG, BMP and TIFF files in modes ``1`` (1-bit), ``L``, ``LA``, ``P``/``PA``
(palette), ``RGB``, ``RGBA`` (alpha dropped), ``CMYK``, ``YCbCr`` and 16-bit grey (``I;16``,
``I;16B``, or ``I`` holding 0..65535, as some readers give for 16-bit PNG). Grey-as-RGB files
(R = G = B everywhere) are read as grey. EXIF orientation is applied.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from critnet.atomic import atomic_path
from critnet.errors import InputError

#: IR normalisations (SPEC §5): ``full`` divides by the largest value of the bit depth,
#: ``minmax`` stretches the image's own range, ``percentile`` its 0.5–99.5 % range.
NORMALIZATIONS = ("full", "minmax", "percentile")
PERCENTILES = (0.5, 99.5)

#: Largest image (pixels) read by default: a guard against decompression bombs, checked from
#: the header before decoding (``--max-pixels`` / ``max_pixels=`` raise it).
MAX_PIXELS = 200_000_000

#: Output formats by suffix; a path without a suffix is written as PNG.
WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP",
                 ".tif": "TIFF", ".tiff": "TIFF", "": "PNG"}

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_COLOR_MODES = ("RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV")


@dataclass(frozen=True)
class ImageInfo:
    """What was read.

    Attributes:
        name: the file path (or a label such as ``"<array>"``), used in error messages.
        size: ``(width, height)`` after EXIF orientation.
        bit_depth: 1, 8 or 16 bits per sample in the source.
        color: ``True`` if the image has colour (grey-as-RGB counts as grey).
        mode: the source's PIL mode (``"L"``, ``"RGB"``, ``"I;16"``, ...).
    """

    name: str
    size: tuple[int, int]
    bit_depth: int
    color: bool
    mode: str

    @property
    def peak(self) -> int:
        """Largest value of the bit depth: 1, 255 or 65535."""
        return 2**self.bit_depth - 1


def default_normalization(bit_depth: int) -> str:
    """``percentile`` for 16-bit data (thermal frames use a narrow range), else ``full``."""
    return "percentile" if bit_depth > 8 else "full"


def normalize_levels(levels: np.ndarray, peak: float, method: str) -> np.ndarray:
    """Map raw sample values to float32 in [0, 1].

    Args:
        levels: array of any shape holding values in ``[0, peak]`` (e.g. 0..65535).
        peak: largest value of the bit depth (``255``, ``65535``; ``1.0`` for float data).
        method: ``full`` (÷ peak), ``minmax`` (the image's own min..max → 0..1) or ``percentile``
            (its 0.5 %..99.5 % range → 0..1, clipped). A flat image (no range to stretch) falls
            back to ``full``.

    Returns:
        float32 array of ``levels``' shape, values in [0, 1].
    """
    if method not in NORMALIZATIONS:
        raise InputError(f"unknown normalisation {method!r}; choose one of "
                         f"{', '.join(NORMALIZATIONS)}")
    x = levels.astype(np.float64)
    lo, hi = 0.0, float(peak)
    if method == "minmax":
        lo, hi = float(x.min()), float(x.max())
    elif method == "percentile":
        lo, hi = (float(v) for v in np.percentile(x, PERCENTILES))
        if hi <= lo:
            lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        lo, hi = 0.0, float(peak)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def check_pixel_count(size: tuple[int, int], path: str | os.PathLike, max_pixels: int) -> None:
    """Refuse a ``(W, H)`` image of more than ``max_pixels`` pixels (from its header).

    Raises:
        InputError: one line naming the file, its size and the limit.
    """
    width, height = size
    if width * height > max_pixels:
        raise InputError(f"{path}: {width}×{height} is {width * height:,} pixels, over the limit "
                         f"of {max_pixels:,} (raise it with --max-pixels / max_pixels=)")


def open_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open ``path``, check its size against ``max_pixels`` from the header, decode it fully (so
    truncation is caught here) and apply EXIF orientation.

    Raises:
        InputError: missing file, a folder, not an image, too many pixels, or a
            truncated/corrupt image.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image file")
    try:
        img = _open_header(path, max_pixels)
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image (unrecognised file format)") from None
    except Image.DecompressionBombError:
        raise InputError(f"{path}: over twice the limit of {max_pixels:,} pixels (raise it with "
                         f"--max-pixels / max_pixels=)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise InputError(f"{path}: truncated, corrupt or unreadable image "
                         f"({_one_line(error)})") from None
    check_pixel_count(img.size, path, max_pixels)
    try:
        img.load()
        return ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise InputError(f"{path}: truncated or corrupt image ({_one_line(error)})") from None


def _open_header(path: Path, max_pixels: int) -> Image.Image:
    """``Image.open`` (header only) with Pillow's bomb guard set to ``max_pixels``: its warning
    is silenced (our own check follows) and it raises only beyond twice the limit."""
    default = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = default


def image_levels(img: Image.Image, name: str = "<image>") -> tuple[np.ndarray, ImageInfo]:
    """Raw sample values of a PIL image and what they are.

    Args:
        img: a loaded PIL image of a supported mode.
        name: the file name for messages.

    Returns:
        ``(levels, info)``: ``levels`` is float32, H×W (grey) or H×W×3 (colour), in
        ``[0, info.peak]``.

    Raises:
        InputError: an unsupported mode (e.g. 32-bit float, or 32-bit integers beyond 16 bits).
    """
    mode = img.mode
    if mode == "1":
        levels, bit_depth = np.asarray(img, dtype=np.float32), 1
    elif mode in ("L", "LA", "La"):
        levels, bit_depth = np.asarray(img.getchannel(0), dtype=np.float32), 8
    elif mode in _SIXTEEN_BIT_MODES:
        levels, bit_depth = np.asarray(img, dtype=np.float32), 16
    elif mode == "I":
        levels, bit_depth = np.asarray(img, dtype=np.float32), 16
        if levels.size and (levels.min() < 0 or levels.max() > 65535):
            raise InputError(f"{name}: 32-bit integer image with values outside 0..65535 is not "
                             f"supported")
    elif mode in ("P", "PA") or mode in _COLOR_MODES:
        levels, bit_depth = np.asarray(img.convert("RGB"), dtype=np.float32), 8
    else:
        raise InputError(f"{name}: unsupported image mode {mode!r} (use 1/8/16-bit grey or "
                         f"8-bit colour)")
    color = levels.ndim == 3
    if color and _is_gray(levels):
        levels, color = levels[..., 0].copy(), False
    info = ImageInfo(name=name, size=img.size, bit_depth=bit_depth, color=color, mode=mode)
    return levels, info


def read_image(
    path: str | os.PathLike, *, normalize: str | None = None, max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file as float32 in [0, 1].

    Args:
        path: a PNG, JPEG, BMP or TIFF file.
        normalize: ``full``, ``minmax`` or ``percentile`` (see :func:`normalize_levels`);
            ``None`` picks :func:`default_normalization` for the file's bit depth.
        max_pixels: refuse larger images (checked from the header, before decoding).

    Returns:
        ``(image, info)``: ``image`` is H×W (grey, including grey-as-RGB) or H×W×3 (colour,
        alpha dropped), float32 in [0, 1].

    Raises:
        InputError: missing file, not an image, truncated/corrupt, or an unsupported mode.
    """
    levels, info = image_levels(open_image(path, max_pixels), str(path))
    method = normalize or default_normalization(info.bit_depth)
    return normalize_levels(levels, info.peak, method), info


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
        image: H×W (grey) or H×W×3 (colour) array in [0, 1] (values outside are clipped).
        bit_depth: 8 (default), or 16 for grey PNG / TIFF.

    Raises:
        InputError: unsupported suffix, or 16-bit requested for colour or for JPEG/BMP.
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
        raise InputError(f"{path}: 16-bit output is only available for grey PNG or TIFF")
    pil = Image.fromarray(to_uint(image, bit_depth))
    options = {"quality": 95} if fmt == "JPEG" else {}
    with atomic_path(path) as tmp:
        pil.save(tmp, format=fmt, **options)
    return path


def _is_gray(rgb: np.ndarray) -> bool:
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return bool(np.array_equal(red, green) and np.array_equal(green, blue))


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__
