"""Input conventions shared by every metric: gray conversion, quantisation, the image triple.

The reference MATLAB toolboxes work on 8-bit gray images (METRICS.md §0.2). Every metric in
:mod:`critnet.metrics` therefore sees the same thing: three float64 arrays of shape ``(H, W)``
holding integer gray levels 0..255. :func:`to_gray_uint8` produces them from

* ``uint8`` gray ``(H, W)`` or ``(H, W, 1)``: used as is;
* ``uint8`` RGB ``(H, W, 3)`` (or RGBA, alpha dropped): MATLAB ``rgb2gray``;
* float arrays with values in [0, 1]: quantised like MATLAB ``im2uint8``
  (``round(255·x)`` half away from zero, saturated to 0..255), then as above;
* ``uint16``: MATLAB ``im2uint8`` (``round(x / 257)``), then as above.

:class:`FusionTriple` holds one (IR, VIS, fused) triple and a cache so that metrics computed
together share intermediate work (gradients, histograms, normalised images).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from critnet.errors import InputError

# First row of inv([[1, .956, .621], [1, -.272, -.647], [1, -1.106, 1.703]]), MATLAB rgb2gray.
RGB2GRAY_COEFFS = (0.298936021293775, 0.587043074451121, 0.114020904255103)

T = TypeVar("T")


def matlab_round(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (MATLAB ``round`` and integer casts), elementwise."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Quantise an image to ``uint8`` the way MATLAB ``im2uint8`` does; keeps the shape.

    Args:
        image: ``uint8`` (returned unchanged), ``uint16`` (``round(x/257)``), ``bool``
            (0/255), or float with values nominally in [0, 1] (``round(255·x)`` half away
            from zero, saturated; NaN becomes 0).

    Raises:
        InputError: any other dtype (e.g. signed integers, whose range is ambiguous), or a
            float image with values above 2 (almost surely 0..255 data passed as float).
    """
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if image.dtype == np.uint16:
        return matlab_round(image / 257.0).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        if image.size and np.nanmax(image) > 2.0:
            raise InputError(f"float image with values up to {np.nanmax(image):g}: float images "
                             "must be in [0, 1] (pass uint8 for 0..255 data)")
        scaled = np.nan_to_num(image.astype(np.float64) * 255.0, nan=0.0)
        return np.clip(matlab_round(scaled), 0, 255).astype(np.uint8)
    raise InputError(f"unsupported image dtype {image.dtype}: use uint8, uint16 or float in [0, 1]")


def rgb2gray(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2gray`` on a ``uint8`` image: ``(H, W, 3) uint8 -> (H, W) uint8``.

    ``round(0.298936021293775·R + 0.587043074451121·G + 0.114020904255103·B)`` rounded half
    away from zero and saturated (METRICS.md §0.2). Not PIL ``convert('L')`` (integer
    299/587/114 arithmetic differs by one level on some pixels).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputError(f"rgb2gray expects an (H, W, 3) uint8 array, got {rgb.shape} {rgb.dtype}")
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    gray = RGB2GRAY_COEFFS[0] * r + RGB2GRAY_COEFFS[1] * g + RGB2GRAY_COEFFS[2] * b
    return np.clip(np.floor(gray + 0.5), 0, 255).astype(np.uint8)


def _channels_last(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (1, 3, 4):
        return image[..., :3] if image.shape[2] == 4 else image
    if image.ndim == 2:
        return image
    raise InputError(f"expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                     f"got {image.shape}")


def to_gray_uint8(image: np.ndarray) -> np.ndarray:
    """Any supported image -> ``(H, W) uint8`` gray (quantise first, then ``rgb2gray``)."""
    image = to_uint8(_channels_last(image))
    if image.ndim == 3:
        image = image[..., 0] if image.shape[2] == 1 else rgb2gray(image)
    return image


def to_planes_uint8(image: np.ndarray) -> np.ndarray:
    """Any supported image -> ``(C, H, W) uint8`` with C = 1 (gray) or 3 (colour), no conversion."""
    image = to_uint8(_channels_last(image))
    if image.ndim == 2:
        return image[None]
    return np.moveaxis(image, 2, 0)


class FusionTriple:
    """One (IR, VIS, fused) triple of gray images plus a cache of shared intermediates.

    Attributes:
        ir, vis, fused: float64 arrays ``(H, W)`` of integer gray levels 0..255 (read-only).

    Metric functions read these attributes and call :meth:`cached` for work that other
    metrics reuse. Entries that depend only on the sources are kept in a separate cache that
    :meth:`with_fused` shares, so evaluating several fused images of one pair reuses them.
    """

    def __init__(self, ir: np.ndarray, vis: np.ndarray, fused: np.ndarray,
                 _source_cache: dict[Any, Any] | None = None) -> None:
        arrays = []
        for name, image in (("ir", ir), ("vis", vis), ("fused", fused)):
            image = np.asarray(image)
            if image.ndim != 2:
                raise InputError(f"{name}: expected a 2-D gray plane, got shape {image.shape}")
            array = image.astype(np.float64)
            array.flags.writeable = False
            arrays.append(array)
        self.ir, self.vis, self.fused = arrays
        shapes = {self.ir.shape, self.vis.shape, self.fused.shape}
        if len(shapes) != 1:
            raise InputError(f"image sizes differ: ir {self.ir.shape}, vis {self.vis.shape}, "
                             f"fused {self.fused.shape}")
        self._source_cache: dict[Any, Any] = {} if _source_cache is None else _source_cache
        self._cache: dict[Any, Any] = {}

    @classmethod
    def from_images(cls, ir: np.ndarray, vis: np.ndarray, fused: np.ndarray) -> FusionTriple:
        """Build from any supported images, each converted by :func:`to_gray_uint8`."""
        return cls(to_gray_uint8(ir), to_gray_uint8(vis), to_gray_uint8(fused))

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)``."""
        return self.fused.shape  # type: ignore[return-value]

    def source(self, which: str) -> np.ndarray:
        """``"ir"`` or ``"vis"`` -> that source array."""
        return {"ir": self.ir, "vis": self.vis}[which]

    def cached(self, key: Any, compute: Callable[[], T], *, sources_only: bool = False) -> T:
        """Return ``compute()``, memoised under ``key`` (in the shared source cache if
        ``sources_only``; such entries must not depend on the fused image)."""
        cache = self._source_cache if sources_only else self._cache
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def with_fused(self, fused: np.ndarray) -> FusionTriple:
        """A triple with the same sources (and their cached work) and another fused plane."""
        return FusionTriple(self.ir, self.vis, fused, _source_cache=self._source_cache)


def vifb_channel_triples(ir: np.ndarray, vis: np.ndarray, fused: np.ndarray
                         ) -> Iterator[FusionTriple]:
    """VIFB's colour mode (METRICS.md §0.2): one gray triple per channel of the fused image.

    Channel k of ``fused`` is paired with channel k of each source, or with the single plane
    of a gray source. A gray ``fused`` gives one triple, with colour sources converted by
    :func:`rgb2gray` (the package convention; VIFB itself is inconsistent there).
    """
    f = to_planes_uint8(fused)
    if f.shape[0] == 1:
        yield FusionTriple.from_images(ir, vis, fused)
        return
    ir_planes, vis_planes = to_planes_uint8(ir), to_planes_uint8(vis)
    cache_by_source: dict[tuple[int, int], dict[Any, Any]] = {}
    for k in range(f.shape[0]):
        i = min(k, ir_planes.shape[0] - 1)
        v = min(k, vis_planes.shape[0] - 1)
        shared = cache_by_source.setdefault((i, v), {})
        yield FusionTriple(ir_planes[i], vis_planes[v], f[k], _source_cache=shared)
