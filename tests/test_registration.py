"""critnet.pipeline.registration: ECC on edge images recovers known IR -> visible transforms."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pytest

from critnet.errors import InputError
from critnet.pipeline.demo import demo_scene
from critnet.pipeline.loading import load_model
from critnet.pipeline.options import FuseOptions
from critnet.pipeline.single import fuse

cv2 = pytest.importorskip("cv2", reason="registration needs critnet[video] (opencv)")

from critnet.pipeline.registration import (  # noqa: E402
    Registration,
    corner_error,
    estimate_transform,
    resize_matrix,
    warp_ir,
)


def _misaligned(ir: np.ndarray, shift: tuple[float, float], angle: float = 0.0,
                scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``ir`` moved by a known similarity; returns the moved image and the true IR -> visible
    matrix (the inverse of the move)."""
    h, w = ir.shape
    move = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale), [0, 0, 1]])
    move[:2, 2] += shift
    moved = cv2.warpPerspective(ir, move, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return moved, np.linalg.inv(move)


@dataclass(frozen=True)
class Pair:
    ir: np.ndarray
    vis: np.ndarray


@pytest.fixture(scope="module")
def scene():
    """Two modalities with shared edges but different intensities: the visible image is the demo
    scene's luma, the IR image its inverted, smoothed luma."""
    demo = demo_scene(160, 120, seed=3)
    luma = demo.vis.mean(axis=2)
    ir = 0.9 - 0.6 * cv2.GaussianBlur(luma, (0, 0), 1.0)
    return Pair(ir=np.clip(ir, 0, 1).astype(np.float32), vis=demo.vis)


@pytest.mark.parametrize(("shift", "angle", "scale"), [((6.0, -4.0), 0.0, 1.0),
                                                        ((3.0, 2.0), 2.0, 1.03)])
def test_affine_estimate_recovers_known_transform_across_modalities(scene, shift, angle, scale):
    moved, truth = _misaligned(scene.ir, shift, angle, scale)
    registration = estimate_transform(moved, scene.vis, motion="affine")
    before = corner_error(np.eye(3), truth, (160, 120))
    after = corner_error(registration.matrix, truth, (160, 120))
    assert before > 4.0
    assert after < 1.0, registration.describe()


def test_homography_estimate_recovers_a_shift(scene):
    moved, truth = _misaligned(scene.ir, (5.0, 3.0))
    registration = estimate_transform(moved, scene.vis, motion="homography")
    assert registration.motion == "homography"
    assert corner_error(registration.matrix, truth, (160, 120)) < 1.5


def test_warp_brings_the_ir_image_back_onto_the_visible_grid(scene):
    moved, _ = _misaligned(scene.ir, (6.0, -4.0))
    warped = warp_ir(moved, estimate_transform(moved, scene.vis))
    inner = (slice(10, -10), slice(10, -10))
    assert warped.shape == scene.ir.shape
    assert np.abs(warped - scene.ir)[inner].mean() < 0.25 * np.abs(moved - scene.ir)[inner].mean()


def test_different_resolution_ir_gets_its_scale_in_the_matrix(scene):
    small = cv2.resize(scene.ir, (80, 60), interpolation=cv2.INTER_AREA)
    registration = estimate_transform(small, scene.vis)
    assert registration.size == (160, 120)
    assert np.allclose(registration.matrix[:2, :2], np.diag([2.0, 2.0]), atol=0.03)
    assert warp_ir(small, registration).shape == (120, 160)
    moved, truth = _misaligned(scene.ir, (6.0, -4.0))
    small = cv2.resize(moved, (80, 60), interpolation=cv2.INTER_AREA)
    found = estimate_transform(small, scene.vis)
    assert not found.kept_identity
    assert corner_error(found.matrix, truth @ resize_matrix((80, 60), (160, 120)),
                        (80, 60)) < 1.5


def test_unrelated_images_are_refused_with_one_line_when_strict(scene):
    noise = np.random.default_rng(0).random((120, 160)).astype(np.float32)
    with pytest.raises(InputError, match="registration failed") as caught:
        estimate_transform(noise, scene.vis, strict=True)
    assert "\n" not in str(caught.value)


def test_unrelated_images_keep_the_identity_and_say_so(scene, caplog):
    noise = np.random.default_rng(0).random((120, 160)).astype(np.float32)
    with caplog.at_level(logging.INFO, logger="critnet.pipeline.registration"):
        registration = estimate_transform(noise, scene.vis)
    assert registration.kept_identity
    assert np.array_equal(registration.matrix, np.eye(3))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "kept the identity" in lines[0], lines


def test_collapsing_estimate_is_refused_not_returned():
    demo = demo_scene(160, 120, seed=3)  # thermal image whose edges barely match the visible
    moved, _ = _misaligned(demo.ir, (6.0, -4.0))
    with pytest.raises(InputError, match="registration failed"):
        estimate_transform(moved, demo.vis, strict=True)
    assert estimate_transform(moved, demo.vis).kept_identity


def test_flat_image_is_refused(scene):
    flat = np.full((120, 160), 0.5, np.float32)
    with pytest.raises(InputError, match="registration failed"):
        estimate_transform(flat, scene.vis, strict=True)
    assert estimate_transform(flat, scene.vis).kept_identity


@pytest.mark.parametrize("method", ["ecc", "ecc-multi"])
def test_aligned_pair_keeps_the_identity_exactly(scene, method):
    registration = estimate_transform(scene.ir, scene.vis, method=method)
    assert registration.kept_identity, registration.describe()
    assert np.array_equal(warp_ir(scene.ir, registration), scene.ir)


def test_different_size_aligned_pair_keeps_the_plain_resize(scene):
    small = cv2.resize(scene.ir, (80, 60), interpolation=cv2.INTER_AREA)
    registration = estimate_transform(small, scene.vis)
    assert registration.kept_identity and "plain resize" in registration.describe()
    # pixel centres kept: (x + 0.5) * 2 - 0.5
    assert np.allclose(registration.matrix, [[2, 0, 0.5], [0, 2, 0.5], [0, 0, 1]])


def test_multi_start_finds_a_field_of_view_change_single_start_misses(scene):
    """The visible camera zoomed by 1.2 (a crop): outside ECC's capture range from the identity,
    inside ecc-multi's starting scales."""
    h, w = scene.ir.shape
    zoom = np.array([[1.2, 0, -0.1 * (w - 1)], [0, 1.2, -0.1 * (h - 1)], [0, 0, 1]])
    vis = cv2.warpPerspective(scene.vis, zoom, (w, h), borderMode=cv2.BORDER_REFLECT)
    found = estimate_transform(scene.ir, vis, method="ecc-multi")
    assert not found.kept_identity
    assert corner_error(found.matrix, zoom, (w, h)) < 1.0, found.describe()


def test_unknown_method_is_refused(scene):
    with pytest.raises(InputError, match="unknown registration method 'sift'"):
        estimate_transform(scene.ir, scene.vis, method="sift")


def test_mattes_needs_affine_or_names_the_extra(scene):
    with pytest.raises(InputError, match="'affine' only|critnet\\[register\\]"):
        estimate_transform(scene.ir, scene.vis, method="mattes", motion="homography",
                           strict=True)


def test_mattes_recovers_a_shift(scene):
    pytest.importorskip("SimpleITK", reason="method mattes needs critnet[register]")
    moved, truth = _misaligned(scene.ir, (5.0, -3.0))
    found = estimate_transform(moved, scene.vis, method="mattes")
    assert corner_error(found.matrix, truth, (160, 120)) < 1.0, found.describe()


def test_unknown_motion_is_refused(scene):
    with pytest.raises(InputError, match="unknown registration motion 'rigid'"):
        estimate_transform(scene.ir, scene.vis, motion="rigid")


def test_describe_names_shift_and_correlation():
    line = Registration(np.array([[1, 0, 2.5], [0, 1, -1], [0, 0, 1]], float), "affine", 0.8,
                        (10, 10)).describe()
    assert "shift (2.50, -1.00) px" in line and "correlation 0.800" in line


def test_fuse_option_register_aligns_before_fusing(scene):
    model = load_model()
    moved, _ = _misaligned(scene.ir, (6.0, -4.0))
    small = cv2.resize(moved, (80, 60), interpolation=cv2.INTER_AREA)
    registered = fuse(small, scene.vis, model, register="affine", gray=True)
    aligned = fuse(scene.ir, scene.vis, model, gray=True)
    unregistered = fuse(moved, scene.vis, model, gray=True)
    inner = (slice(10, -10), slice(10, -10))
    assert registered.shape == (120, 160)
    assert (np.abs(registered - aligned)[inner].mean()
            < 0.5 * np.abs(unregistered - aligned)[inner].mean())


def test_fuse_option_register_refuses_unknown_value():
    with pytest.raises(InputError, match="unknown registration 'rigid'"):
        FuseOptions(register="rigid")


def test_real_pair_shift_is_recovered(data_dir):
    from conftest import need

    from critnet.io import read_image

    ir, _ = read_image(need(data_dir, "roadscene", "ir", "FLIR_00060.jpg"))
    vis, _ = read_image(need(data_dir, "roadscene", "vi", "FLIR_00060.jpg"))
    ir = ir.mean(axis=2) if ir.ndim == 3 else ir
    moved, truth = _misaligned(ir.astype(np.float32), (10.0, -6.0), angle=1.5)
    registration = estimate_transform(moved, vis)
    assert not registration.kept_identity
    assert corner_error(registration.matrix, truth, moved.shape[::-1]) < 3.0


def test_fuse_option_register_method_is_checked_and_used(scene, caplog):
    with pytest.raises(InputError, match="unknown registration method 'sift'"):
        FuseOptions(register="affine", register_method="sift")
    model = load_model()
    moved, _ = _misaligned(scene.ir, (6.0, -4.0))
    with caplog.at_level(logging.INFO, logger="critnet.pipeline.registration"):
        fuse(moved, scene.vis, model, register="affine", register_method="ecc", gray=True)
    assert any("ecc estimate" in r.getMessage() for r in caplog.records)
