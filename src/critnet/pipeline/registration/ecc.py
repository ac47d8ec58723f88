"""ECC (enhanced correlation coefficient, OpenCV) on gradient-magnitude images: the estimators
``ecc`` (one start at the identity, coarse to fine on an image pyramid) and ``ecc-multi``
(several starting scales run on the coarse levels, the best by edge correlation refined).

Raw thermal and visible intensities are not related by a monotone map, but their edges largely
coincide, so ECC aligns the edge images. Both estimators work on the IR image already resized to
the visible size and return the warp **visible coordinates → (resized) IR coordinates**, ECC's
own convention (``input(warp(x)) ≈ template(x)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from critnet.errors import InputError
from critnet.pipeline.registration.measure import MIN_OVERLAP, coverage
from critnet.pipeline.registration.transform import centre_scaling, cv2_module, first_line

#: Largest ratio of the two axis scales (singular values) of an accepted estimate: ECC on weakly
#: related images can collapse the IR image onto a strip, which shows as a very uneven scale.
MAX_ANISOTROPY = 1.5
#: Starting scales of ``ecc-multi`` (visible pixel size relative to the resized IR's): fields of
#: view that differ by up to ±25 %.
START_SCALES = (1.0, 0.8, 0.9, 1.12, 1.25)


def pyramid_levels(size: tuple[int, int], levels: int) -> int:
    """How many pyramid levels fit (each halves the size; the coarsest is kept ≥ 32 pixels)."""
    return max(1, min(levels, int(np.log2(max(1, min(size) // 32))) + 1))


def ecc_pyramid(ir_edges: np.ndarray, vis_edges: np.ndarray, warp: np.ndarray, motion: str, *,
                levels: int = 3, iterations: int = 100, finest: int = 0) -> tuple[np.ndarray,
                                                                                   float]:
    """Refine ``warp`` (3×3, visible → IR coordinates, full resolution) by ECC from the coarsest
    pyramid level down to level ``finest`` (0: full resolution).

    Returns:
        ``(warp, correlation)``: the refined full-resolution warp and ECC's correlation at the
        last level run.

    Raises:
        InputError: ECC did not converge at some level.
    """
    cv2 = cv2_module()
    mode = cv2.MOTION_AFFINE if motion == "affine" else cv2.MOTION_HOMOGRAPHY
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-6)
    n_levels = pyramid_levels(vis_edges.shape, levels)
    correlation = 0.0
    for level in reversed(range(min(finest, n_levels - 1), n_levels)):
        factor = 2.0**-level
        scale = np.diag([factor, factor, 1.0])
        template, moving = scaled(vis_edges, factor), scaled(ir_edges, factor)
        guess = (scale @ warp @ np.linalg.inv(scale)).astype(np.float32)
        guess = guess if motion == "homography" else guess[:2].copy()
        try:
            correlation, found = cv2.findTransformECC(template, moving, guess, mode, criteria,
                                                      None, 5)
        except cv2.error as error:
            raise InputError(f"registration failed: ECC did not converge at 1/{2**level} scale "
                             f"({first_line(error)}); the images may share too few edges, "
                             f"or the misalignment is too large") from None
        found = found.astype(np.float64)
        if found.shape[0] == 2:
            found = np.vstack([found, [0.0, 0.0, 1.0]])
        warp = np.linalg.inv(scale) @ found @ scale
    return warp, float(correlation)


def ecc_single(ir_edges: np.ndarray, vis_edges: np.ndarray, motion: str, *, levels: int = 3,
               iterations: int = 100) -> tuple[np.ndarray, float]:
    """``ecc``: one start at the identity, coarse to fine (the estimator of critnet ≤ 0.x)."""
    return ecc_pyramid(ir_edges, vis_edges, np.eye(3), motion, levels=levels,
                       iterations=iterations)


def ecc_multi(ir_edges: np.ndarray, vis_edges: np.ndarray, motion: str, *, levels: int = 3,
              iterations: int = 100,
              scales: Sequence[float] = START_SCALES) -> tuple[np.ndarray, float]:
    """``ecc-multi``: every starting scale about the centre (1.0 is the identity) runs ECC on
    the coarse levels; among the starts that converge to a plausible warp (axis scales within
    ``MAX_ANISOTROPY``, overlap at least ``MIN_OVERLAP``), the one whose result correlates best
    there is refined at full resolution.

    Raises:
        InputError: no start converged to a plausible warp.
    """
    size = vis_edges.shape[::-1]
    starts = [np.linalg.inv(centre_scaling(size, scale)) for scale in scales]  # visible → IR
    return refine_best_start(ir_edges, vis_edges, starts, motion, levels=levels,
                             iterations=iterations)


def refine_best_start(ir_edges: np.ndarray, vis_edges: np.ndarray, starts: Sequence[np.ndarray],
                      motion: str, *, levels: int = 3, iterations: int = 100
                      ) -> tuple[np.ndarray, float]:
    """Multi-start ECC: each 3×3 visible → IR ``start`` runs ECC on the two coarsest pyramid
    levels; among those that converge to a plausible warp (:func:`check_warp`, overlap at least
    ``MIN_OVERLAP``) the best-correlating one is refined at full resolution. Returns
    ``(warp, correlation)``.

    Raises:
        InputError: no start converged to a plausible warp.
    """
    n_levels = pyramid_levels(vis_edges.shape, levels)
    coarse = max(0, n_levels - 2)  # the two coarsest levels pick the start
    size = vis_edges.shape[::-1]
    best: tuple[float, np.ndarray] | None = None
    failure = None
    for start in starts:
        try:
            warp, correlation = ecc_pyramid(ir_edges, vis_edges, start, motion, levels=n_levels,
                                            iterations=iterations, finest=coarse)
            check_warp(warp, motion)
        except InputError as error:
            failure = error
            continue
        if coverage(np.linalg.inv(warp), size, size, 2.0**-coarse).mean() < MIN_OVERLAP:
            continue
        if best is None or correlation > best[0]:
            best = (correlation, warp)
    if best is None:
        raise failure or InputError("registration failed: no start converged")
    if coarse == 0:
        return best[1], best[0]
    return ecc_pyramid(ir_edges, vis_edges, best[1], motion, levels=coarse, iterations=iterations)


def check_warp(warp: np.ndarray, motion: str) -> None:
    """Refuse a non-finite, singular or collapsing warp (:class:`InputError`)."""
    if not np.isfinite(warp).all() or abs(np.linalg.det(warp[:2, :2])) < 1e-9:
        raise InputError("registration failed: the estimate is not a usable transform")
    singular = np.linalg.svd(warp[:2, :2], compute_uv=False)
    if singular[0] > MAX_ANISOTROPY * singular[1]:
        raise InputError(f"registration failed: degenerate estimate (axis scales "
                         f"{1 / singular[1]:.2f} and {1 / singular[0]:.2f}); the images share "
                         f"too few edges for an {motion} fit")


def scaled(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` resized by ``factor`` (area averaging), at least 8×8."""
    if factor == 1.0:
        return image
    cv2 = cv2_module()
    height, width = image.shape
    size = (max(8, round(width * factor)), max(8, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
