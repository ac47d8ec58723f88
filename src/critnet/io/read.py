"""Reading image files, one reader per contract (docs/design.md §5).

============================  ================================================================
:func:`read_image`            float32 in [0, 1], H×W or H×W×3, scaled by the bit depth (÷255,
                              ÷65535): the **visible** image for fusion (never stretched).
:func:`read_ir`               the same for the **infrared** image, with its normalisation
                              (``full``, ``minmax``, ``percentile``; default by bit depth).
:func:`read_raw`              the samples as stored, ``uint8`` or ``uint16``, H×W or H×W×3:
                              for code that quantises by itself (the metrics).
:func:`read_gray_uint8`       H×W ``uint8``, MATLAB-exact gray: metrics, benchmarks, training.
============================  ================================================================

Every reader applies EXIF orientation and raises :class:`~critnet.errors.InputError` with the
file name and the problem on one line for anything unusable. Supported: PNG, JPEG, BMP and TIFF
in modes ``1``, ``L``, ``LA``, ``P``/``PA``, ``RGB``, ``RGBA`` (alpha dropped), ``CMYK``,
``YCbCr``, 16-bit gray (``I;16``, ``I;16B``, or ``I`` holding 0..65535) and float32 gray (``F``:
radiometric TIFF; not for :func:`read_raw`). Gray-as-RGB files (R = G = B everywhere) are read
as gray. Multi-frame files (multi-page TIFF, animated GIF / WebP / PNG) are refused rather than
reduced to their first frame: videos are fused by ``critnet fuse IR_VIDEO VIS_VIDEO``.

Radiometric JPEGs (FLIR, DJI R-JPEG; :mod:`critnet.io.camera`) are read for what the camera
measured: as IR their temperatures (or raw counts), never their palette image; as visible their
embedded photo on the thermal grid. A colour IR file without such data is refused as a palette
rendering unless ``palette_ok``.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from critnet.errors import InputError
from critnet.io.camera import camera_photo, read_camera
from critnet.io.camera.levels import PALETTE_HINT, camera_ir, camera_visible
from critnet.io.levels import (
    ImageInfo,
    check_ir_scaling,
    default_normalization,
    image_levels,
    normalize_levels,
)
from critnet.io.paths import broken_link
from critnet.io.quiet import quiet_decoding

#: Largest image (pixels) read by default: a guard against decompression bombs, checked from
#: the header before decoding (``--max-pixels`` / ``max_pixels=`` raise it).
MAX_PIXELS = 200_000_000

#: Formats whose files may hold several frames (MPO JPEGs, a photo plus previews, are not refused).
_MULTI_FRAME_FORMATS = ("TIFF", "GIF", "WEBP", "PNG")


def check_pixel_count(size: tuple[int, int], path: str | os.PathLike, max_pixels: int) -> None:
    """Refuse a ``(W, H)`` image of more than ``max_pixels`` pixels (from its header).

    Raises:
        InputError: one line naming the file, its size and the limit.
    """
    width, height = size
    if width * height > max_pixels:
        raise InputError(f"{path}: {width}×{height} is {width * height:,} pixels, over the limit "
                         f"of {max_pixels:,} (raise it with --max-pixels / max_pixels=)")


@quiet_decoding()
def open_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open ``path``, check its size against ``max_pixels`` from the header, decode it fully (so
    truncation is caught here) and apply EXIF orientation. The file is closed on return, also
    on an error.

    Raises:
        InputError: missing file, a folder, not an image, too many pixels, a truncated/corrupt
            image, or several frames (see :func:`check_single_frame`).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {broken_link(path) or 'file not found'}")
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
    try:
        check_pixel_count(img.size, path, max_pixels)
        check_single_frame(img, str(path))
        image = oriented(img, str(path))
    except BaseException:
        img.close()  # the file, kept open by Pillow for multi-frame formats (TIFF)
        raise
    if image is not img:
        img.close()
    return image


def _open_header(path: Path, max_pixels: int) -> Image.Image:
    """``Image.open`` (header only) with Pillow's bomb guard set to ``max_pixels`` (its warning
    is silenced by :func:`quiet_decoding`, our own check follows; it raises only beyond twice
    the limit)."""
    default = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        return Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = default


def check_single_frame(img: Image.Image, name: str) -> None:
    """Refuse a multi-frame TIFF or animated GIF / WebP / PNG (only its first frame would be
    fused).

    Raises:
        InputError: ``img`` has several frames, naming ``name`` and the frame count.
    """
    try:
        frames = getattr(img, "n_frames", 1) if img.format in _MULTI_FRAME_FORMATS else 1
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, KeyError, IndexError,
            struct.error) as error:  # counting frames parses every frame header
        raise InputError(f"{name}: truncated or corrupt image ({_one_line(error)})") from None
    if frames > 1:
        raise InputError(f"{name}: has {frames} frames; still images only (fuse a video or frame "
                         f"sequence with: critnet fuse IR_VIDEO VIS_VIDEO)")


def oriented(img: Image.Image, name: str) -> Image.Image:
    """``img`` fully decoded, with its EXIF orientation applied (the pixels as displayed).

    Raises:
        InputError: a truncated or corrupt image, naming ``name``.
    """
    try:
        img.load()
        return ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise InputError(f"{name}: truncated or corrupt image ({_one_line(error)})") from None


def read_image(
    path: str | os.PathLike, *, normalize: str = "full", max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file as float32 in [0, 1]; by default scaled by its bit depth only.

    Args:
        path: a PNG, JPEG, BMP or TIFF file.
        normalize: ``full`` (÷255, ÷65535; what visible images always get), ``minmax`` or
            ``percentile`` (see :func:`~critnet.io.levels.normalize_levels`).
        max_pixels: refuse larger images (checked from the header, before decoding).

    Returns:
        ``(image, info)``: ``image`` is H×W (gray, including gray-as-RGB) or H×W×3 (color,
        alpha dropped), float32 in [0, 1].

    Raises:
        InputError: missing file, not an image, truncated/corrupt, or an unsupported mode; a
            radiometric JPEG without an embedded photo.
    """
    frame = camera_photo(path)
    if frame is not None:
        return camera_visible(frame, str(path))
    levels, info = image_levels(open_image(path, max_pixels), str(path))
    return normalize_levels(levels, info.peak, normalize, out=_reusable(levels)), info


def read_ir(
    path: str | os.PathLike,
    *,
    normalize: str | None = None,
    value_range: tuple[float, float] | None = None,
    max_pixels: int = MAX_PIXELS,
    palette_ok: bool = False,
) -> tuple[np.ndarray, ImageInfo]:
    """Read an infrared image as float32 in [0, 1] (as :func:`read_image`; float32 too).

    A radiometric JPEG gives its measurement (°C, or raw counts of a DJI file without a
    temperature decoder), ``percentile``-stretched by default, ``value_range`` in °C.

    Args:
        normalize: ``full``, ``minmax`` or ``percentile``; ``None`` picks
            :func:`~critnet.io.levels.default_normalization` for the file's bit depth
            (``percentile`` for 16-bit and float thermal frames, ``full`` otherwise).
        value_range: ``(low, high)`` in the file's units (levels 0..65535, or temperatures in
            a float file) mapped to 0..1, clipped; instead of ``normalize``.
        max_pixels: refuse larger images (checked from the header, before decoding).
        palette_ok: fuse the luma of a colour IR image without radiometric data instead of
            refusing it as a palette rendering.

    Raises:
        InputError: as :func:`read_image`, both ``normalize`` and ``value_range`` given, or a
            colour image without radiometric data (unless ``palette_ok``).
        CritnetError: a FLIR file without the ``critnet[thermal]`` extra installed.
    """
    if normalize is not None and value_range is not None:
        raise InputError(f"{path}: give an IR normalisation or an IR range, not both")
    frame = read_camera(path)
    if frame is not None:
        return camera_ir(frame, str(path), normalize, value_range)
    levels, info = image_levels(open_image(path, max_pixels), str(path))
    if info.color and not palette_ok:
        raise InputError(f"{path}: {PALETTE_HINT}")
    method = normalize or default_normalization(info.bit_depth)
    check_ir_scaling(levels, str(path), method, value_range, floating=info.mode == "F")
    return normalize_levels(levels, info.peak, method, value_range=value_range,
                            out=_reusable(levels)), info


def _reusable(levels: np.ndarray) -> np.ndarray | None:
    """``levels`` when the scaled image can overwrite it (float32, writable), else ``None``."""
    return levels if levels.dtype == np.float32 and levels.flags.writeable else None


def read_raw(path: str | os.PathLike) -> np.ndarray:
    """The samples as stored: H×W (gray, including gray-as-RGB) or H×W×3 (color), ``uint8``
    (8-bit; 1-bit as 0/255) or ``uint16`` (16-bit), for code that quantises by itself.

    Raises:
        InputError: as :func:`read_image`, or a float32 image (it has no stored levels).
    """
    levels, info = image_levels(open_image(path), str(path))
    if info.mode == "F":
        raise InputError(f"{path}: float32 image has no 8/16-bit levels (convert it to 8 or 16 "
                         f"bits first)")
    if info.bit_depth == 1:
        return (levels * 255).astype(np.uint8)
    return levels.astype(np.uint8 if info.bit_depth == 8 else np.uint16)


def read_gray_uint8(path: str | os.PathLike) -> np.ndarray:
    """An image file as H×W ``uint8`` gray, exactly as the MATLAB metric toolboxes see it.

    16-bit samples are quantised like MATLAB ``im2uint8`` (``round(x / 257)``), then color goes
    through MATLAB ``rgb2gray`` (BT.601 weights 0.2989/0.5870/0.1140, rounded half away from
    zero), see :func:`critnet.metrics.prepare.to_gray_uint8`.

    This is the one gray conversion of the package outside fusion: metrics, benchmarks **and
    training data** use it, so a network is trained on the same gray image it is scored on. PIL's
    ``convert("L")`` (integer 299/587/114 arithmetic, also BT.601) differs from it by one level on
    some pixels; training used it before, and switching changes nothing already trained (weights
    are not retrained; the difference is below JPEG noise). Fusion itself fuses the BT.601
    full-range Y channel in float (:func:`critnet.pipeline.fusion.rgb_to_ycbcr`), not a quantised
    gray.
    """
    # Imported here: critnet.metrics pulls in scipy (0.2–0.7 s), which fusing never needs.
    from critnet.metrics.prepare import to_gray_uint8

    return to_gray_uint8(read_raw(path))


def _one_line(error: BaseException) -> str:
    """An exception's message on one line (its type name when it has none)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__
