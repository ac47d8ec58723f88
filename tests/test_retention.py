"""Target retention (critnet.metrics.retention): known answers on hand-made images, the ring's
geometry, the NaN cases, and `critnet evaluate --masks` on real TNO masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from critnet.errors import InputError
from critnet.evaluation.evaluate import RETENTION, evaluate_methods
from critnet.io.paths import data_root
from critnet.metrics import signal_to_clutter, target_regions, target_retention


def square_mask(size=41, half=3):
    mask = np.zeros((size, size), np.uint8)
    c = size // 2
    mask[c - half:c + half + 1, c - half:c + half + 1] = 255
    return mask


def test_ring_lies_between_the_two_dilations():
    target, ring = target_regions(square_mask(), (3, 15))
    ys, xs = np.nonzero(ring)
    c = 20
    # distance from the 7×7 square (half-width 3): Chebyshev-like box distance, Euclidean disc
    dy = np.maximum(np.abs(ys - c) - 3, 0)
    dx = np.maximum(np.abs(xs - c) - 3, 0)
    distance = np.hypot(dy, dx)
    assert distance.min() > 3 and distance.max() <= 15
    assert not (ring & target).any()
    assert ring[c, c + 3 + 4] and not ring[c, c + 3 + 3] and ring[c, c + 3 + 15]


def test_scr_known_answer():
    target, ring = target_regions(square_mask(), (3, 15))
    image = np.zeros((41, 41))
    image[target] = 100.0
    image[ring] = np.where(np.arange(ring.sum()) % 2, 10.0, 30.0)  # mean 20, std 10
    assert signal_to_clutter(image, target, ring) == pytest.approx(8.0, rel=1e-3)


def test_retention_is_the_ratio_of_the_two_scrs():
    rng = np.random.default_rng(0)
    mask = square_mask()
    ir = np.clip(rng.normal(80, 10, (41, 41)), 0, 255)
    ir[mask > 0] = 200
    halved = 80 + (ir - 80) / 2  # the target's contrast halves, the clutter's spread halves too
    assert target_retention(ir.astype(np.uint8), ir.astype(np.uint8), mask) == pytest.approx(1.0)
    flat_target = ir.copy()
    flat_target[mask > 0] = ir[target_regions(mask)[1]].mean()  # target erased into clutter
    assert target_retention(ir.astype(np.uint8), flat_target.astype(np.uint8), mask) < 0.05
    assert target_retention(ir.astype(np.uint8), halved.round().astype(np.uint8),
                            mask) == pytest.approx(1.0, abs=0.03)


def test_undefined_cases_are_nan_and_bad_input_is_refused():
    ir = np.full((41, 41), 50, np.uint8)
    assert math.isnan(target_retention(ir, ir, square_mask()))  # flat ring
    assert math.isnan(target_retention(ir, ir, np.zeros((41, 41), np.uint8)))  # empty mask
    with pytest.raises(InputError, match="one size"):
        target_retention(ir, ir, np.zeros((40, 41), np.uint8))
    with pytest.raises(InputError, match="inner < outer"):
        target_regions(square_mask(), (5, 5))


def test_evaluate_with_masks_scores_only_masked_pairs(tmp_path):
    root = data_root()
    if not (root / "tno_masks").is_dir() or not (root / "tno_fused" / "SeAFusion").is_dir():
        pytest.skip(f"{root}/tno_masks or tno_fused not found")
    stems = ["17_Kaptein_1123", "02_soldier_behind_smoke_3"]  # one with a mask, one without
    for role, folder in (("ir", "tno/ir"), ("vi", "tno/vi"), ("fused", "tno_fused/SeAFusion")):
        (tmp_path / role).mkdir()
        for stem in stems:
            source = next((root / folder).glob(f"{stem}.*"))
            (tmp_path / role / source.name).write_bytes(source.read_bytes())
    result = evaluate_methods(tmp_path / "ir", tmp_path / "vi", {"S": tmp_path / "fused"},
                              "Qabf", masks=root / "tno_masks")
    assert result.metrics == ["Qabf", RETENTION]
    rows = result.per_image["S"]
    assert math.isnan(rows["02_soldier_behind_smoke_3"][RETENTION])
    ir = np.array(Image.open(tmp_path / "ir" / "17_Kaptein_1123.png"))
    fused = np.array(Image.open(next((tmp_path / "fused").glob("17_Kaptein_1123.*"))))
    mask = np.array(Image.open(root / "tno_masks" / "17_Kaptein_1123.png"))
    expected = target_retention(ir, fused, mask)
    assert rows["17_Kaptein_1123"][RETENTION] == pytest.approx(expected)
    assert result.means["S"][RETENTION] == pytest.approx(expected)
    assert result.nan_pairs["S"][RETENTION] == 1
