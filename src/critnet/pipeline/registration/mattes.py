"""The ``mattes`` estimator: SimpleITK's Mattes mutual information of the *intensities* with an
affine transform (the medical-imaging standard for images of different modalities), on a
three-level pyramid, from several starting scales; the start with the best final metric wins.
Needs SimpleITK (``pip install 'critnet[register]'``), imported only when this estimator runs.

Works like the ECC estimators on the IR image resized to the visible size and returns the warp
visible coordinates → (resized) IR coordinates. SimpleITK images are built with unit spacing and
origin 0, so physical coordinates are OpenCV's pixel coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from critnet.errors import InputError
from critnet.pipeline.registration.transform import centre_scaling

#: Starting scales (fewer than ``ecc-multi``'s: each start costs seconds).
MATTES_SCALES = (1.0, 0.8, 1.25)

MISSING_SIMPLEITK = ("registration method 'mattes' needs SimpleITK: "
                     "pip install 'critnet[register]' (or pip install SimpleITK)")


def simpleitk_module() -> Any:
    """SimpleITK, or an :class:`InputError` naming the extra to install."""
    try:
        import SimpleITK
    except ImportError:
        raise InputError(MISSING_SIMPLEITK) from None
    return SimpleITK


def mattes(ir: np.ndarray, vis: np.ndarray, motion: str, *, iterations: int = 60,
           scales: Sequence[float] = MATTES_SCALES, bins: int = 32,
           seed: int = 0) -> tuple[np.ndarray, float]:
    """Maximise Mattes MI of ``ir`` (H×W, already resized to ``vis``) and ``vis`` (H×W grey).

    Returns:
        ``(warp, mi)``: 3×3 visible → IR warp and the mutual information (nats, Mattes'
        estimate on the sampled pixels) at the solution.

    Raises:
        InputError: ``motion`` other than ``affine``, no SimpleITK, or no start converged.
    """
    if motion != "affine":
        raise InputError("registration method 'mattes' supports motion 'affine' only")
    sitk = simpleitk_module()
    fixed = sitk.GetImageFromArray(np.ascontiguousarray(vis, dtype=np.float32))
    moving = sitk.GetImageFromArray(np.ascontiguousarray(ir, dtype=np.float32))
    size = vis.shape[::-1]
    best: tuple[float, np.ndarray] | None = None
    failure = ""
    for scale in scales:
        start = np.linalg.inv(centre_scaling(size, scale))
        try:
            warp, value = _run(sitk, fixed, moving, start, size, iterations, bins, seed)
        except RuntimeError as error:  # SimpleITK's exceptions
            failure = str(error).strip().splitlines()[-1] if str(error).strip() else "error"
            continue
        if np.isfinite(warp).all() and (best is None or value < best[0]):
            best = (value, warp)
    if best is None:
        raise InputError(f"registration failed: Mattes MI did not converge ({failure})")
    return best[1], -best[0]


def _run(sitk: Any, fixed: Any, moving: Any, start: np.ndarray, size: tuple[int, int],
         iterations: int, bins: int, seed: int) -> tuple[np.ndarray, float]:
    centre = ((size[0] - 1) / 2, (size[1] - 1) / 2)
    transform = sitk.AffineTransform(2)
    transform.SetCenter(centre)
    transform.SetMatrix(start[:2, :2].ravel().tolist())
    # x -> A (x - c) + c + t must equal start: t = start[:2, 2] + A c - c
    offset = start[:2, 2] + start[:2, :2] @ np.array(centre) - np.array(centre)
    transform.SetTranslation(offset.tolist())
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.1, seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0, minStep=1e-3, numberOfIterations=iterations,
        gradientMagnitudeTolerance=1e-8, relaxationFactor=0.6)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2.0, 1.0, 0.0])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(transform, inPlace=True)
    method.Execute(fixed, moving)
    value = float(method.GetMetricValue())
    origin = np.array(transform.TransformPoint((0.0, 0.0)))
    ex = np.array(transform.TransformPoint((1.0, 0.0))) - origin
    ey = np.array(transform.TransformPoint((0.0, 1.0))) - origin
    warp = np.array([[ex[0], ey[0], origin[0]], [ex[1], ey[1], origin[1]], [0.0, 0.0, 1.0]])
    return warp, value
