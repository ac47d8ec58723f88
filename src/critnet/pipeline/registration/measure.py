"""The alignment measure that decides between an estimate and doing nothing.

Zero-mean normalised cross-correlation of the two **gradient-magnitude images**
(:func:`~critnet.pipeline.registration.transform.edge_image`), over the visible pixels that the
warped IR image covers. An estimate and the identity are always compared on the *same* pixels
(those both cover), so an estimate cannot win by shrinking the overlap onto a lucky region.
"""

from __future__ import annotations

import numpy as np

from critnet.pipeline.registration.transform import cv2_module

#: Smallest share of the visible image the warped IR image must cover for a comparison.
MIN_OVERLAP = 0.25


def coverage(matrix: np.ndarray, source: tuple[int, int], target: tuple[int, int],
             scale: float = 1.0) -> np.ndarray:
    """Boolean mask (target H×W) of the pixels that ``matrix`` (source → target coordinates)
    fills from inside a ``source`` image; ``scale`` shrinks both grids (a pyramid level)."""
    cv2 = cv2_module()
    size = (max(1, round(target[0] * scale)), max(1, round(target[1] * scale)))
    level = np.diag([scale, scale, 1.0])
    ones = np.ones((max(1, round(source[1] * scale)), max(1, round(source[0] * scale))),
                   np.float32)
    inside = cv2.warpPerspective(ones, level @ matrix @ np.linalg.inv(level), size,
                                 flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=0.0)
    return inside > 0.5


def edge_correlation(ir_edges: np.ndarray, vis_edges: np.ndarray, matrix: np.ndarray,
                     mask: np.ndarray | None = None) -> float:
    """NCC of ``vis_edges`` and ``ir_edges`` warped by ``matrix`` (IR → visible coordinates),
    over ``mask`` (default: the pixels the warped IR image covers); ``nan`` when fewer than
    :data:`MIN_OVERLAP` of the visible pixels are compared or either image is flat there."""
    cv2 = cv2_module()
    height, width = vis_edges.shape
    warped = cv2.warpPerspective(ir_edges, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
    if mask is None:
        mask = coverage(matrix, ir_edges.shape[::-1], (width, height))
    if mask.mean() < MIN_OVERLAP:
        return float("nan")
    a = warped[mask].astype(np.float64)
    b = vis_edges[mask].astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    norm = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / norm) if norm > 0 else float("nan")


def compare(ir_edges: np.ndarray, vis_edges: np.ndarray, estimate: np.ndarray,
            identity: np.ndarray) -> tuple[float, float]:
    """``(estimate's, identity's)`` edge correlation over the pixels both transforms cover.

    Args:
        ir_edges: edge image of the IR image as given (its own size).
        vis_edges: edge image of the visible image.
        estimate, identity: 3×3 IR → visible transforms (``identity``: the plain resize).
    """
    size, target = ir_edges.shape[::-1], vis_edges.shape[::-1]
    mask = coverage(estimate, size, target) & coverage(identity, size, target)
    return (edge_correlation(ir_edges, vis_edges, estimate, mask),
            edge_correlation(ir_edges, vis_edges, identity, mask))
