"""Metric conventions: which reference code a metric name follows (``--convention``).

Papers in infrared-visible fusion report "SSIM", "MI", "AG"... computed by different reference
code, with different formulas, units, windows, grey conversions and pre-steps, so one image
triple can score "SSIM 0.98" under one convention and "SSIM 0.48" under another. A convention
names one reference code and maps each metric name it defines to a function
``FusionTriple -> float`` that reproduces that code (quirks included), plus the grey conversion
that code applies when it reads an image. A name a convention does not define is *absent* under
it (:func:`convention_metrics`): it is never borrowed from another convention.

* ``matlab`` (default): critnet's registry (:data:`critnet.metrics.METRICS`), i.e. VIFB and the
  C-RITNet paper (SSIM a sum of two, MI in nats after min-max stretching...), MATLAB ``rgb2gray``.
* ``cddfuse``: Zhaozixiang1228/MMIF-CDDFuse ``utils/Evaluator.py`` as called by ``test_IVF.py``:
  images read with ``image_read_cv2(path, 'GRAY')`` (OpenCV ``BGR2GRAY`` on float32, rounded);
  SSIM from scikit-image defaults on float32 (7×7 uniform window, data range 2 inferred from the
  dtype), MI from scikit-learn (nats, no stretching), AG a mean over H·W, PSNR with F's maximum
  as the peak, VIF with NaN read as 1.
* ``tang``: Linfeng-Tang/Image-Fusion ``General Evaluation Metric/Evaluation/analysis_Reference.m``
  (MI in bits without stretching, SF with per-direction means, PSNR on [0, 1] data with a 255
  peak, MSE on [0, 1] data, Qabf without VIFB's ×255 step, Nabf with its arguments in the
  order the script passes them: IR in the fused image's place), MATLAB ``rgb2gray``. Its SSIM (the
  mean of two MATLAB ``ssim`` values) is not defined here: no reference run was possible
  (GNU Octave's image package has no ``ssim``; see ``docs/metrics.md``, Conventions).

The differences are tabulated, with the provenance of the test values, in ``docs/metrics.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from critnet.errors import InputError
from critnet.metrics import fidelity, gradient, information, statistics, structural
from critnet.metrics.prepare import FusionTriple, to_gray_uint8, to_uint8
from critnet.metrics.registry import METRICS, resolve_metric_names

# OpenCV COLOR_BGR2GRAY weights (ITU-R BT.601), applied in float32 by image_read_cv2.
_CV2_GRAY = (np.float32(0.299), np.float32(0.587), np.float32(0.114))


def cv2_gray(image: np.ndarray) -> np.ndarray:
    """CDDFuse ``image_read_cv2(path, 'GRAY')``: ``(H, W[, 3]) -> (H, W) uint8``.

    Colour (RGB order) is converted like OpenCV ``cvtColor(BGR2GRAY)`` on float32 data,
    ``0.299 R + 0.587 G + 0.114 B`` in float32, then rounded half to even (``np.round``); a grey
    image keeps its values. Input dtypes as :func:`critnet.metrics.prepare.to_uint8`.
    """
    image = to_uint8(np.asarray(image))
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"expected an image of shape (H, W) or (H, W, 3), got {image.shape}")
    r, g, b = (image[..., k].astype(np.float32) for k in range(3))
    gray = r * _CV2_GRAY[0] + g * _CV2_GRAY[1] + b * _CV2_GRAY[2]
    return np.clip(np.round(gray), 0, 255).astype(np.uint8)


def _squared_error(t: FusionTriple) -> tuple[float, float]:
    """``(mean((F-IR)²), mean((F-VIS)²))`` on the 0–255 scale."""
    return (float(np.mean((t.fused - t.ir) ** 2)), float(np.mean((t.fused - t.vis) ** 2)))


def mse_255(t: FusionTriple) -> float:
    """MSE (CDDFuse ``Evaluator.MSE``): mean of the two sources' MSE against F, 0–255 scale."""
    ir_error, vis_error = _squared_error(t)
    return (ir_error + vis_error) / 2.0


def mse_unit(t: FusionTriple) -> float:
    """MSE (Tang ``MSE_evaluation``): ``½·MSE(F, IR) + ½·MSE(F, VIS)`` on [0, 1] data."""
    return mse_255(t) / 255.0**2


def psnr_fused_peak(t: FusionTriple) -> float:
    """PSNR (CDDFuse ``Evaluator.PSNR``): ``10·log10(max(F)² / MSE)`` with :func:`mse_255`; the
    peak is F's own maximum, not 255 (a constant-0 F gives ``-inf``, F equal to both ``nan``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(10.0 * np.log10(np.max(t.fused) ** 2 / np.float64(mse_255(t))))


def average_gradient_mean(t: FusionTriple) -> float:
    """AG (CDDFuse ``Evaluator.AG``): as :func:`critnet.metrics.statistics.average_gradient`
    (central differences, one-sided at the borders) but a mean over all H·W pixels instead of a
    sum over ``(H-1)(W-1)``."""
    h, w = t.shape
    return statistics.average_gradient(t) * (h - 1) * (w - 1) / (h * w)


def mutual_information_nats(t: FusionTriple) -> float:
    """MI (CDDFuse ``Evaluator.MI``, scikit-learn ``mutual_info_score``): ``MI(F, IR) +
    MI(F, VIS)`` in **nats** from the joint histogram of the grey levels, no stretching; each
    term clipped at 0 as scikit-learn does."""
    f = t.fused.astype(np.intp)
    total = 0.0
    for source in (t.ir, t.vis):
        joint = np.bincount((f * 256 + source.astype(np.intp)).ravel(),
                            minlength=65536).reshape(256, 256) / f.size
        marginals = np.outer(joint.sum(axis=1), joint.sum(axis=0))
        nz = joint > 0
        mi = float(np.sum(joint[nz] * (np.log(joint[nz]) - np.log(marginals[nz]))))
        total += max(mi, 0.0)
    return total


def vif_nan_as_one(t: FusionTriple) -> float:
    """VIF (CDDFuse ``Evaluator.VIFF``): :func:`critnet.metrics.structural.vifp_mscale` of IR
    and of VIS against F, summed, where a NaN term (flat source) counts as 1."""
    terms = [structural.vifp_mscale(s, t.fused) for s in (t.ir, t.vis)]
    return float(sum(1.0 if np.isnan(v) else v for v in terms))


def ssim_skimage_float32(x: np.ndarray, y: np.ndarray) -> float:
    """scikit-image ``structural_similarity(x, y)`` with its defaults on float32 ``(H, W)`` input
    (0.19.2, as CDDFuse calls it): 7×7 uniform window, sample covariance (×49/48), K1 = 0.01,
    K2 = 0.03, data range 2 (float dtype range [-1, 1], although the data are 0–255, so C1 and C2
    are ~1e-3 and flat regions score by float32 rounding), map cropped by 3, float64 mean.
    The arithmetic is float32, as in the reference."""
    x, y = x.astype(np.float32), y.astype(np.float32)
    cov_norm = 49.0 / 48.0
    ux, uy = ndimage.uniform_filter(x, size=7), ndimage.uniform_filter(y, size=7)
    uxx, uyy = ndimage.uniform_filter(x * x, size=7), ndimage.uniform_filter(y * y, size=7)
    uxy = ndimage.uniform_filter(x * y, size=7)
    vx = np.float32(cov_norm) * (uxx - ux * ux)
    vy = np.float32(cov_norm) * (uyy - uy * uy)
    vxy = np.float32(cov_norm) * (uxy - ux * uy)
    c1, c2 = np.float32((0.01 * 2.0) ** 2), np.float32((0.03 * 2.0) ** 2)
    a1, a2 = 2 * ux * uy + c1, 2 * vxy + c2
    b1, b2 = ux**2 + uy**2 + c1, vx + vy + c2
    s = (a1 * a2) / (b1 * b2)
    return float(s[3:-3, 3:-3].mean(dtype=np.float64))


def ssim_skimage_sum(t: FusionTriple) -> float:
    """SSIM (CDDFuse ``Evaluator.SSIM``): ``ssim(F, IR) + ssim(F, VIS)`` with
    :func:`ssim_skimage_float32`; range up to 2."""
    return ssim_skimage_float32(t.fused, t.ir) + ssim_skimage_float32(t.fused, t.vis)


def nabf_argument_order(t: FusionTriple) -> float:
    """Nabf as Tang's ``analysis_Reference.m`` computes it: ``analysis_nabf(IR, VIS, F)`` where
    the function's signature is ``analysis_nabf(f, I1, I2)``, so IR takes the fused image's
    role: :func:`critnet.metrics.gradient.nabf` of the triple (VIS, F; fused = IR)."""
    return gradient.nabf(FusionTriple(t.vis, t.fused, t.ir))


@dataclass(frozen=True)
class Convention:
    """One metric convention.

    Attributes:
        name: ``"matlab"``, ``"cddfuse"`` or ``"tang"``.
        reference: the reference code it reproduces (repository, commit, file).
        gray: how that code turns a read image into the grey plane: ``image -> (H, W) uint8``.
        metrics: ``{metric name: FusionTriple -> float}``, the names it defines.
    """

    name: str
    reference: str
    gray: Callable[[np.ndarray], np.ndarray]
    metrics: Mapping[str, Callable[[FusionTriple], float]]


CONVENTIONS: dict[str, Convention] = {c.name: c for c in [
    Convention("matlab", "critnet registry: VIFB (xingchenzhang/VIFB @ 22b2ea9) and Tang 2023, "
               "the C-RITNet paper's convention", to_gray_uint8,
               {name: metric.compute for name, metric in METRICS.items()}),
    Convention("cddfuse", "Zhaozixiang1228/MMIF-CDDFuse @ fd8da1f utils/Evaluator.py", cv2_gray, {
        "EN": information.entropy,
        "SD": statistics.standard_deviation,
        "SF": statistics.spatial_frequency_tang,
        "AG": average_gradient_mean,
        "MI": mutual_information_nats,
        "MSE": mse_255,
        "CC": fidelity.correlation_coefficient,
        "PSNR": psnr_fused_peak,
        "SCD": fidelity.scd,
        "VIF": vif_nan_as_one,
        "Qabf": gradient.qabf_tang,
        "SSIM": ssim_skimage_sum,
    }),
    Convention("tang", "Linfeng-Tang/Image-Fusion @ dba5bf3 General Evaluation Metric/Evaluation/"
               "analysis_Reference.m", to_gray_uint8, {
        "EN": information.entropy,
        "SF": statistics.spatial_frequency_tang,
        "SD": statistics.standard_deviation,
        "PSNR": fidelity.psnr_tang,
        "MSE": mse_unit,
        "MI": information.mutual_information_tang,
        "VIF": structural.vif,
        "AG": statistics.average_gradient,
        "CC": fidelity.correlation_coefficient,
        "SCD": fidelity.scd,
        "Qabf": gradient.qabf_tang,
        "Nabf": nabf_argument_order,
    }),
]}


# Lower-is-better for the names only some conventions define (the rest: the registry's flag).
# Columns outside the registry: cddfuse/tang MSE, and target retention (critnet.metrics.retention,
# scored only where a target mask is given).
_LOWER_BETTER_EXTRA = {"MSE": True, "Retention": False}


def lower_better(name: str) -> bool:
    """Whether a lower value of metric ``name`` (any convention's) is better."""
    return METRICS[name].lower_better if name in METRICS else _LOWER_BETTER_EXTRA[name]


def get_convention(name: str) -> Convention:
    """The :class:`Convention` called ``name`` (case-insensitive).

    Raises:
        InputError: unknown name (the message lists the known ones).
    """
    if name.lower() not in CONVENTIONS:
        raise InputError(f"unknown metric convention {name!r}; known: {', '.join(CONVENTIONS)}")
    return CONVENTIONS[name.lower()]


def convention_metrics(spec: str | Iterable[str] | None, convention: str
                       ) -> tuple[list[str], list[str]]:
    """Metric names requested under ``convention``: ``(names, absent)``.

    ``spec`` as :func:`critnet.metrics.resolve_metric_names` (``"paper"``, ``"all"``, a comma
    list) plus the names only some conventions define (``MSE``); ``"all"`` means every name the
    convention defines. ``absent`` lists the requested names the convention does not define.

    Raises:
        InputError: unknown convention, or a name no convention defines.
    """
    defined = get_convention(convention).metrics
    keyword = spec.strip().lower() if isinstance(spec, str) else None
    if spec is None or keyword == "all":
        return list(defined), []
    if keyword == "paper":
        names = resolve_metric_names("paper")
    else:
        parts = spec.split(",") if isinstance(spec, str) else list(spec)
        known = {n.lower(): n for c in CONVENTIONS.values() for n in c.metrics}
        names = []
        for part in (p.strip() for p in parts if p.strip()):
            if part.lower() not in known:
                raise InputError(f"unknown metric {part!r}; known: {', '.join(known.values())}")
            if known[part.lower()] not in names:
                names.append(known[part.lower()])
        if not names:
            raise InputError("no metric names given")
    return names, [n for n in names if n not in defined]


def compute_convention(triple: FusionTriple, names: Iterable[str], convention: str
                       ) -> dict[str, float]:
    """The metrics ``names`` that ``convention`` defines, on a triple already converted with
    its :attr:`Convention.gray`; absent names are left out of the result."""
    defined = get_convention(convention).metrics
    return {name: float(defined[name](triple)) for name in names if name in defined}
