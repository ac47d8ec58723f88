"""Target retention: how much of an infrared target's contrast against its surroundings survives
fusion (beyond the paper; issue 23, ``docs/metrics.md`` "Target retention").

With ``T`` a binary target mask and ``B`` the ring around it — ``T`` dilated by ``outer`` pixels
minus ``T`` dilated by ``inner`` pixels (Euclidean discs; defaults 15 and 3) — the
signal-to-clutter ratio of an image ``X`` is

    SCR(X) = |mean_T X − mean_B X| / std_B X        (std: population, over the ring)

and the retention of a fused image ``F`` of the pair (IR, VIS) is ``SCR(F) / SCR(IR)``: 1 keeps
the IR target's contrast, below 1 loses it, above 1 strengthens it. The gap of ``inner`` pixels
keeps a mask drawn a little too tight from counting target pixels as clutter. Images are scored
grey, as every other metric here (:func:`critnet.metrics.to_gray_uint8`).

Undefined (NaN): an empty mask, an empty ring (a mask covering the image), a flat ring
(``std_B = 0``) or an IR image whose target has no contrast (``SCR(IR) = 0``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage

from critnet.errors import InputError
from critnet.metrics.prepare import to_gray_uint8

#: Ring radii in pixels: the ring ``B`` is between ``inner`` and ``outer`` pixels from the target.
RING = (3, 15)


@functools.lru_cache(maxsize=8)
def _disc(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2) <= radius**2


def target_regions(mask: np.ndarray, ring: tuple[int, int] = RING
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(T, B)``: the target (``mask > 0``) and its ring, boolean H×W.

    Raises:
        InputError: ``mask`` not 2-D, or radii not ``0 <= inner < outer``.
    """
    inner, outer = (int(v) for v in ring)
    if not 0 <= inner < outer:
        raise InputError(f"ring radii must satisfy 0 <= inner < outer, got {inner}, {outer}")
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise InputError(f"a target mask must be H×W, got shape {mask.shape}")
    target = mask > 0
    near = ndimage.binary_dilation(target, _disc(inner)) if inner else target
    far = ndimage.binary_dilation(target, _disc(outer))
    return target, far & ~near


def check_target_mask(mask: np.ndarray, name: str) -> None:
    """Refuse an image that is not a target mask: one whose pixels are not (nearly all) black
    background and one target level (a photo, a fused image), or whose target covers the whole
    image (no ring to compare against); its retention would be NaN or meaningless.

    Raises:
        InputError: one line naming ``name`` and what is wrong.
    """
    grey = np.asarray(mask, dtype=np.float64)
    if grey.ndim == 3:
        grey = grey.max(axis=2)
    top = grey.max() if grey.size else 0.0
    between = float(((grey > 0) & (grey < top)).mean()) if grey.size else 0.0
    if between > 0.01:
        raise InputError(f"{name}: not a target mask ({between:.0%} of its pixels are neither "
                         f"black nor its target level); a mask is black with the targets in "
                         f"one level (e.g. white)")
    if grey.size and top > 0 and (grey > 0).all():
        raise InputError(f"{name}: the target mask covers the whole image, leaving no "
                         f"surroundings to measure the target's contrast against")


def signal_to_clutter(image: np.ndarray, target: np.ndarray, ring: np.ndarray) -> float:
    """``|mean_T X − mean_B X| / std_B X`` of grey ``image`` (NaN where undefined)."""
    x = np.asarray(image, dtype=np.float64)
    if not target.any() or not ring.any():
        return math.nan
    clutter = x[ring]
    spread = float(clutter.std())
    if spread == 0.0:
        return math.nan
    return abs(float(x[target].mean()) - float(clutter.mean())) / spread


def target_retention(ir: np.ndarray, fused: np.ndarray, mask: np.ndarray,
                     ring: tuple[int, int] = RING) -> float:
    """``SCR(fused) / SCR(ir)`` over the target ``mask`` (see the module docstring).

    Args:
        ir, fused: the IR source and a fused image of the same H×W (grey or RGB, any dtype
            :func:`~critnet.metrics.to_gray_uint8` takes).
        mask: H×W, target where > 0.
        ring: ``(inner, outer)`` radii of the clutter ring in pixels.

    Raises:
        InputError: sizes differ, or a bad mask / ring.
    """
    ir_gray, fused_gray = to_gray_uint8(ir), to_gray_uint8(fused)
    if ir_gray.shape != fused_gray.shape or np.asarray(mask).shape[:2] != ir_gray.shape:
        raise InputError(f"target mask {np.asarray(mask).shape[:2]}, IR {ir_gray.shape} and "
                         f"fused {fused_gray.shape} must have one size (H, W)")
    target, clutter = target_regions(mask, ring)
    reference = signal_to_clutter(ir_gray, target, clutter)
    if not reference > 0:
        return math.nan
    return signal_to_clutter(fused_gray, target, clutter) / reference
