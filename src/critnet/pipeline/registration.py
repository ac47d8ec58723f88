"""Registration of a misaligned IR image onto the visible image (pure functions on arrays).

The transform is estimated with OpenCV's ECC (enhanced correlation coefficient) maximisation on
**gradient-magnitude images** of both modalities: raw thermal and visible intensities are not
related by a monotone map, but their edges largely coincide. The estimate runs coarse to fine on
an image pyramid, so shifts of several percent of the image size are found. Needs OpenCV
(``pip install critnet[video]``).

Conventions: images are H×W float arrays in [0, 1] (colour is reduced to its mean first); the
returned :class:`Registration` maps **IR pixel coordinates to visible pixel coordinates**
(``[x_vis, y_vis, 1]ᵀ ∝ M·[x_ir, y_ir, 1]ᵀ``), so :func:`warp_ir` with it gives an IR image on
the visible image's grid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from critnet.errors import InputError

#: ``affine`` (6 parameters: shift, rotation, scale, shear) or ``homography`` (8 parameters).
MOTIONS = ("affine", "homography")
#: Below this correlation of the aligned edge images the estimate is refused as a failure.
MIN_CORRELATION = 0.2
#: Largest ratio of the two axis scales (singular values) of an accepted estimate: ECC on weakly
#: related images can collapse the IR image onto a strip, which shows as a very uneven scale.
MAX_ANISOTROPY = 1.5

LOG = logging.getLogger(__name__)
MISSING_OPENCV = ("registration needs OpenCV: pip install 'critnet[video]' "
                  "(or pip install opencv-python-headless)")


@dataclass(frozen=True)
class Registration:
    """An estimated IR → visible transform.

    Attributes:
        matrix: 3×3 float64, IR pixel coordinates → visible pixel coordinates (last row
            ``0 0 1`` for ``affine``).
        motion: ``affine`` or ``homography``.
        correlation: ECC correlation of the aligned edge images at full resolution (1 = equal).
        size: ``(width, height)`` of the visible image the transform maps onto.
    """

    matrix: np.ndarray
    motion: str
    correlation: float
    size: tuple[int, int]

    def describe(self) -> str:
        """One line for logs: shift, scale and rotation (affine part), correlation."""
        m = self.matrix
        scale = float(np.sqrt(abs(np.linalg.det(m[:2, :2]))))
        angle = float(np.degrees(np.arctan2(m[1, 0] - m[0, 1], m[0, 0] + m[1, 1])))
        rows = "; ".join(" ".join(f"{v:.4g}" for v in row) for row in m)
        return (f"{self.motion} IR->visible: shift ({m[0, 2]:.2f}, {m[1, 2]:.2f}) px, scale "
                f"{scale:.4f}, rotation {angle:.2f} deg, edge correlation {self.correlation:.3f} "
                f"[{rows}]")


def cv2_module() -> Any:
    """OpenCV, or an :class:`InputError` naming the extra to install."""
    try:
        import cv2
    except ImportError:
        raise InputError(MISSING_OPENCV) from None
    return cv2


def edge_image(image: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Gradient magnitude of a smoothed image, scaled to unit maximum: the modality-independent
    picture the registration aligns.

    Args:
        image: H×W or H×W×3 float in [0, 1].
        sigma: Gaussian smoothing (pixels) before the Sobel derivatives.

    Returns:
        H×W float32 in [0, 1].
    """
    cv2 = cv2_module()
    gray = _gray(image)
    smooth = cv2.GaussianBlur(gray, (0, 0), sigma)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.sqrt(gx * gx + gy * gy)
    peak = float(magnitude.max())
    return magnitude / peak if peak > 0 else magnitude


def estimate_transform(
    ir: np.ndarray,
    vis: np.ndarray,
    *,
    motion: str = "affine",
    levels: int = 3,
    iterations: int = 100,
    min_correlation: float = MIN_CORRELATION,
) -> Registration:
    """Estimate the transform taking the IR image onto the visible image.

    An IR image of another size is first scaled to the visible size (that scale is part of the
    returned matrix), so registration composes with ``resize_ir``.

    Args:
        ir: H'×W' (or H'×W'×3) float in [0, 1].
        vis: H×W (or H×W×3) float in [0, 1].
        motion: ``affine`` or ``homography``.
        levels: pyramid levels (each halves the size; the coarsest is kept ≥ 32 pixels).
        iterations: ECC iterations per level.
        min_correlation: refuse an estimate whose edge correlation is below this.

    Returns:
        A :class:`Registration` (IR coordinates → visible coordinates), also logged (INFO) on
        the ``critnet.pipeline.registration`` logger.

    Raises:
        InputError: unknown ``motion``, no OpenCV, or the estimate failed (ECC did not converge,
            or the aligned edges correlate below ``min_correlation``).
    """
    if motion not in MOTIONS:
        raise InputError(f"unknown registration motion {motion!r}; choose one of "
                         f"{', '.join(MOTIONS)}")
    cv2 = cv2_module()
    height, width = vis.shape[:2]
    prescale = np.diag([width / ir.shape[1], height / ir.shape[0], 1.0])
    ir_gray = _gray(ir)
    if ir_gray.shape != (height, width):
        ir_gray = cv2.resize(ir_gray, (width, height), interpolation=cv2.INTER_AREA)
    ir_edges, vis_edges = edge_image(ir_gray), edge_image(vis)
    mode = cv2.MOTION_AFFINE if motion == "affine" else cv2.MOTION_HOMOGRAPHY
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-6)
    n_levels = max(1, min(levels, int(np.log2(max(1, min(height, width) // 32))) + 1))
    # warp: visible coordinates -> IR coordinates (ECC's convention: input(warp(x)) ~ template(x))
    warp = np.eye(3, dtype=np.float64)
    correlation = 0.0
    for level in reversed(range(n_levels)):
        factor = 2.0**-level
        scale = np.diag([factor, factor, 1.0])
        template = _scaled(cv2, vis_edges, factor)
        moving = _scaled(cv2, ir_edges, factor)
        guess = (scale @ warp @ np.linalg.inv(scale)).astype(np.float32)
        guess = guess if motion == "homography" else guess[:2].copy()
        try:
            correlation, found = cv2.findTransformECC(template, moving, guess, mode, criteria,
                                                      None, 5)
        except cv2.error as error:
            raise InputError(f"registration failed: ECC did not converge at 1/{2**level} scale "
                             f"({_first_line(error)}); the images may share too few edges, "
                             f"or the misalignment is too large") from None
        found = found.astype(np.float64)
        if found.shape[0] == 2:
            found = np.vstack([found, [0.0, 0.0, 1.0]])
        warp = np.linalg.inv(scale) @ found @ scale
    if not np.isfinite(warp).all() or correlation < min_correlation:
        raise InputError(f"registration failed: edge correlation {correlation:.3f} after "
                         f"alignment is below {min_correlation} (the images do not seem to show "
                         f"the same scene)")
    singular = np.linalg.svd(warp[:2, :2], compute_uv=False)
    if singular[0] > MAX_ANISOTROPY * singular[1]:
        raise InputError(f"registration failed: degenerate estimate (axis scales "
                         f"{1 / singular[1]:.2f} and {1 / singular[0]:.2f}); the images share "
                         f"too few edges for an {motion} fit")
    matrix = np.linalg.inv(warp) @ prescale
    matrix = matrix / matrix[2, 2]
    registration = Registration(matrix=matrix, motion=motion, correlation=float(correlation),
                                size=(width, height))
    LOG.info("registration: %s", registration.describe())
    return registration


def warp_ir(ir: np.ndarray, registration: Registration) -> np.ndarray:
    """The IR image resampled onto the visible grid (bilinear; outside the IR image: edge
    values repeated, so no black border enters the fusion).

    Args:
        ir: H'×W' or H'×W'×C float array.
        registration: from :func:`estimate_transform`.

    Returns:
        float32 array of the visible size, ``ir``'s channels.
    """
    cv2 = cv2_module()
    return cv2.warpPerspective(np.ascontiguousarray(ir, dtype=np.float32), registration.matrix,
                               registration.size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def corner_error(estimated: np.ndarray, truth: np.ndarray, size: tuple[int, int]) -> float:
    """Mean distance in pixels between where two 3×3 transforms put the four image corners.

    Args:
        estimated, truth: 3×3 transforms (IR → visible coordinates).
        size: ``(width, height)`` of the IR image whose corners are mapped.
    """
    width, height = size
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1],
                        [width - 1, height - 1, 1]], dtype=np.float64).T
    a, b = estimated @ corners, truth @ corners
    a, b = a[:2] / a[2], b[:2] / b[2]
    return float(np.linalg.norm(a - b, axis=0).mean())


def _gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    return np.ascontiguousarray(image.mean(axis=2) if image.ndim == 3 else image)


def _scaled(cv2: Any, image: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return image
    height, width = image.shape
    size = (max(8, round(width * factor)), max(8, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
