"""Sample values of a decoded image and their scaling to [0, 1] (docs/design.md §5).

:func:`image_levels` turns a PIL image of any supported mode into raw sample values plus an
:class:`ImageInfo`; :func:`normalize_levels` maps them to float32 in [0, 1]. The ``minmax`` and
``percentile`` stretches are for **infrared images only**: a visible image is always scaled by
its bit depth's full range (÷255, ÷65535), so a 16-bit visible image fuses like its 8-bit version.

Float32 frames (PIL mode ``F``: radiometric TIFF, temperatures) are read as they are stored; their
``full`` range is [0, 1], so they are stretched (``percentile`` by default) or mapped from a user
range ``(low, high)`` in the file's units. NaN pixels (no reading) are treated as the low end: the
range statistics ignore them and they become 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from critnet.errors import InputError

#: IR normalisations (docs/design.md §5): ``full`` divides by the largest value of the bit depth,
#: ``minmax`` stretches the image's own range, ``percentile`` its 0.5–99.5 % range.
NORMALIZATIONS = ("full", "minmax", "percentile")
PERCENTILES = (0.5, 99.5)

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_COLOR_MODES = ("RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV")


@dataclass(frozen=True)
class ImageInfo:
    """What was read.

    Attributes:
        name: the file path (or a label such as ``"visible array"``), used in error messages.
        size: ``(width, height)`` after EXIF orientation.
        bit_depth: 1, 8 or 16 bits per sample in the source; 32 for float32 (mode ``F``).
        color: ``True`` if the image has colour (gray-as-RGB counts as gray).
        mode: the source's PIL mode (``"L"``, ``"RGB"``, ``"I;16"``, ...).
    """

    name: str
    size: tuple[int, int]
    bit_depth: int
    color: bool
    mode: str

    @property
    def peak(self) -> int | float:
        """Largest value of the bit depth: 1, 255 or 65535; 1.0 for float data."""
        return 1.0 if self.mode == "F" else 2**self.bit_depth - 1


def default_normalization(bit_depth: int) -> str:
    """The IR default: ``percentile`` for 16-bit and float data (thermal frames use a narrow
    range), else ``full``. Visible images are always ``full``."""
    return "percentile" if bit_depth > 8 else "full"


def normalize_levels(
    levels: np.ndarray,
    peak: float,
    method: str = "full",
    *,
    value_range: tuple[float, float] | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Map raw sample values to float32 in [0, 1].

    Computed in float64 and rounded once to float32, in blocks of rows (a full-frame float64
    copy of a 4096² colour image would be 0.4 GB, each).

    Args:
        levels: array of any shape holding values in ``[0, peak]`` (e.g. 0..65535), or float
            values in any unit (temperatures); NaN pixels become 0 (the low end).
        peak: largest value of the bit depth (``255``, ``65535``; ``1.0`` for float data).
        method: ``full`` (÷ peak), ``minmax`` (the image's own min..max → 0..1) or ``percentile``
            (its 0.5 %..99.5 % range → 0..1, clipped). A flat image (no range to stretch) falls
            back to ``full``. Statistics ignore non-finite pixels.
        value_range: ``(low, high)`` in the units of ``levels`` → 0..1, clipped; replaces
            ``method``.
        out: a float32 array of ``levels``' shape to write into (may be ``levels`` itself);
            ``None``: a new one.

    Returns:
        float32 array of ``levels``' shape, values in [0, 1].

    Raises:
        InputError: an unknown ``method`` or a ``value_range`` whose high is not above its low.
    """
    if method not in NORMALIZATIONS:
        raise InputError(f"unknown normalisation {method!r}; choose one of "
                         f"{', '.join(NORMALIZATIONS)}")
    levels = np.asarray(levels)
    lo, hi = 0.0, float(peak)
    if value_range is not None:
        lo, hi = check_value_range(value_range)
    elif method in ("minmax", "percentile"):
        finite = _finite(levels)
        if finite.size and method == "minmax":
            lo, hi = float(finite.min()), float(finite.max())  # exact in any dtype
        elif finite.size:
            lo, hi = (float(v) for v in np.percentile(finite.astype(np.float64), PERCENTILES))
            if hi <= lo:
                lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        lo, hi = 0.0, float(peak)
    return _scale(levels, lo, hi, np.empty(levels.shape, np.float32) if out is None else out)


#: Elements per block of :func:`_scale` (8 MB of float64).
_BLOCK = 1 << 20


def _finite(levels: np.ndarray) -> np.ndarray:
    """The finite values of ``levels``, flat (``levels`` itself, raveled, when all are)."""
    if np.issubdtype(levels.dtype, np.integer) or levels.dtype == bool:
        return levels.ravel()
    mask = np.isfinite(levels)
    return levels.ravel() if mask.all() else levels[mask]


def _scale(levels: np.ndarray, lo: float, hi: float, out: np.ndarray) -> np.ndarray:
    """``out = float32(nan→0(clip((float64(levels) − lo) / (hi − lo), 0, 1)))``, by row blocks
    (the same arithmetic as on the whole array, so the same bits)."""
    if levels.ndim == 0 or levels.size <= _BLOCK:
        blocks = [slice(None)]
    else:
        step = max(1, _BLOCK * levels.shape[0] // levels.size)
        blocks = [slice(i, i + step) for i in range(0, levels.shape[0], step)]
    for rows in blocks:
        x = levels[rows].astype(np.float64)  # a copy: safe when ``out`` is ``levels``
        x -= lo
        x /= hi - lo
        np.clip(x, 0.0, 1.0, out=x)
        np.nan_to_num(x, copy=False, nan=0.0)
        out[rows] = x
    return out


def check_ir_scaling(levels: np.ndarray, name: str, method: str,
                     value_range: tuple[float, float] | None, *, floating: bool,
                     unit: str = "") -> None:
    """Refuse an IR scaling that would make a meaningless image of ``levels``: float data
    without one finite value, a ``value_range`` entirely outside the values the data spans (the
    IR image would be uniform black or white), or ``full`` on float data (temperatures) beyond
    0..1 (``full`` is ÷1 for float data, so nearly everything clips).

    Raises:
        InputError: one line naming ``name``, what the data spans and what to use instead.
    """
    if value_range is None and not floating:
        return
    finite = _finite(np.asarray(levels))
    if finite.size == 0:
        raise InputError(f"{name}: holds no finite value (every pixel is NaN or infinite): "
                         f"nothing to fuse")
    if value_range is None and method != "full":
        return
    low, high = float(finite.min()), float(finite.max())
    span = f"{low:.4g}..{high:.4g}{unit}"
    if value_range is not None:
        lo, hi = check_value_range(value_range)
        if hi <= low or lo >= high:
            shade = "white" if hi <= low else "black"
            raise InputError(f"{name}: the IR values span {span}, all outside the IR range "
                             f"{lo:g}..{hi:g} (--ir-range): the IR image would be uniformly "
                             f"{shade}; give a range that overlaps {span}")
    elif low < 0.0 or high > 1.0:
        what = "temperatures" if unit.strip() == "°C" else "float values"
        raise InputError(f"{name}: {what} spanning {span}, not 0..1, so the 'full' IR "
                         f"normalisation (÷1) would clip it; use percentile or minmax "
                         f"(--ir-normalize), or an IR range LOW HIGH (--ir-range)")


def check_value_range(value_range: tuple[float, float]) -> tuple[float, float]:
    """``value_range`` as two finite floats ``(low, high)`` with ``low < high``.

    Raises:
        InputError: not two finite numbers, or ``high <= low``.
    """
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise InputError(f"IR range must be two numbers LOW HIGH, got {value_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise InputError(f"IR range must be finite with LOW < HIGH, got {lo:g} {hi:g}")
    return lo, hi


def image_levels(img: Image.Image, name: str = "<image>") -> tuple[np.ndarray, ImageInfo]:
    """Raw sample values of a PIL image and what they are.

    Args:
        img: a loaded PIL image of a supported mode.
        name: the file name for messages.

    Returns:
        ``(levels, info)``: ``levels`` is float32, H×W (gray, including gray-as-RGB) or H×W×3
        (color; palette, CMYK, YCbCr converted to RGB, alpha dropped), in ``[0, info.peak]``.

    Raises:
        InputError: an unsupported mode (e.g. 32-bit integers beyond 16 bits).
    """
    mode = img.mode
    if mode == "F":
        levels, bit_depth = np.asarray(img, dtype=np.float32), 32
    elif mode == "1":
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
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        levels, bit_depth = np.asarray(rgb, dtype=np.float32), 8
    else:
        raise InputError(f"{name}: unsupported image mode {mode!r} (use 1/8/16-bit or float32 "
                         f"gray, or 8-bit color)")
    color = levels.ndim == 3
    if color and _is_gray(levels):
        levels, color = levels[..., 0].copy(), False
    info = ImageInfo(name=name, size=img.size, bit_depth=bit_depth, color=color, mode=mode)
    return levels, info


def _is_gray(rgb: np.ndarray) -> bool:
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return bool(np.array_equal(red, green) and np.array_equal(green, blue))
