"""Classic fusion rules used as reference rows in every benchmark table.

Pure numpy/scipy functions on float images in [0, 1]; any size, odd sizes included. Each takes
``ir`` and ``vis`` of one shape, ``(H, W)`` or ``(H, W, C)`` (channels are treated
independently), and returns a float64 array of that shape in [0, 1].

Quick use::

    from critnet.evaluation.baselines import BASELINES, laplacian_pyramid
    fused = laplacian_pyramid(ir, vis)              # (H, W) float in [0, 1]
    fused = BASELINES["Average"](ir, vis)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from critnet.errors import InputError

# Burt & Adelson's 5-tap generating kernel (a = 0.375), separable.
_KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
_MIN_SIDE = 8  # the coarsest pyramid level keeps at least this many pixels per side

FusionRule = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _pair(ir: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ir = np.asarray(ir, dtype=np.float64)
    vis = np.asarray(vis, dtype=np.float64)
    if ir.shape != vis.shape:
        raise InputError(f"ir and vis shapes differ: {ir.shape} and {vis.shape}")
    if ir.ndim not in (2, 3) or min(ir.shape[:2]) < 1:
        raise InputError(f"expected (H, W) or (H, W, C) images, got shape {ir.shape}")
    return ir, vis


def average(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """Pixel average ``(ir + vis) / 2``.

    Args:
        ir, vis: ``(H, W)`` or ``(H, W, C)`` float in [0, 1], same shape.

    Returns:
        float64, the same shape, in [0, 1].
    """
    ir, vis = _pair(ir, vis)
    return (ir + vis) / 2.0


def maximum(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """Pixel maximum ``max(ir, vis)`` (keeps the brighter of the two, e.g. hot IR targets).

    Args:
        ir, vis: ``(H, W)`` or ``(H, W, C)`` float in [0, 1], same shape.

    Returns:
        float64, the same shape, in [0, 1].
    """
    ir, vis = _pair(ir, vis)
    return np.maximum(ir, vis)


def _blur(image: np.ndarray) -> np.ndarray:
    """Separable 5-tap Gaussian along axes 0 and 1, mirrored borders."""
    out = ndimage.convolve1d(image, _KERNEL, axis=0, mode="mirror")
    return ndimage.convolve1d(out, _KERNEL, axis=1, mode="mirror")


def reduce(image: np.ndarray) -> np.ndarray:
    """One pyramid step down: blur, keep every second row and column.

    ``(H, W[, C]) -> (ceil(H/2), ceil(W/2)[, C])``.
    """
    return _blur(image)[::2, ::2]


def expand(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """One pyramid step up to ``shape`` (the finer level's shape; odd sizes allowed).

    Zero-insertion on the even rows/columns, then the 5-tap blur ×4 so a constant stays constant
    in the interior. ``(ceil(H/2), ceil(W/2)[, C]) -> shape``.
    """
    up = np.zeros(shape, dtype=np.float64)
    up[::2, ::2] = image
    norm = np.zeros(shape[:2], dtype=np.float64)
    norm[::2, ::2] = 1.0
    weight = _blur(norm)
    if up.ndim == 3:
        weight = weight[..., None]
    # Dividing by the blurred sampling mask (instead of ×4) keeps borders and odd edges exact
    # for constant images.
    return _blur(up) / weight


def pyramid_levels(shape: tuple[int, ...], levels: int | None = None) -> int:
    """Number of pyramid levels for an image of ``shape``: ``levels`` if given, else as many as
    keep the coarsest level at least 8 pixels per side (at least 1: no decomposition)."""
    if levels is not None:
        if levels < 1:
            raise InputError(f"pyramid levels must be >= 1, got {levels}")
        return levels
    count, side = 1, min(shape[:2])
    while side >= 2 * _MIN_SIDE:
        side = (side + 1) // 2
        count += 1
    return count


def laplacian_pyramid_decompose(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """Laplacian pyramid ``[L0, ..., L_{n-2}, G_{n-1}]``: band-pass details from fine to coarse,
    then the low-pass base. ``L_k = G_k - expand(G_{k+1})``; L0 has ``image``'s shape."""
    gaussians = [np.asarray(image, dtype=np.float64)]
    for _ in range(levels - 1):
        gaussians.append(reduce(gaussians[-1]))
    details = [g - expand(g_next, g.shape)
               for g, g_next in zip(gaussians, gaussians[1:], strict=False)]
    return [*details, gaussians[-1]]


def laplacian_pyramid_reconstruct(pyramid: list[np.ndarray]) -> np.ndarray:
    """Invert :func:`laplacian_pyramid_decompose` (exactly, up to float rounding)."""
    image = pyramid[-1]
    for detail in reversed(pyramid[:-1]):
        image = detail + expand(image, detail.shape)
    return image


def laplacian_pyramid(ir: np.ndarray, vis: np.ndarray, levels: int | None = None) -> np.ndarray:
    """Laplacian-pyramid fusion (Burt & Adelson): at every detail level keep the coefficient with
    the larger magnitude (max-abs), average the two low-pass bases, reconstruct, clip to [0, 1].

    Args:
        ir, vis: ``(H, W)`` or ``(H, W, C)`` float in [0, 1], same shape, any size.
        levels: pyramid depth including the base (default: down to about 8 pixels per side).

    Returns:
        float64, the same shape, in [0, 1]. ``laplacian_pyramid(x, x) == x``.

    Example:
        >>> import numpy as np
        >>> laplacian_pyramid(np.zeros((33, 47)), np.ones((33, 47))).shape
        (33, 47)
    """
    ir, vis = _pair(ir, vis)
    depth = pyramid_levels(ir.shape, levels)
    p_ir = laplacian_pyramid_decompose(ir, depth)
    p_vis = laplacian_pyramid_decompose(vis, depth)
    fused = [np.where(np.abs(a) >= np.abs(b), a, b)
             for a, b in zip(p_ir[:-1], p_vis[:-1], strict=True)]
    fused.append((p_ir[-1] + p_vis[-1]) / 2.0)
    return np.clip(laplacian_pyramid_reconstruct(fused), 0.0, 1.0)


# Registry: table row name -> rule. The names are what tables and cache folders show.
BASELINES: dict[str, FusionRule] = {
    "Average": average,
    "Maximum": maximum,
    "LP": laplacian_pyramid,
}
