"""Qualitative comparison grid (the paper's Figs. 5, 7, 9): per chosen pair, the IR and visible
images and every method's result, each with one zoomed inset of the same region.

The region is given (``x, y, w, h`` in pixels) or chosen automatically where the methods
disagree most about local gradients (:func:`auto_zoom`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import ndimage

from critnet.errors import InputError
from critnet.evaluation.bench.datasets import Dataset
from critnet.evaluation.bench.methods import Method, load_gray
from critnet.io.atomic import atomic_path

Box = tuple[int, int, int, int]  # x, y, w, h in pixels
BOX_COLOUR = (255, 40, 40)
INSET_FRACTION = 0.4  # inset width as a fraction of the image width


def zoom_side(shape: tuple[int, int]) -> int:
    """Default square zoom side: a fifth of the shorter image side, at least 8 pixels."""
    return max(8, round(min(shape) / 5))


def auto_zoom(images: Sequence[np.ndarray], side: int | None = None) -> Box:
    """The square window where the fused images disagree most about local gradients.

    Disagreement at a pixel is the standard deviation over ``images`` of the Sobel gradient
    magnitude; the window with the largest mean disagreement wins (ties: top-left first).

    Args:
        images: ``(H, W)`` arrays of one size (any numeric dtype), at least one.
        side: window side in pixels (default :func:`zoom_side`); clipped to the image.

    Returns:
        ``(x, y, w, h)`` fully inside the image.
    """
    if not images:
        raise InputError("auto_zoom needs at least one image")
    stack = np.stack([np.asarray(i, dtype=np.float64) for i in images])
    height, width = stack.shape[1:]
    side = min(side or zoom_side((height, width)), height, width)
    grads = np.hypot(ndimage.sobel(stack, axis=1), ndimage.sobel(stack, axis=2))
    disagreement = grads.std(axis=0) if len(images) > 1 else grads[0]
    local = ndimage.uniform_filter(disagreement, size=side, mode="constant")
    half = side // 2
    # Window centres such that the whole window lies inside the image.
    valid = local[half:height - side + half + 1, half:width - side + half + 1]
    y, x = np.unravel_index(int(np.argmax(valid)), valid.shape)
    return int(x), int(y), side, side


def check_box(box: Box, shape: tuple[int, int]) -> Box:
    """``box`` clipped to an image of ``shape`` ``(H, W)``.

    Raises:
        InputError: the box has no positive size or lies outside the image.
    """
    x, y, w, h = box
    height, width = shape
    if w <= 0 or h <= 0:
        raise InputError(f"zoom box {box}: width and height must be positive")
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise InputError(f"zoom box {box} (x, y, w, h) lies outside the {width}×{height} image")
    return x0, y0, x1 - x0, y1 - y0


def _outline(rgb: np.ndarray, x: int, y: int, w: int, h: int, thickness: int) -> None:
    t = max(1, min(thickness, w // 2, h // 2))
    rgb[y:y + t, x:x + w] = BOX_COLOUR
    rgb[y + h - t:y + h, x:x + w] = BOX_COLOUR
    rgb[y:y + h, x:x + t] = BOX_COLOUR
    rgb[y:y + h, x + w - t:x + w] = BOX_COLOUR


def with_inset(image: np.ndarray, box: Box) -> np.ndarray:
    """An ``(H, W)`` uint8 grey image as ``(H, W, 3)`` uint8 RGB with ``box`` outlined and an
    enlarged copy (nearest neighbour, integer factor ≥ 1) pasted in the corner farthest from it.
    """
    gray = np.asarray(image)
    height, width = gray.shape
    x, y, w, h = check_box(box, (height, width))
    rgb = np.repeat(gray[..., None], 3, axis=2).astype(np.uint8)
    crop = rgb[y:y + h, x:x + w].copy()
    factor = max(1, int(min(INSET_FRACTION * width / w, INSET_FRACTION * height / h)))
    inset = np.repeat(np.repeat(crop, factor, axis=0), factor, axis=1)
    ih, iw = inset.shape[:2]
    thickness = max(1, round(min(height, width) / 150))
    # Corner farthest from the box centre.
    right = x + w / 2 < width / 2
    bottom = y + h / 2 < height / 2
    ix = width - iw if right else 0
    iy = height - ih if bottom else 0
    _outline(rgb, x, y, w, h, thickness)
    rgb[iy:iy + ih, ix:ix + iw] = inset
    _outline(rgb, ix, iy, iw, ih, thickness)
    return rgb


def draw_grid(rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]],
              path: str | os.PathLike, *, cell_inches: float = 1.9) -> Path:
    """Write a grid of images: one row per ``(row label, [(column label, image), ...])``.

    Args:
        rows: images are ``(H, W)`` grey or ``(H, W, 3)`` RGB uint8; every row has the same
            columns (labels shown on the first row).
        path: PNG to write (atomically).
    """
    if not rows:
        raise InputError("no rows to draw")
    columns = len(rows[0][1])
    aspects = [max(img.shape[0] / img.shape[1] for _, img in cells) for _, cells in rows]
    fig = Figure(figsize=(cell_inches * columns,
                          sum(cell_inches * a for a in aspects) + 0.35 * len(rows) + 0.3))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), columns, squeeze=False,
                        gridspec_kw={"height_ratios": aspects, "wspace": 0.03, "hspace": 0.12})
    for r, (label, cells) in enumerate(rows):
        for c, (name, image) in enumerate(cells):
            ax = axes[r][c]
            ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name, fontsize=8, pad=2)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    return path


def qualitative_grid(dataset: Dataset, methods: Sequence[Method],
                     fused: Mapping[str, Mapping[str, Path]],
                     stems: Sequence[str], path: str | os.PathLike, *,
                     zoom: Box | None = None) -> Path:
    """The comparison figure for ``stems`` of ``dataset``: IR, VIS, then every method.

    Args:
        dataset: the resolved dataset (its pairs give the IR and VIS columns).
        methods: the rows of the comparison, in column order.
        fused: ``{method name: {stem: fused file}}``.
        stems: the pairs to show (one grid row each).
        path: PNG to write.
        zoom: one ``(x, y, w, h)`` box for every row; ``None`` picks one per row with
            :func:`auto_zoom` over the methods' results.
    """
    by_stem = {stem: (ir, vis) for stem, ir, vis in dataset.pairs}
    rows = []
    for stem in stems:
        ir_path, vis_path = by_stem[stem]
        images = [("IR", load_gray(ir_path)), ("VIS", load_gray(vis_path))]
        images += [(m.name, load_gray(fused[m.name][stem])) for m in methods]
        box = zoom if zoom is not None else auto_zoom([img for _, img in images[2:]] or
                                                      [img for _, img in images])
        rows.append((stem, [(name, with_inset(img, box)) for name, img in images]))
    return draw_grid(rows, path)
