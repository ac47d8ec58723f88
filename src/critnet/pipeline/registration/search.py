"""The ``search`` estimator: a coarse search over scale × translation, then ECC.

1. At low resolution (longest side about :data:`SEARCH_SIZE` pixels) the visible edge image's
   centre (a margin of :data:`SEARCH_RANGE` of each side cut off) is the template; the IR edge
   image is scaled about the centre by every scale of a log-spaced grid (:data:`SEARCH_SCALES`)
   and the template's normalised cross-correlation with it is computed for every translation
   within the margin (``cv2.matchTemplate``). The template is the same for every scale, so the
   scores compare.
2. The best :data:`CANDIDATES` (scale, translation) peaks, with the identity always among the
   starts, are refined by ECC on the coarse pyramid levels
   (:func:`~critnet.pipeline.registration.ecc.ecc_pyramid`); the one that correlates best there
   is refined down to full resolution.

Like the ECC estimators it works on the IR image already resized to the visible size and returns
the warp visible coordinates → (resized) IR coordinates. Translation is searched over
±:data:`SEARCH_RANGE` of the image size, scale over 0.75–1.33: field-of-view differences of
two cameras on one rig, not arbitrary placements.
"""

from __future__ import annotations

import numpy as np

from critnet.pipeline.registration.ecc import refine_best_start, scaled
from critnet.pipeline.registration.transform import centre_scaling, cv2_module

#: Longest side (pixels) of the images the coarse search runs on.
SEARCH_SIZE = 160
#: Scales searched (IR → visible, about the centre): log-spaced, 0.75 to 1/0.75, 3 % apart.
SEARCH_SCALES = tuple(float(s) for s in np.geomspace(0.75, 1 / 0.75, 21))
#: Largest translation searched, as a share of each side (also the template's margin).
SEARCH_RANGE = 0.15
#: How many of the best coarse peaks are refined by ECC (besides the identity).
CANDIDATES = 3


def search(ir_edges: np.ndarray, vis_edges: np.ndarray, motion: str, *, levels: int = 3,
           iterations: int = 100) -> tuple[np.ndarray, float]:
    """``search``: coarse scale × translation search, ECC refinement of the best peaks.

    Returns:
        ``(warp, correlation)``: 3×3 visible → IR warp (full resolution) and ECC's correlation
        at full resolution.

    Raises:
        InputError: no start converged to a plausible warp.
    """
    starts = [np.eye(3)] + [warp for _, warp in coarse_peaks(ir_edges, vis_edges)]
    return refine_best_start(ir_edges, vis_edges, starts, motion, levels=levels,
                             iterations=iterations)


def coarse_peaks(ir_edges: np.ndarray, vis_edges: np.ndarray, *,
                 count: int = CANDIDATES) -> list[tuple[float, np.ndarray]]:
    """The ``count`` best ``(score, warp)`` of the coarse search (warp: 3×3 visible → IR at full
    resolution), best first, at most one per scale; empty when the images are too small or
    flat to search."""
    cv2 = cv2_module()
    height, width = vis_edges.shape
    factor = min(1.0, SEARCH_SIZE / max(height, width))
    vis_low, ir_low = scaled(vis_edges, factor), scaled(ir_edges, factor)
    low_h, low_w = vis_low.shape
    mx, my = int(SEARCH_RANGE * low_w), int(SEARCH_RANGE * low_h)
    if min(low_w - 2 * mx, low_h - 2 * my) < 8 or mx < 1 or my < 1:
        return []
    template = np.ascontiguousarray(vis_low[my:low_h - my, mx:low_w - mx])
    if not np.isfinite(template).all() or float(template.std()) < 1e-6:
        return []
    peaks = []
    for scale in SEARCH_SCALES:
        to_vis = centre_scaling((low_w, low_h), scale)  # IR → visible, low resolution
        moved = cv2.warpPerspective(ir_low, to_vis, (low_w, low_h), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        if float(moved.std()) < 1e-6:
            continue
        scores = cv2.matchTemplate(moved, template, cv2.TM_CCOEFF_NORMED)
        scores = np.nan_to_num(scores, nan=-1.0, posinf=-1.0, neginf=-1.0)
        _, score, _, (x, y) = cv2.minMaxLoc(scores)
        # template pixel (u, v) = visible (u + mx, v + my) matches moved (u + x, v + y)
        shift = np.array([[1.0, 0.0, x - mx], [0.0, 1.0, y - my], [0.0, 0.0, 1.0]])
        low_warp = np.linalg.inv(to_vis) @ shift  # visible → IR, low resolution
        level = np.diag([low_w / width, low_h / height, 1.0])
        peaks.append((float(score), np.linalg.inv(level) @ low_warp @ level))
    peaks.sort(key=lambda peak: -peak[0])
    return peaks[:count]
