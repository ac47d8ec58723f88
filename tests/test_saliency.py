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


def test_steep_weights_are_a_sigmoid_of_the_saliency_difference():
    import torch

    from critnet.train.saliency import saliency_weights

    s_ir = torch.tensor([0.9, 0.5, 0.1])
    s_vis = torch.tensor([0.1, 0.5, 0.9])
    w_ir, w_vis = saliency_weights(s_ir, s_vis, "steep", steepness=8.0)
    expected = torch.sigmoid(8.0 * (s_ir - s_vis))
    assert torch.allclose(w_ir, expected) and torch.allclose(w_ir + w_vis, torch.ones(3))
    assert w_ir[0] > 0.99 and abs(w_ir[1] - 0.5) < 1e-6 and w_ir[2] < 0.01


def test_local_contrast_weights_follow_the_textured_source():
    import torch

    from critnet.train.saliency import contrast_weights, local_std

    flat = torch.full((1, 1, 16, 16), 0.5)
    stripes = torch.zeros(1, 1, 16, 16)
    stripes[..., ::2] = 1.0  # std 0.5 in every 7x7 window
    assert torch.allclose(local_std(flat), torch.zeros_like(flat), atol=1e-6)
    # every 7×7 window holds 3 or 4 bright columns of 7: p(1 − p) = 12/49 either way
    assert torch.allclose(local_std(stripes)[..., 3:-3, 3:-3],
                          torch.full((1, 1, 10, 10), 12 ** 0.5 / 7), atol=1e-5)
    sal = torch.full((1, 1, 16, 16), 0.5)
    w_ir, w_vis = contrast_weights(flat, stripes, sal, sal, "local_contrast")
    assert (w_vis > 0.99).all() and torch.allclose(w_ir + w_vis, torch.ones_like(w_ir))
    low_saliency = torch.full((1, 1, 16, 16), 1e-3)
    w_ir, _ = contrast_weights(stripes, stripes, sal, low_saliency, "salient_contrast")
    assert (w_ir > 0.99).all()  # equal contrast: the salient source wins
