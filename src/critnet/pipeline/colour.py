"""Colour for fusion: BT.601 full-range YCbCr (the conversion PIL's ``"YCbCr"`` mode and JPEG
use). A colour visible image is fused on its Y channel and keeps its Cb/Cr (docs/design.md §5).

One definition for numpy arrays (the fusion pipeline, with or without torch) and torch tensors
(training, :func:`critnet.pipeline.fusion.fuse_tensors`): the matrices are numpy constants and the
arithmetic (``@``, ``reshape``, ``+=``) is the same on both kinds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# BT.601 full range (JFIF), as PIL: rows give Y, Cb, Cr from R, G, B; Cb/Cr offset by 0.5.
RGB_TO_YCBCR = np.array([
    [0.299, 0.587, 0.114],
    [-0.168736, -0.331264, 0.5],
    [0.5, -0.418688, -0.081312],
], dtype=np.float64)
YCBCR_TO_RGB = np.array([
    [1.0, 0.0, 1.402],
    [1.0, -0.344136, -0.714136],
    [1.0, 1.772, 0.0],
], dtype=np.float64)
OFFSET = np.array([0.0, 0.5, 0.5])

Array = Any  # numpy array or torch tensor, B×C×H×W


def _constant(values: np.ndarray, like: Array) -> Array:
    """``values`` as ``like``'s kind, dtype and device."""
    if isinstance(like, np.ndarray):
        return values.astype(like.dtype)
    return like.new_tensor(values)  # a torch tensor


def _apply(matrix: np.ndarray, images: Array) -> Array:
    """The 3×3 ``matrix`` applied to the channels of B×3×H×W ``images``."""
    batch, _, height, width = images.shape
    flat = images.reshape(batch, 3, height * width)
    if isinstance(images, np.ndarray):
        # numpy's own loops, not ``@``: a matmul goes to the multi-threaded BLAS, whose threads
        # then spin after the call and take the cores from onnxruntime's next frame (tiny,
        # 640×480, 2 threads: 41-44 ms per forward after a matmul, 28 ms after this)
        product = np.einsum("ij,bjn->bin", _constant(matrix, images), flat)
    else:
        product = _constant(matrix, images) @ flat
    return product.reshape(batch, 3, height, width)


def rgb_to_ycbcr(rgb: Array) -> Array:
    """BT.601 full-range YCbCr (PIL's / JPEG's).

    Args:
        rgb: B×3×H×W in [0, 1] (numpy array or torch tensor).

    Returns:
        B×3×H×W of the same kind: Y in [0, 1], Cb and Cr in [0, 1] (0.5 = no chroma).
    """
    ycc = _apply(RGB_TO_YCBCR, rgb)
    ycc += _constant(OFFSET, ycc).reshape(1, 3, 1, 1)
    return ycc


def ycbcr_to_rgb(ycc: Array, *, inplace: bool = False) -> Array:
    """Inverse of :func:`rgb_to_ycbcr`.

    Args:
        ycc: B×3×H×W (Y, Cb, Cr) in [0, 1].
        inplace: centre ``ycc`` in place (it is then no longer YCbCr) instead of copying it:
            one full-frame copy fewer, for callers that drop ``ycc`` afterwards.

    Returns:
        B×3×H×W RGB, **not** clipped (clip for display; out-of-gamut values fall outside [0, 1]).
    """
    offset = _constant(OFFSET, ycc).reshape(1, 3, 1, 1)
    if inplace:
        ycc -= offset
        centred = ycc
    else:
        centred = ycc - offset
    return _apply(YCBCR_TO_RGB, centred)


def luma(image: Array) -> Array:
    """B×1×H×W grey version of a B×1×H×W or B×3×H×W image (BT.601 Y for colour)."""
    if image.shape[1] == 1:
        return image
    return rgb_to_ycbcr(image)[:, :1]
