"""Known answers for the C-RITNet losses (docs/design.md §2)."""

from __future__ import annotations

import math

import pytest
import torch

from critnet.model import SipriaOutputs
from critnet.train.losses import (
    edge_gradient_loss,
    enhancement_loss,
    gradient,
    intensity_loss,
    interaction_loss,
    joint_gradient_loss,
    max_gradient,
    mit_loss,
    reconstruction_loss,
    sipria_loss,
)


def _image(seed: int, shape=(2, 1, 16, 20)) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def test_gradient_is_kornias_normalised_laplacian():
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, 2, 2] = 1.0
    grad = gradient(image)
    assert grad[0, 0, 2, 2] == pytest.approx(-8 / 16)
    assert grad[0, 0, 1, 1] == pytest.approx(1 / 16)
    assert gradient(torch.full((1, 1, 6, 6), 0.7)).abs().max() < 1e-6


def test_max_gradient_keeps_sign_of_larger_magnitude():
    a = torch.tensor([-3.0, 1.0, 2.0, -1.0])
    b = torch.tensor([2.0, -4.0, -2.0, 0.5])
    assert torch.equal(max_gradient(a, b), torch.tensor([-3.0, -4.0, 2.0, -1.0]))


def test_joint_gradient_loss_zero_when_fused_is_source_with_larger_gradient():
    ir = torch.zeros(1, 1, 12, 12)
    ir[..., 4:8, 4:8] = 1.0  # strong edges
    vis = torch.full_like(ir, 0.3)  # no gradient at all
    assert joint_gradient_loss(ir, ir, vis) == 0
    assert joint_gradient_loss(vis, ir, vis) > 0
    # order of sources does not matter
    assert joint_gradient_loss(ir, vis, ir) == 0


def test_intensity_loss_known_value():
    ir, vis = torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    w_ir = torch.full_like(ir, 0.25)
    fused = torch.full_like(ir, 0.5)
    assert intensity_loss(fused, ir, vis, w_ir, 1 - w_ir) == pytest.approx(0.25)
    assert intensity_loss(torch.full_like(ir, 0.25), ir, vis, w_ir, 1 - w_ir) == 0


def test_reconstruction_and_edge_losses_zero_for_perfect_outputs():
    ir, vis = _image(0), _image(1)
    assert reconstruction_loss(ir, vis, ir, vis) == 0
    assert reconstruction_loss(vis, ir, ir, vis) > 0
    assert edge_gradient_loss(ir, vis, ir, vis) == 0
    # a constant offset has no gradient: ℓ_grad (Eq. 8) compares gradients, not intensities
    assert edge_gradient_loss(ir + 0.2, vis - 0.1, ir, vis) < 1e-6


def test_interaction_loss_zero_for_identical_images_and_positive_otherwise():
    label = _image(2) * 2 - 1
    assert interaction_loss(label, label.clone(), label.clone()).abs() < 1e-6
    other = _image(3) * 2 - 1
    value = interaction_loss(label, other, label)
    assert value > 0
    # row-softmax KL summed over a row, averaged over rows: equal to the direct formula
    p = label.softmax(-1)
    direct = (p * (p.log() - other.softmax(-1).log())).sum(-1).mean()
    assert value == pytest.approx(float(direct), rel=1e-5)


def test_interaction_loss_direction_and_reduction_known_answer():
    """``KL(P_label ‖ P_image)`` (Eq. 19), not the reverse, summed over a row and averaged over
    rows. Row 0: label softmax (1/4, 3/4), image (1/2, 1/2); row 1: equal (KL 0)."""
    label = torch.tensor([[0.0, math.log(3.0)], [0.3, 0.1]]).view(1, 1, 2, 2)
    image = torch.tensor([[0.0, 0.0], [0.3, 0.1]]).view(1, 1, 2, 2)
    kl_row0 = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert interaction_loss(label, image, label) == pytest.approx(kl_row0 / 2, rel=1e-5)
    assert interaction_loss(label, label, image) == pytest.approx(kl_row0 / 2, rel=1e-5)


def test_interaction_loss_label_is_detached():
    label = _image(4).requires_grad_(True)
    image = _image(5).requires_grad_(True)
    interaction_loss(label, image, image).backward()
    assert label.grad is None
    assert image.grad is not None


def test_mit_loss_combines_terms_with_lambda():
    ir, vis, fused = _image(6), _image(7), _image(8)
    w = torch.full_like(ir, 0.5)
    terms = mit_loss(fused, ir, vis, w, 1 - w, lambda_jg=20)
    assert terms["int"] == pytest.approx(float((0.5 * ir + 0.5 * vis - fused).abs().mean()))
    target = torch.where(gradient(ir).abs() >= gradient(vis).abs(), gradient(ir), gradient(vis))
    assert terms["jgrad"] == pytest.approx(float((target - gradient(fused)).abs().mean()))
    assert terms["mit"] == pytest.approx(float(terms["int"] + 20 * terms["jgrad"]))


def test_enhancement_loss_known_values():
    """``ℓ_content^en`` and ``ℓ_edge^en`` (Eq. 15–16) on a case worked by hand: a flat image
    (no gradient) judged against a flat IR and a visible image with one bright pixel."""
    ir = torch.full((1, 1, 5, 5), 0.2)
    vis = torch.zeros(1, 1, 5, 5)
    vis[0, 0, 2, 2] = 1.0
    w_ir = torch.full_like(ir, 0.75)
    image = torch.full_like(ir, 0.1)
    terms = enhancement_loss(image, ir, vis, w_ir, 1 - w_ir, lambda_edge=3)
    # target = 0.75·0.2 + 0.25·vis: 0.15 everywhere, 0.4 at the bright pixel; image = 0.1
    assert terms["en_content"] == pytest.approx((24 * 0.05 + 0.3) / 25)
    # ∇vis: -8/16 at the centre, 1/16 at its 8 neighbours; ∇ir = ∇image = 0
    assert terms["en_edge"] == pytest.approx((0.5 + 8 / 16) / 25)
    assert terms["en"] == pytest.approx(float(terms["en_content"] + 3 * terms["en_edge"]))


def test_sipria_loss_sums_eq_18():
    ir, vis = _image(9), _image(10)
    w = torch.full_like(ir, 0.5)
    outputs = SipriaOutputs(rec_ir=_image(11), rec_vis=_image(12), edge_ir=_image(13),
                            edge_vis=_image(14), image=_image(15), f_ed=ir, f_en=ir)
    terms = sipria_loss(outputs, ir, vis, w, 1 - w, lambda_edge=20)
    assert terms["sipria"] == pytest.approx(float(terms["rec"] + terms["grad"] + terms["en"]))
    assert terms["en"] == pytest.approx(float(terms["en_content"] + 20 * terms["en_edge"]))
