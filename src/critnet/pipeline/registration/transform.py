"""The IR → visible transform: its record, the resampling of the IR image onto the visible grid,
and the pictures and helpers every estimator shares.

Conventions: images are H×W float arrays in [0, 1] (colour is reduced to its mean first); a
:class:`Registration` maps **IR pixel coordinates to visible pixel coordinates**
(``[x_vis, y_vis, 1]ᵀ ∝ M·[x_ir, y_ir, 1]ᵀ``, pixel centres at integer coordinates, as in
OpenCV), so :func:`warp_ir` with it gives an IR image on the visible image's grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from critnet.errors import InputError

MISSING_OPENCV = ("registration needs OpenCV: pip install 'critnet[video]' "
                  "(or pip install opencv-python-headless)")


@dataclass(frozen=True)
class Registration:
    """An estimated IR → visible transform.

    Attributes:
        matrix: 3×3 float64, IR pixel coordinates → visible pixel coordinates (last row
            ``0 0 1`` for ``affine``). When the identity was kept this is the plain resize.
        motion: ``affine`` or ``homography``.
        correlation: edge correlation (:func:`~critnet.pipeline.registration.measure
            .edge_correlation`) of the transform that was kept, over the compared pixels.
        size: ``(width, height)`` of the visible image the transform maps onto.
        method: the estimator (``search``, ``ecc-multi``, ``ecc``, ``mattes``).
        kept_identity: True when the estimate did not beat the identity (or plain resize) by
            the tolerance, or failed; ``matrix`` is then the identity / plain resize.
        identity_correlation: edge correlation of the identity / plain resize, same pixels.
        note: why the identity was kept (empty otherwise).
    """

    matrix: np.ndarray
    motion: str
    correlation: float
    size: tuple[int, int]
    method: str = "ecc"
    kept_identity: bool = False
    identity_correlation: float = float("nan")
    note: str = ""

    def describe(self) -> str:
        """One line for logs: shift, scale and rotation (affine part), correlation, and whether
        the identity was kept."""
        m = self.matrix
        scale = float(np.sqrt(abs(np.linalg.det(m[:2, :2]))))
        angle = float(np.degrees(np.arctan2(m[1, 0] - m[0, 1], m[0, 0] + m[1, 1])))
        rows = "; ".join(" ".join(f"{v:.4g}" for v in row) for row in m)
        plain = "identity" if np.allclose(m, np.eye(3)) else "plain resize"
        head = (f"kept the {plain} ({self.note}); " if self.kept_identity
                else f"{self.method} estimate; ")
        compared = ("" if self.kept_identity or np.isnan(self.identity_correlation)
                    else f" (identity {self.identity_correlation:.3f})")
        return (f"{head}{self.motion} IR->visible: shift ({m[0, 2]:.2f}, {m[1, 2]:.2f}) px, "
                f"scale {scale:.4f}, rotation {angle:.2f} deg, edge correlation "
                f"{self.correlation:.3f}{compared} [{rows}]")


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
    smooth = cv2.GaussianBlur(gray(image), (0, 0), sigma)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.sqrt(gx * gx + gy * gy)
    peak = float(magnitude.max())
    return magnitude / peak if peak > 0 else magnitude


def resize_matrix(source: tuple[int, int], target: tuple[int, int]) -> np.ndarray:
    """3×3 map of pixel coordinates under a plain resize from ``source`` to ``target``
    (``(width, height)`` each; pixel centres kept, as ``cv2.resize`` does)."""
    sx, sy = target[0] / source[0], target[1] / source[1]
    return np.array([[sx, 0.0, 0.5 * (sx - 1)], [0.0, sy, 0.5 * (sy - 1)], [0.0, 0.0, 1.0]])


def warp_ir(ir: np.ndarray, registration: Registration) -> np.ndarray:
    """The IR image resampled onto the visible grid (bilinear; outside the IR image: edge
    values repeated, so no black border enters the fusion). When the identity was kept on a
    same-size pair the IR image is returned untouched (no resampling blur).

    Args:
        ir: H'×W' or H'×W'×C float array.
        registration: from :func:`~critnet.pipeline.registration.estimate_transform`.

    Returns:
        float32 array of the visible size, ``ir``'s channels.
    """
    width, height = registration.size
    if registration.kept_identity and ir.shape[:2] == (height, width):
        return np.asarray(ir, dtype=np.float32)
    cv2 = cv2_module()
    image = np.ascontiguousarray(ir, dtype=np.float32)
    if registration.kept_identity:
        return cv2.resize(image, registration.size, interpolation=cv2.INTER_LINEAR)
    return cv2.warpPerspective(image, registration.matrix, registration.size,
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def corner_error(estimated: np.ndarray, truth: np.ndarray, size: tuple[int, int]) -> float:
    """Mean distance in pixels between where two 3×3 transforms put the four image corners.

    Args:
        estimated, truth: 3×3 transforms (IR → visible coordinates).
        size: ``(width, height)`` of the IR image whose corners are mapped.
    """
    return float(corner_distances(estimated, truth, size).mean())


def corner_distances(estimated: np.ndarray, truth: np.ndarray,
                     size: tuple[int, int]) -> np.ndarray:
    """The four corner distances (pixels) behind :func:`corner_error`."""
    width, height = size
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1],
                        [width - 1, height - 1, 1]], dtype=np.float64).T
    a, b = estimated @ corners, truth @ corners
    a, b = a[:2] / a[2], b[:2] / b[2]
    return np.linalg.norm(a - b, axis=0)


def centre_scaling(size: tuple[int, int], scale: float) -> np.ndarray:
    """3×3 scaling by ``scale`` about the centre of an image of ``size`` (width, height)."""
    cx, cy = (size[0] - 1) / 2, (size[1] - 1) / 2
    return np.array([[scale, 0.0, cx * (1 - scale)], [0.0, scale, cy * (1 - scale)],
                     [0.0, 0.0, 1.0]])


def gray(image: np.ndarray) -> np.ndarray:
    """H×W float32, contiguous: colour reduced to its mean."""
    image = np.asarray(image, dtype=np.float32)
    return np.ascontiguousarray(image.mean(axis=2) if image.ndim == 3 else image)


def first_line(error: Exception) -> str:
    """The last non-empty line of an error message (OpenCV's are several lines long)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
