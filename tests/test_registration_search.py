"""critnet.pipeline.registration.search: the coarse scale × translation search, then ECC, recovers
known warps that start outside ECC's capture range, leaves an aligned pair untouched, and never
raises anything but a one-line InputError (only with ``strict``) on degenerate input."""

from __future__ import annotations

import numpy as np
import pytest

from critnet.errors import InputError
from critnet.pipeline.demo import demo_scene

cv2 = pytest.importorskip("cv2", reason="registration needs critnet[video] (opencv)")

from critnet.pipeline.registration import (  # noqa: E402
    corner_error,
    edge_image,
    estimate_transform,
    warp_ir,
)
from critnet.pipeline.registration.search import coarse_peaks  # noqa: E402

WIDTH, HEIGHT = 320, 240


@pytest.fixture(scope="module")
def scene():
    """The demo scene's luma as the visible image, its inverted smoothed luma as the IR image."""
    luma = demo_scene(WIDTH, HEIGHT, seed=3).vis.mean(axis=2).astype(np.float32)
    ir = np.clip(0.9 - 0.6 * cv2.GaussianBlur(luma, (0, 0), 1.0), 0, 1).astype(np.float32)
    return ir, luma


def _camera(scale: float, shift: tuple[float, float], shear: float = 0.0) -> np.ndarray:
    """IR → visible: scaling (and shear) about the centre, then ``shift``."""
    cx, cy = (WIDTH - 1) / 2, (HEIGHT - 1) / 2
    linear = scale * np.array([[1.0, shear], [0.0, 1.0]])
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = np.array([cx, cy]) + np.array(shift) - linear @ [cx, cy]
    return matrix


def _moved(ir: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The IR image a camera with IR → visible map ``truth`` would see."""
    return cv2.warpPerspective(ir, np.linalg.inv(truth), (WIDTH, HEIGHT),
                               borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize(("scale", "shift", "shear"), [(1.15, (14.0, -12.0), 0.0),
                                                       (0.84, (-18.0, 9.0), 0.02),
                                                       (1.05, (15.0, -17.0), 0.0)])
def test_search_recovers_field_of_view_and_offset(scene, scale, shift, shear):
    ir, vis = scene
    truth = _camera(scale, shift, shear)
    found = estimate_transform(_moved(ir, truth), vis, method="search")
    assert corner_error(np.eye(3), truth, (WIDTH, HEIGHT)) > 15.0
    assert not found.kept_identity, found.describe()
    assert corner_error(found.matrix, truth, (WIDTH, HEIGHT)) < 1.0, found.describe()


def test_search_recovers_an_offset_that_multi_start_ecc_misses(scene):
    """Scale 1.05 with a (15, -17) px offset: no ecc-multi start (scales only) is inside ECC's
    capture range, the scale x translation search is (the RoadScene case that every estimator
    missed before)."""
    ir, vis = scene
    truth = _camera(1.05, (15.0, -17.0))
    moved = _moved(ir, truth)
    multi = estimate_transform(moved, vis, method="ecc-multi")
    found = estimate_transform(moved, vis, method="search")
    assert corner_error(multi.matrix, truth, (WIDTH, HEIGHT)) > 5.0
    assert corner_error(found.matrix, truth, (WIDTH, HEIGHT)) < 1.0, found.describe()


def test_coarse_peak_is_within_a_few_pixels_before_refinement(scene):
    ir, vis = scene
    truth = _camera(1.1, (12.0, -9.0))
    score, warp = coarse_peaks(edge_image(_moved(ir, truth)), edge_image(vis))[0]
    assert score > 0.5
    assert corner_error(np.linalg.inv(warp), truth, (WIDTH, HEIGHT)) < 4.0


def test_search_leaves_an_aligned_pair_untouched(scene):
    ir, vis = scene
    found = estimate_transform(ir, vis, method="search")
    assert found.kept_identity, found.describe()
    assert np.array_equal(found.matrix, np.eye(3))
    assert np.array_equal(warp_ir(ir, found), ir)


def test_search_on_a_different_size_ir_image(scene):
    ir, vis = scene
    truth = _camera(1.12, (10.0, 8.0))
    small = cv2.resize(_moved(ir, truth), (160, 128), interpolation=cv2.INTER_AREA)
    found = estimate_transform(small, vis, method="search")
    resize = np.array([[2.0, 0, 0.5], [0, 240 / 128, 0.5 * (240 / 128 - 1)], [0, 0, 1]])
    assert corner_error(found.matrix, truth @ resize, (160, 128)) < 1.5, found.describe()


DEGENERATE = {
    "1x1": (np.ones((1, 1)), np.ones((1, 1))),
    "4x4 noise": (np.random.default_rng(0).random((4, 4)),
                  np.random.default_rng(1).random((4, 4))),
    "3x40 strip": (np.random.default_rng(0).random((3, 40)),
                   np.random.default_rng(1).random((3, 40))),
    "constant": (np.full((120, 160), 0.5), np.full((120, 160), 0.5)),
    "all nan": (np.full((120, 160), np.nan), np.random.default_rng(1).random((120, 160))),
    "some nan": (np.where(np.random.default_rng(0).random((120, 160)) < 0.1, np.nan, 0.5),
                 np.random.default_rng(1).random((120, 160))),
    "inf": (np.full((64, 64), np.inf), np.random.default_rng(1).random((64, 64))),
    "2x3 onto 300x200": (np.random.default_rng(0).random((2, 3)),
                         np.random.default_rng(1).random((200, 300))),
}


@pytest.mark.parametrize("method", ["search", "ecc-multi", "ecc"])
@pytest.mark.parametrize("name", list(DEGENERATE))
def test_degenerate_input_keeps_the_identity_or_raises_one_line(method, name):
    ir, vis = (a.astype(np.float32) for a in DEGENERATE[name])
    found = estimate_transform(ir, vis, method=method)
    assert found.kept_identity, found.describe()
    assert np.isfinite(found.matrix).all()
    try:
        estimate_transform(ir, vis, method=method, strict=True)
    except InputError as error:
        assert "\n" not in str(error)
