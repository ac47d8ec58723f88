"""Estimate the IR → visible transform, and keep it only when it beats doing nothing.

1. The IR image is resized to the visible size (the *plain resize*; the identity for a pair of
   one size).
2. An estimator (``search`` — the default —, ``ecc-multi``, ``ecc`` or ``mattes``) finds a warp.
3. Sanity: a finite warp, axis scales within ``ecc.MAX_ANISOTROPY`` of each other, edge
   correlation at least :data:`MIN_CORRELATION`.
4. Never worse than doing nothing: the edge correlation
   (:mod:`~critnet.pipeline.registration.measure`) of the estimate must beat the plain resize's,
   on the same pixels, by :data:`TOLERANCE`; otherwise, or when 2–3 failed, the plain resize is
   kept and the one log line says so and why.
"""

from __future__ import annotations

import logging

import numpy as np

from critnet.errors import InputError
from critnet.pipeline.registration.ecc import check_warp, ecc_multi, ecc_single
from critnet.pipeline.registration.measure import compare
from critnet.pipeline.registration.transform import (
    Registration,
    cv2_module,
    edge_image,
    gray,
    resize_matrix,
)

#: ``affine`` (6 parameters: shift, rotation, scale, shear) or ``homography`` (8 parameters).
MOTIONS = ("affine", "homography")
#: The estimators; ``mattes`` needs SimpleITK (``critnet[register]``) and ``affine``.
METHODS = ("search", "ecc-multi", "ecc", "mattes")
DEFAULT_METHOD = "search"
#: Below this edge correlation (after alignment) an estimate is refused as a failure.
MIN_CORRELATION = 0.2
#: How much the estimate's edge correlation must exceed the plain resize's (absolute, on the
#: same pixels) to be used. Measured (docs/results/registration/): published RoadScene pairs
#: gain at most 0.077 from their few-pixel residual shifts, known misalignments at least 0.109.
TOLERANCE = 0.09

LOG = logging.getLogger("critnet.pipeline.registration")


def estimate_transform(
    ir: np.ndarray,
    vis: np.ndarray,
    *,
    motion: str = "affine",
    method: str = DEFAULT_METHOD,
    levels: int = 3,
    iterations: int = 100,
    min_correlation: float = MIN_CORRELATION,
    tolerance: float = TOLERANCE,
    strict: bool = False,
) -> Registration:
    """Estimate the transform taking the IR image onto the visible image.

    An IR image of another size is first scaled to the visible size (that scale is part of the
    returned matrix), so registration composes with ``resize_ir``.

    Args:
        ir: H'×W' (or H'×W'×3) float in [0, 1].
        vis: H×W (or H×W×3) float in [0, 1].
        motion: ``affine`` or ``homography``.
        method: ``search`` (default), ``ecc-multi``, ``ecc`` or ``mattes`` (see
            :data:`METHODS`).
        levels: pyramid levels of ``ecc`` (each halves the size; coarsest kept ≥ 32 pixels).
        iterations: iterations per level.
        min_correlation: an estimate whose edge correlation is below this is a failure.
        tolerance: the estimate must beat the plain resize's edge correlation by this much.
        strict: raise on a failed estimate instead of keeping the plain resize (the tolerance
            test still applies).

    Returns:
        A :class:`Registration` (IR coordinates → visible coordinates; ``kept_identity`` when
        the plain resize was kept), logged (INFO, one line) on the
        ``critnet.pipeline.registration`` logger.

    Raises:
        InputError: unknown ``motion`` or ``method``, no OpenCV (no SimpleITK for ``mattes``);
            with ``strict``, a failed estimate.
    """
    if motion not in MOTIONS:
        raise InputError(f"unknown registration motion {motion!r}; choose one of "
                         f"{', '.join(MOTIONS)}")
    if method not in METHODS:
        raise InputError(f"unknown registration method {method!r}; choose one of "
                         f"{', '.join(METHODS)}")
    cv2 = cv2_module()
    height, width = vis.shape[:2]
    prescale = resize_matrix((ir.shape[1], ir.shape[0]), (width, height))
    ir_gray, vis_gray = gray(ir), gray(vis)
    if ir_gray.shape != (height, width):
        ir_gray = cv2.resize(ir_gray, (width, height), interpolation=cv2.INTER_AREA)
    ir_edges, vis_edges = edge_image(ir_gray), edge_image(vis_gray)
    try:
        warp = _estimate(method, ir_gray, vis_gray, ir_edges, vis_edges, motion, levels,
                         iterations)
        check_warp(warp, motion)
        found = np.linalg.inv(warp)
        found = found / found[2, 2]
        correlation, identity = compare(ir_edges, vis_edges, found, np.eye(3))
        if not correlation >= min_correlation:  # also nan: too little overlap
            as_given = compare(ir_edges, vis_edges, np.eye(3), np.eye(3))[1]
            if as_given >= min_correlation:  # the pair matches: the estimator failed
                raise InputError(f"registration failed: the {method} estimate's edge "
                                 f"correlation {correlation:.3f} is below {min_correlation}, "
                                 f"while the pair as given scores {as_given:.3f} (the images "
                                 f"already look aligned; the estimate went wrong, not the pair)")
            raise InputError(f"registration failed: edge correlation {correlation:.3f} after "
                             f"alignment is below {min_correlation} (the images do not seem to "
                             f"show the same scene)")
    except InputError as error:
        if strict:
            raise
        note = str(error).removeprefix("registration failed: ")
        kept = _identity(prescale, motion, method, (width, height), ir_edges, vis_edges, note)
        LOG.info("registration: %s", kept.describe())
        return kept
    if not correlation > identity + tolerance:
        note = (f"the {method} estimate's edge correlation {correlation:.3f} does not beat it "
                f"by {tolerance}")
        result = _identity(prescale, motion, method, (width, height), ir_edges, vis_edges, note,
                           identity)
    else:
        matrix = found @ prescale
        result = Registration(matrix=matrix / matrix[2, 2], motion=motion,
                              correlation=correlation, size=(width, height), method=method,
                              identity_correlation=identity)
    LOG.info("registration: %s", result.describe())
    return result


def _estimate(method: str, ir_gray: np.ndarray, vis_gray: np.ndarray, ir_edges: np.ndarray,
              vis_edges: np.ndarray, motion: str, levels: int, iterations: int) -> np.ndarray:
    if method == "ecc":
        return ecc_single(ir_edges, vis_edges, motion, levels=levels, iterations=iterations)[0]
    if method == "ecc-multi":
        return ecc_multi(ir_edges, vis_edges, motion, levels=levels, iterations=iterations)[0]
    if method == "search":
        from critnet.pipeline.registration.search import search

        return search(ir_edges, vis_edges, motion, levels=levels, iterations=iterations)[0]
    from critnet.pipeline.registration.mattes import mattes

    return mattes(ir_gray, vis_gray, motion, iterations=iterations)[0]


def _identity(prescale: np.ndarray, motion: str, method: str, size: tuple[int, int],
              ir_edges: np.ndarray, vis_edges: np.ndarray, note: str,
              identity: float | None = None) -> Registration:
    if identity is None:
        identity = compare(ir_edges, vis_edges, np.eye(3), np.eye(3))[1]
    return Registration(matrix=prescale, motion=motion, correlation=identity, size=size,
                        method=method, kept_identity=True, identity_correlation=identity,
                        note=note)
