"""Histogram-contrast saliency and the ω weights (docs/design.md §2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from critnet.train.saliency import histogram_contrast, saliency_weights


def test_histogram_contrast_known_values():
    image = np.array([[0, 0, 255, 128]], dtype=np.uint8)
    # S(0) = 255 + 128, S(255) = 2·255 + 127, S(128) = 2·128 + 127
    raw = np.array([383, 383, 637, 383], dtype=np.float64)
    np.testing.assert_allclose(histogram_contrast(image)[0], raw / raw.max(), rtol=1e-6)


def test_histogram_contrast_range_and_constant_image():
    rng = np.random.default_rng(0)
    saliency = histogram_contrast(rng.integers(0, 256, (30, 40), dtype=np.uint8))
    assert saliency.dtype == np.float32 and saliency.shape == (30, 40)
    assert saliency.min() >= 0 and saliency.max() == pytest.approx(1.0)
    assert not histogram_contrast(np.full((5, 5), 77, np.uint8)).any()


def test_histogram_contrast_rare_levels_are_salient():
    image = np.full((20, 20), 50, np.uint8)
    image[:2, :2] = 220  # a small warm target on a uniform background
    saliency = histogram_contrast(image)
    assert saliency[0, 0] == 1.0 and saliency[10, 10] < 0.02


def test_histogram_contrast_rejects_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        histogram_contrast(np.zeros((4, 4), np.float32))


def test_difference_weights():
    s_ir, s_vis = torch.tensor([1.0, 0.0, 0.5]), torch.tensor([0.0, 1.0, 0.5])
    w_ir, w_vis = saliency_weights(s_ir, s_vis, "difference")
    assert torch.allclose(w_ir, torch.tensor([1.0, 0.0, 0.5]))
    assert torch.allclose(w_ir + w_vis, torch.ones(3))


def test_ratio_weights_bounded():
    s_ir, s_vis = torch.tensor([0.9, 0.1, 0.0]), torch.tensor([0.1, 0.3, 0.0])
    w_ir, w_vis = saliency_weights(s_ir, s_vis, "ratio")
    assert torch.allclose(w_ir[:2], torch.tensor([0.9, 0.25]), atol=1e-5)
    assert w_ir[2] == 0 and torch.allclose(w_ir + w_vis, torch.ones(3))


def test_unknown_weight_mode():
    with pytest.raises(ValueError, match="saliency_weights"):
        saliency_weights(torch.zeros(1), torch.zeros(1), "typo")
