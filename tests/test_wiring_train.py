"""The training wiring, pinned: what each phase's objective is computed from (docs/design.md §3,
Eq. 12–19), which parameters each optimizer owns, the phase order and the learning-rate decay."""

from __future__ import annotations

import pytest
import torch
from wiring_helpers import WIRING_PRESETS, close, record, tiny_model

from critnet.train import TrainConfig, Trainer, objectives
from critnet.train.config import LossSection
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.synthetic import synthetic_pairs
from critnet.train.losses import interaction_loss, mit_loss, sipria_loss
from critnet.train.optimizers import build_optimizers
from critnet.train.saliency import saliency_weights
from critnet.train.schedule import build_schedule, lr_factor

LOSS = LossSection(lambda_jg=3.0, lambda_edge=7.0, inter_weight=0.5)
RECORDED = ["mrl", "sipria_ir", "sipria_vis", "decoder_fuse", "decoder_fuse0"]


@pytest.fixture(scope="module", params=WIRING_PRESETS)
def model(request):
    return tiny_model(3, preset=request.param)


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(5)
    ir, vis, s_ir, s_vis = torch.rand(4, 2, 1, 10, 12, generator=g).unbind(0)
    return {"ir": ir, "vis": vis, "sal_ir": s_ir, "sal_vis": s_vis}


def weights(batch):
    return saliency_weights(batch["sal_ir"], batch["sal_vis"], LOSS.saliency_weights)


def mit_total(fused, batch):
    return mit_loss(fused, batch["ir"], batch["vis"], *weights(batch), LOSS.lambda_jg)["mit"]


def sipria_total(outputs, batch):
    terms = sipria_loss(outputs, batch["ir"], batch["vis"], *weights(batch), LOSS.lambda_edge)
    return terms["sipria"]


def eq_11_input(calls):
    f_vis_ir, f_ir_vis = calls.output("mrl")
    s_ir, s_vis = calls.output("sipria_ir"), calls.output("sipria_vis")
    return torch.cat([f_vis_ir, s_ir.f_ed, s_ir.f_en, f_ir_vis, s_vis.f_ed, s_vis.f_en], dim=1)


def test_saliency_weights_favour_the_more_salient_source():
    one, zero = torch.ones(1), torch.zeros(1)
    for mode in ("difference", "ratio"):
        w_ir, w_vis = saliency_weights(one, zero, mode)
        assert w_ir.item() == pytest.approx(1.0, abs=1e-5) and w_vis.item() == pytest.approx(0.0,
                                                                                            abs=1e-5)


def test_phase_m1_is_l_mit_on_d_fuse0_of_the_mrl_outputs(model, batch):
    with record(model, RECORDED) as calls:
        terms = objectives.phase_m1(model, batch, LOSS)
    f_vis_ir, f_ir_vis = calls.output("mrl")
    close(calls.input("decoder_fuse0"), torch.cat([f_vis_ir, f_ir_vis], dim=1))
    close(terms["total"], mit_total(calls.output("decoder_fuse0"), batch))
    assert not calls.called("decoder_fuse") and not calls.called("sipria_ir")


def test_phase_m2_is_l_mit_on_d_fuse_of_the_six_features(model, batch):
    with record(model, RECORDED) as calls:
        terms = objectives.phase_m2(model, batch, LOSS)
    close(calls.input("decoder_fuse"), eq_11_input(calls))
    close(terms["total"], mit_total(calls.output("decoder_fuse"), batch))
    assert not calls.called("decoder_fuse0")


@pytest.mark.parametrize("label_decoder", ["fuse0", "fuse"])
def test_phase_s_label_comes_from_the_named_decoder(model, batch, label_decoder):
    """``ℓ_inter``'s label is ``D_fuse0``'s output after block 0 and ``D_fuse``'s later (Eq. 19)."""
    with record(model, RECORDED) as calls:
        terms = objectives.phase_s(model, batch, LOSS, label_decoder)
    other = "fuse" if label_decoder == "fuse0" else "fuse0"
    assert not calls.called(f"decoder_{other}")
    label = calls.output(f"decoder_{label_decoder}")
    if label_decoder == "fuse":
        close(calls.input("decoder_fuse"), eq_11_input(calls))
    else:
        f_vis_ir, f_ir_vis = calls.output("mrl")
        close(calls.input("decoder_fuse0"), torch.cat([f_vis_ir, f_ir_vis], dim=1))
    s_ir, s_vis = calls.output("sipria_ir"), calls.output("sipria_vis")
    inter = interaction_loss(label, s_ir.image, s_vis.image)
    close(terms["inter"], inter)
    close(terms["ir_sipria"], sipria_total(s_ir, batch))
    close(terms["vis_sipria"], sipria_total(s_vis, batch))
    close(terms["total"], terms["ir_sipria"] + terms["vis_sipria"] + LOSS.inter_weight * inter)


def test_phase_s_labels_differ_between_the_two_decoders(model, batch):
    inter = [objectives.phase_s(model, batch, LOSS, d)["inter"] for d in ("fuse0", "fuse")]
    assert (inter[0] - inter[1]).abs() > 1e-6


def test_phase_joint_sums_every_term_with_its_own_fused_image_as_label(model, batch):
    with record(model, RECORDED) as calls:
        terms = objectives.phase_joint(model, batch, LOSS)
    fused = calls.output("decoder_fuse")
    close(calls.input("decoder_fuse"), eq_11_input(calls))
    s_ir, s_vis = calls.output("sipria_ir"), calls.output("sipria_vis")
    inter = interaction_loss(fused, s_ir.image, s_vis.image)
    # ℓ_inter on its own as well: in the total its error can fall under the tolerance (it did
    # for the tiny shape, whose two SIPRIA images are close at initialisation)
    close(terms["inter"], inter)
    expected = (mit_total(fused, batch) + sipria_total(s_ir, batch) + sipria_total(s_vis, batch)
                + LOSS.inter_weight * inter)
    close(terms["total"], expected)


# -- optimizers, schedule, learning rates ---------------------------------------------------------
def config(**sections) -> TrainConfig:
    return TrainConfig.from_dict({
        "model": {"preset": "lite", "overrides": {"channels": 8, "growth": 4}},
        "data": {"crop": 16},
        "schedule": {"epochs": 6, "phase_len": 2, "batch_size": 2},
        **sections,
    })


def ids(*modules) -> set[int]:
    return {id(p) for m in modules for p in m.parameters()}


def owned(optimizer) -> set[int]:
    return {id(p) for group in optimizer.param_groups for p in group["params"]}


def test_each_optimizer_owns_exactly_its_modules():
    model = tiny_model()
    optimizers = build_optimizers(model, config())
    mit = ids(model.encoder_ir, model.encoder_vis, model.mrl)
    assert ids(model.mrl) and ids(model.mrl) <= mit
    assert owned(optimizers["A"]) == mit | ids(model.decoder_fuse0)
    assert owned(optimizers["B"]) == mit | ids(model.decoder_fuse)
    assert owned(optimizers["C"]) == ids(model.sipria_ir)
    assert owned(optimizers["D"]) == ids(model.sipria_vis)
    s = config().schedule
    assert [optimizers[n].param_groups[0]["lr"] for n in "ABCD"] == [
        s.lr_mit_stage1, s.lr_mit_stage2, s.lr_sipria_ir, s.lr_sipria_vis]


def test_ablation_optimizers_own_the_right_modules():
    model = tiny_model()
    only_a = build_optimizers(model, config(ablation={"sipria": False}))
    assert set(only_a) == {"A"}
    joint = build_optimizers(model, config(ablation={"mptp": False}))
    everything_but_fuse0 = ids(model) - ids(model.decoder_fuse0)
    assert set(joint) == {"joint"} and owned(joint["joint"]) == everything_but_fuse0


def test_phase_order_and_label_decoders():
    blocks = build_schedule(7, 1)
    assert [b.kind for b in blocks] == ["M1", "S", "M2", "S", "M2", "S", "M2"]
    assert [b.optimizers for b in blocks[:3]] == [("A",), ("C", "D"), ("B",)]
    assert [b.label_decoder for b in blocks if b.kind == "S"] == ["fuse0", "fuse", "fuse"]


def test_lr_decays_by_gamma_per_milestone_within_each_block():
    block = build_schedule(40, 10)[2]  # epochs 20..29
    assert lr_factor(block, 20, [0.5], 0.1) == 1.0
    assert lr_factor(block, 24, [0.5], 0.1) == 1.0
    assert lr_factor(block, 25, [0.5], 0.1) == pytest.approx(0.1)
    assert lr_factor(block, 28, [0.3, 0.8], 0.5) == pytest.approx(0.25)


@pytest.fixture
def trainer(tmp_path):
    dataset = RoadSceneCrops(synthetic_pairs(4, 20, 20), crop=16)
    return Trainer(config(), tmp_path, dataset=dataset, progress=False)


def test_trainer_applies_the_decayed_rate_to_the_active_optimizer(trainer):
    s = trainer.config.schedule
    trainer.step = 0
    trainer.train_step()  # block 0 (M1), first half
    assert trainer.optimizers["A"].param_groups[0]["lr"] == pytest.approx(s.lr_mit_stage1)
    trainer.step = 1 * trainer.steps_per_epoch  # block 0, second half
    trainer.train_step()
    assert trainer.optimizers["A"].param_groups[0]["lr"] == pytest.approx(s.lr_mit_stage1 * 0.1)


def test_phase_m2_steps_move_d_fuse(trainer):
    """Beyond its warm start from ``D_fuse0``, ``D_fuse`` is trained by phaseM stage 2."""
    trainer.step = trainer.blocks[2].start * trainer.steps_per_epoch
    trainer.train_step()  # warm start + first step
    before = {n: p.detach().clone() for n, p in trainer.model.decoder_fuse.named_parameters()}
    trainer.train_step()
    after = dict(trainer.model.decoder_fuse.named_parameters())
    assert all(not torch.equal(before[n], after[n]) for n in before)
    assert trainer.optimizers["B"].param_groups[0]["lr"] == pytest.approx(
        trainer.config.schedule.lr_mit_stage2)
