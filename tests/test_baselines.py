"""Classic fusion rules: shapes (odd sizes), ranges, identities and the max-abs/average rules."""

from __future__ import annotations

import numpy as np
import pytest

from critnet.errors import InputError
from critnet.evaluation.baselines import (
    BASELINES,
    average,
    expand,
    laplacian_pyramid,
    laplacian_pyramid_decompose,
    laplacian_pyramid_reconstruct,
    maximum,
    pyramid_levels,
    reduce,
)

SHAPES = [(1, 1), (2, 3), (5, 7), (33, 47), (64, 64), (121, 96), (37, 29, 3)]


def _images(shape: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random(shape), rng.random(shape)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_keeps_shape_and_range(name: str, shape: tuple[int, ...]) -> None:
    ir, vis = _images(shape)
    fused = BASELINES[name](ir, vis)
    assert fused.shape == shape
    assert fused.dtype == np.float64
    assert fused.min() >= 0.0 and fused.max() <= 1.0


def test_average_and_maximum_values() -> None:
    ir = np.array([[0.0, 1.0], [0.2, 0.8]])
    vis = np.array([[1.0, 1.0], [0.6, 0.4]])
    np.testing.assert_allclose(average(ir, vis), [[0.5, 1.0], [0.4, 0.6]])
    np.testing.assert_allclose(maximum(ir, vis), [[1.0, 1.0], [0.6, 0.8]])


@pytest.mark.parametrize("shape", [(5, 7), (33, 47), (121, 96), (37, 29, 3)])
def test_pyramid_reconstructs_exactly(shape: tuple[int, ...]) -> None:
    image, _ = _images(shape, seed=3)
    pyramid = laplacian_pyramid_decompose(image, pyramid_levels(shape))
    assert pyramid[0].shape == shape
    np.testing.assert_allclose(laplacian_pyramid_reconstruct(pyramid), image, atol=1e-12)


@pytest.mark.parametrize("shape", [(33, 47), (64, 64), (1, 1), (37, 29, 3)])
def test_fusing_an_image_with_itself_returns_it(shape: tuple[int, ...]) -> None:
    image, _ = _images(shape, seed=5)
    np.testing.assert_allclose(laplacian_pyramid(image, image), image, atol=1e-12)


def test_odd_sizes_halve_with_ceiling_and_expand_back() -> None:
    image = np.ones((33, 47))
    small = reduce(image)
    assert small.shape == (17, 24)
    np.testing.assert_allclose(expand(small, image.shape), 1.0)


def test_levels_stop_near_eight_pixels() -> None:
    assert pyramid_levels((7, 100)) == 1
    assert pyramid_levels((16, 100)) == 2
    assert pyramid_levels((450, 620)) == 6  # 450 225 113 57 29 15
    assert pyramid_levels((450, 620), levels=3) == 3
    with pytest.raises(InputError, match="levels"):
        pyramid_levels((64, 64), levels=0)


def test_pyramid_keeps_the_stronger_detail_and_averages_the_base() -> None:
    # IR: a bright 3x3 square on dark (strong detail); VIS: flat mid grey (no detail).
    ir = np.zeros((65, 65))
    ir[30:35, 30:35] = 1.0
    vis = np.full((65, 65), 0.5)
    fused = laplacian_pyramid(ir, vis)
    # Flat far away: base average of (0 + 0.5)/2, plus IR's (zero) details.
    assert fused[2, 2] == pytest.approx(0.25, abs=0.02)
    # The target keeps most of its contrast against the surround (average would halve it).
    assert fused[32, 32] - fused[2, 2] > 0.6


def test_constant_pair_gives_the_mean_constant() -> None:
    fused = laplacian_pyramid(np.full((31, 45), 0.2), np.full((31, 45), 0.6))
    np.testing.assert_allclose(fused, 0.4, atol=1e-12)


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(InputError, match=r"\(4, 5\).*\(5, 4\)"):
        average(np.zeros((4, 5)), np.zeros((5, 4)))
    with pytest.raises(InputError, match="shape"):
        laplacian_pyramid(np.zeros(5), np.zeros(5))
