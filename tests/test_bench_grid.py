"""Qualitative grid: automatic zoom finds disagreement, boxes are checked, insets are drawn."""

from __future__ import annotations

import numpy as np
import pytest

from critnet.errors import InputError
from critnet.evaluation.bench.grid import (
    BOX_COLOUR,
    auto_zoom,
    check_box,
    draw_grid,
    with_inset,
    zoom_side,
)


def test_auto_zoom_lands_where_methods_disagree() -> None:
    rng = np.random.default_rng(0)
    base = rng.random((90, 120)) * 20
    other = base.copy()
    other[60:75, 20:35] += rng.random((15, 15)) * 200  # texture only one method has
    x, y, w, h = auto_zoom([base, other], side=20)
    assert (w, h) == (20, 20)
    assert x <= 20 and x + w >= 35 - 5 and y <= 60 and y + h >= 75 - 5
    assert 0 <= x and x + w <= 120 and 0 <= y and y + h <= 90


def test_auto_zoom_default_side_and_single_image() -> None:
    image = np.zeros((50, 80))
    image[10:20, 60:70] = 255
    x, y, w, h = auto_zoom([image])
    assert w == h == zoom_side((50, 80)) == 10
    assert 50 <= x <= 70 and 0 <= y <= 20


def test_check_box_clips_and_refuses_outside() -> None:
    assert check_box((-5, 10, 20, 100), (50, 80)) == (0, 10, 15, 40)
    with pytest.raises(InputError, match="outside the 80×50 image"):
        check_box((100, 10, 5, 5), (50, 80))
    with pytest.raises(InputError, match="positive"):
        check_box((1, 1, 0, 5), (50, 80))


def test_inset_outlines_box_and_goes_to_the_far_corner() -> None:
    image = np.full((60, 90), 100, dtype=np.uint8)
    image[5:15, 5:15] = 250
    rgb = with_inset(image, (5, 5, 10, 10))
    assert rgb.shape == (60, 90, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[5, 10]) == BOX_COLOUR  # box outline, top edge
    # Box at top-left -> inset (×2: 0.4·60/10 = 2.4 -> 2) in the bottom-right corner.
    assert tuple(rgb[59, 89]) == BOX_COLOUR
    assert tuple(rgb[50, 80]) == (250, 250, 250)  # enlarged bright patch inside the inset
    assert tuple(rgb[30, 30]) == (100, 100, 100)  # elsewhere untouched


def test_draw_grid_writes_a_png(tmp_path) -> None:
    cell = np.zeros((20, 30), dtype=np.uint8)
    path = draw_grid([("a", [("IR", cell), ("VIS", cell)]), ("b", [("IR", cell), ("VIS", cell)])],
                     tmp_path / "g.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
