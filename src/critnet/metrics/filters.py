"""Filtering primitives with MATLAB semantics (METRICS.md §0.3), vectorised with numpy/scipy.

All functions take and return float64 arrays of shape ``(H, W)`` unless stated.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def sobel_zero(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel responses with zero padding, ``(H, W) -> (sx, sy)`` each ``(H, W)``.

    ``sx`` = correlation with ``[[-1,0,1],[-2,0,2],[-1,0,1]]``, ``sy`` = correlation with
    ``[[1,2,1],[0,0,0],[-1,-2,-1]]`` (MATLAB ``filter2(k, x, 'same')``). Integer inputs give
    exact integer outputs. ``conv2`` with the same kernels returns ``(-sx, -sy)``.
    """
    p = np.pad(x, 1)
    left, mid, right = p[:, :-2], p[:, 1:-1], p[:, 2:]
    horiz = right - left                      # column difference per padded row
    sx = horiz[:-2] + 2.0 * horiz[1:-1] + horiz[2:]
    smooth = left + 2.0 * mid + right         # row smoothing per padded row
    sy = smooth[:-2] - smooth[2:]
    return sx, sy


def fspecial_gaussian(size: int, sigma: float) -> np.ndarray:
    """1-D factor ``(size,)`` of MATLAB ``fspecial('gaussian', size, sigma)`` (sums to 1).

    The 2-D window is ``np.outer(g, g)``.
    """
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def correlate_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``filter2(outer(g, g), x, 'valid')`` for a separable window: ``(H, W) -> (H-n+1, W-n+1)``."""
    n = g.size
    out = ndimage.correlate1d(x, g, axis=0, mode="constant")
    out = ndimage.correlate1d(out, g, axis=1, mode="constant")
    lo = n // 2
    hi = n - 1 - lo
    return out[lo:out.shape[0] - hi, lo:out.shape[1] - hi]


def correlate_same_zero(x: np.ndarray, gy: np.ndarray, gx: np.ndarray) -> np.ndarray:
    """``filter2(outer(gy, gx), x, 'same')`` (zero padding) for odd-length factors; ``(H, W)``."""
    out = ndimage.correlate1d(x, gy, axis=0, mode="constant", cval=0.0)
    return ndimage.correlate1d(out, gx, axis=1, mode="constant", cval=0.0)


def freqspace_radius(shape: tuple[int, int], row_scale: float, col_scale: float) -> np.ndarray:
    """``r = sqrt(u² + v²)`` on MATLAB's ``freqspace(shape, 'meshgrid')`` grid scaled by
    ``u ← col_scale·u``, ``v ← row_scale·v``; ``(H, W)``, DC at ``(H//2, W//2)``
    (fftshift order)."""
    h, w = shape
    u = (np.arange(w) - w // 2) * (2.0 / w) * col_scale
    v = (np.arange(h) - h // 2) * (2.0 / h) * row_scale
    return np.sqrt(u[None, :] ** 2 + v[:, None] ** 2)


def filter_frequency(x: np.ndarray, response: np.ndarray) -> np.ndarray:
    """``real(ifft2(ifftshift(fftshift(fft2(x)) · response)))`` for a centred ``response``."""
    return np.fft.ifft2(np.fft.fft2(x) * np.fft.ifftshift(response)).real


def block_sum(x: np.ndarray, block: int = 16) -> np.ndarray:
    """Sums over non-overlapping ``block``×``block`` tiles (MATLAB ``blkproc`` layout: zero-padded
    at the bottom/right to a multiple of ``block``); ``(H, W) -> (ceil(H/b), ceil(W/b))``."""
    h, w = x.shape
    ph, pw = -h % block, -w % block
    p = np.pad(x, ((0, ph), (0, pw)))
    return p.reshape(p.shape[0] // block, block, p.shape[1] // block, block).sum(axis=(1, 3))
