"""Distillation (loss.distill_weight, beyond the paper): where the teacher's image enters the
objective, with which weight, in which phases; the config refuses a weight without a teacher."""

from __future__ import annotations

import pytest
import torch
from wiring_helpers import close, record, tiny_model

from critnet.errors import ConfigError
from critnet.train import TrainConfig, Trainer, objectives
from critnet.train.config import LossSection
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.synthetic import synthetic_pairs
from critnet.train.losses import distillation_loss, mit_loss
from critnet.train.saliency import saliency_weights
from critnet.weights import save_weights

LOSS = LossSection(lambda_jg=3.0, distill_weight=2.5, distill_teacher="unused-here")


@pytest.fixture(scope="module")
def model():
    return tiny_model(3)


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(7)
    ir, vis, s_ir, s_vis, teacher = torch.rand(5, 2, 1, 10, 12, generator=g).unbind(0)
    return {"ir": ir, "vis": vis, "sal_ir": s_ir, "sal_vis": s_vis, "teacher": teacher}


def plain_mit(fused, batch):
    w = saliency_weights(batch["sal_ir"], batch["sal_vis"], LOSS.saliency_weights)
    return mit_loss(fused, batch["ir"], batch["vis"], *w, LOSS.lambda_jg)["mit"]


def test_distillation_loss_is_the_mean_absolute_difference():
    fused = torch.tensor([[[[0.2, 0.8]]]])
    teacher = torch.tensor([[[[0.5, 0.4]]]])
    assert distillation_loss(fused, teacher).item() == pytest.approx((0.3 + 0.4) / 2)


@pytest.mark.parametrize("phase, decoder", [("m1", "decoder_fuse0"), ("m2", "decoder_fuse"),
                                            ("joint", "decoder_fuse")])
def test_phase_m_adds_the_weighted_distance_to_the_teacher_image(model, batch, phase, decoder):
    run = {"m1": objectives.phase_m1, "m2": objectives.phase_m2,
           "joint": objectives.phase_joint}[phase]
    with record(model, [decoder]) as calls:
        terms = run(model, batch, LOSS)
    fused = calls.output(decoder)
    close(terms["distill"], distillation_loss(fused, batch["teacher"]))
    close(terms["mit"], plain_mit(fused, batch) + LOSS.distill_weight * terms["distill"])
    assert terms["distill"] > 1e-3  # random images: a real distance, not a zero term


def test_no_teacher_image_no_distillation_term(model, batch):
    plain = {k: v for k, v in batch.items() if k != "teacher"}
    terms = objectives.phase_m1(model, plain, LOSS)
    assert "distill" not in terms


def test_phase_s_ignores_the_teacher(model, batch):
    plain = {k: v for k, v in batch.items() if k != "teacher"}
    with_teacher = objectives.phase_s(model, batch, LOSS, "fuse0")
    close(with_teacher["total"], objectives.phase_s(model, plain, LOSS, "fuse0")["total"])


def test_a_weight_needs_a_teacher_and_must_not_be_negative():
    with pytest.raises(ConfigError, match="distill_teacher"):
        LossSection(distill_weight=1.0)
    with pytest.raises(ConfigError, match=">= 0"):
        LossSection(distill_weight=-1.0, distill_teacher="lite")


def test_trainer_feeds_crops_of_the_teachers_whole_image_fusions(tmp_path):
    teacher = tiny_model(11)
    path = save_weights(teacher, tmp_path / "teacher.safetensors")
    config = TrainConfig.from_dict({
        "model": {"preset": "lite", "overrides": {"channels": 4, "growth": 4, "n_dense": 1}},
        "schedule": {"epochs": 2, "phase_len": 1, "batch_size": 2},
        "loss": {"distill_weight": 1.0, "distill_teacher": str(path)},
        "run": {"device": "cpu", "checkpoint_every": 100}})
    data = RoadSceneCrops(synthetic_pairs(4, 24, 28, seed=3), crop=16)
    trainer = Trainer(config, tmp_path / "run", dataset=data, progress=False)
    with torch.no_grad():  # the teacher fused every whole training image once
        for pair in data.pairs:
            whole = teacher.eval()(torch.from_numpy(pair.ir / 255.0).float()[None, None],
                                   torch.from_numpy(pair.vis / 255.0).float()[None, None])
            close(torch.from_numpy(pair.teacher), whole[0, 0])
    seen = []
    real = objectives.phase_m1

    def spy(model, batch, loss):
        seen.append(batch["teacher"].clone())
        epoch, indices = trainer._plan(0)
        close(batch["teacher"], data.batch(epoch, indices)["teacher"])  # crops of those images
        return real(model, batch, loss)

    objectives.phase_m1 = spy
    try:
        row = trainer.train_step()
    finally:
        objectives.phase_m1 = real
    assert seen and row["phase"] == "M1" and "distill" in row
