"""One step of each MPTP phase (docs/design.md §3): exactly the right modules change."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from critnet.train import TrainConfig, Trainer
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.synthetic import synthetic_pairs
from critnet.train.schedule import build_schedule, lr_factor

GROUPS = ("encoder_ir", "encoder_vis", "mrl", "decoder_fuse0", "sipria_ir", "sipria_vis",
          "decoder_fuse")
MIT = {"encoder_ir", "encoder_vis", "mrl"}


def tiny_trainer(out, **ablation: bool) -> Trainer:
    config = TrainConfig.from_dict({
        "model": {"preset": "lite", "overrides": {"channels": 8, "growth": 8}},
        "data": {"crop": 24},
        "schedule": {"epochs": 5, "phase_len": 1, "batch_size": 2},
        "ablation": ablation,
    })
    dataset = RoadSceneCrops(synthetic_pairs(4, 32, 36), crop=24)
    return Trainer(config, out, dataset=dataset, progress=False)


def snapshot(trainer: Trainer) -> dict[str, dict[str, torch.Tensor]]:
    model = trainer.model
    return {g: {n: p.detach().clone() for n, p in getattr(model, g).named_parameters()}
            for g in GROUPS if getattr(model, g) is not None}


def changed_groups(before, after) -> dict[str, bool]:
    """Per group: True if every parameter changed, False if none did; fails on a mix."""
    result = {}
    for group, params in before.items():
        flags = {n: not torch.equal(p, after[group][n]) for n, p in params.items()}
        assert len(set(flags.values())) == 1, f"{group}: only some parameters changed: {flags}"
        result[group] = next(iter(flags.values()))
    return result


def run_one_step(trainer: Trainer, block_index: int) -> dict[str, bool]:
    trainer.step = trainer.blocks[block_index].start * trainer.steps_per_epoch
    before = snapshot(trainer)
    trainer.train_step()
    return changed_groups(before, snapshot(trainer))


def test_schedule_blocks_and_lr_milestones():
    blocks = build_schedule(1000, 200)
    assert [b.kind for b in blocks] == ["M1", "S", "M2", "S", "M2"]
    assert [b.label_decoder for b in blocks if b.kind == "S"] == ["fuse0", "fuse"]
    assert lr_factor(blocks[2], 400 + 99, [0.5], 0.1) == 1.0
    assert lr_factor(blocks[2], 400 + 100, [0.5], 0.1) == pytest.approx(0.1)
    assert [b.kind for b in build_schedule(10, 3, sipria=False)] == ["M1"]
    assert [b.kind for b in build_schedule(10, 3, mptp=False)] == ["joint"]


def test_phase_m1_trains_mit_including_mrl_and_decoder_fuse0(tmp_path):
    changed = run_one_step(tiny_trainer(tmp_path), 0)
    assert changed == {"encoder_ir": True, "encoder_vis": True, "mrl": True,
                       "decoder_fuse0": True, "sipria_ir": False, "sipria_vis": False,
                       "decoder_fuse": False}


@pytest.mark.parametrize("block_index", [1, 3])  # label from D_fuse0, then from D_fuse
def test_phase_s_trains_only_the_sipria(tmp_path, block_index):
    trainer = tiny_trainer(tmp_path)
    changed = run_one_step(trainer, block_index)
    assert changed == {"encoder_ir": False, "encoder_vis": False, "mrl": False,
                       "decoder_fuse0": False, "sipria_ir": True, "sipria_vis": True,
                       "decoder_fuse": False}
    # the frozen MIT ran without autograd: no backward work, no gradients
    assert all(p.grad is None and not p.requires_grad for p in trainer.model.mit_parameters())


def test_phase_m2_trains_mit_and_decoder_fuse_with_frozen_sipria(tmp_path):
    trainer = tiny_trainer(tmp_path)
    changed = run_one_step(trainer, 2)
    assert changed == {"encoder_ir": True, "encoder_vis": True, "mrl": True,
                       "decoder_fuse0": False, "sipria_ir": False, "sipria_vis": False,
                       "decoder_fuse": True}
    assert trainer.optimizers["B"].param_groups[0]["lr"] == pytest.approx(1e-5)


def test_no_sipria_ablation_trains_mit_and_decoder_fuse0(tmp_path):
    trainer = tiny_trainer(tmp_path, sipria=False)
    assert set(trainer.optimizers) == {"A"}
    assert run_one_step(trainer, 0) == {"encoder_ir": True, "encoder_vis": True, "mrl": True,
                                        "decoder_fuse0": True}


def test_no_mptp_ablation_trains_everything_jointly(tmp_path):
    trainer = tiny_trainer(tmp_path, mptp=False)
    row_changed = run_one_step(trainer, 0)
    assert row_changed == {g: g != "decoder_fuse0" for g in GROUPS}


def test_no_mit_ablation_has_no_mrl(tmp_path):
    trainer = tiny_trainer(tmp_path, mit=False)
    changed = run_one_step(trainer, 0)
    assert "mrl" not in changed and changed["encoder_ir"] and changed["decoder_fuse0"]


def mit_grads_via_sipria_only(sipria_grad: str) -> list[torch.Tensor | None]:
    """MIT gradients of one phaseM-stage-2 loss, with D_fuse's weights on its direct
    ``F_vis↔ir`` / ``F_ir↔vis`` inputs zeroed: the SIPRIA path is then MIT's only way in."""
    from critnet.model import build_model
    from critnet.train import objectives
    from critnet.train.config import LossSection

    torch.manual_seed(0)
    model = build_model("lite", channels=8, growth=8)
    c, e = model.config.channels, model.config.edge_channels
    with torch.no_grad():
        weight = model.decoder_fuse.body[0].weight
        weight[:, :c] = 0  # F_vis↔ir
        weight[:, 2 * c + 2 * e:3 * c + 2 * e] = 0  # F_ir↔vis (after F_ed_ir, F_en_ir)
    for module in (model.sipria_ir, model.sipria_vis):
        module.requires_grad_(False)  # frozen in stage 2, as the trainer sets them
    batch = RoadSceneCrops(synthetic_pairs(2, 24, 24), crop=16).batch(0, [0, 1])
    objectives.phase_m2(model, batch, LossSection(), sipria_grad)["total"].backward()
    return [p.grad for p in model.mit_parameters()]


def test_phase_m2_sipria_grad_through_reaches_mit_via_the_sipria():
    grads = mit_grads_via_sipria_only("through")
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_phase_m2_sipria_grad_detached_blocks_the_sipria_path():
    grads = mit_grads_via_sipria_only("detached")
    assert all(g is None or not g.any() for g in grads)


def test_phase_m2_detached_still_trains_mit_through_the_direct_inputs(tmp_path):
    config = TrainConfig.from_dict({
        "model": {"preset": "lite", "overrides": {"channels": 8, "growth": 8}},
        "data": {"crop": 24},
        "schedule": {"epochs": 5, "phase_len": 1, "batch_size": 2,
                     "m2_sipria_grad": "detached"},
    })
    dataset = RoadSceneCrops(synthetic_pairs(4, 32, 36), crop=24)
    trainer = Trainer(config, tmp_path, dataset=dataset, progress=False)
    assert run_one_step(trainer, 2) == {"encoder_ir": True, "encoder_vis": True, "mrl": True,
                                        "decoder_fuse0": False, "sipria_ir": False,
                                        "sipria_vis": False, "decoder_fuse": True}


def test_m2_sipria_grad_is_validated_and_configs_set_it():
    from critnet.errors import ConfigError
    from critnet.train.config import load_config

    with pytest.raises(ConfigError, match="schedule.m2_sipria_grad must be one of"):
        TrainConfig.from_dict({"schedule": {"m2_sipria_grad": "sideways"}})
    configs = Path(__file__).parents[1] / "configs"
    assert load_config(configs / "cpu.yaml").schedule.m2_sipria_grad == "through"
    detached = load_config(configs / "cpu_m2_detached.yaml")
    assert detached.schedule.m2_sipria_grad == "detached"
    assert detached.name == "cpu_m2_detached"
    assert detached.model.preset == "lite" and detached.schedule.phase_len == 60


def test_bf16_channels_last_run_trains_logs_in_chunks_and_exports(tmp_path):
    """``run.precision: bf16`` with ``run.memory_format: channels_last`` (the GPU settings) on
    the CPU: every phase trains, the losses stay fp32 and finite, every step is logged once,
    the weights export and the checkpoint resumes."""
    import csv
    import math

    from critnet.weights import load_weights

    config = TrainConfig.from_dict({
        "model": {"preset": "lite", "overrides": {"channels": 8, "growth": 8}},
        "data": {"crop": 16},
        "schedule": {"epochs": 5, "phase_len": 1, "batch_size": 2},
        "run": {"precision": "bf16", "memory_format": "channels_last", "log_every": 3,
                "checkpoint_every": 4},
    })

    def make(**kwargs) -> Trainer:
        dataset = RoadSceneCrops(synthetic_pairs(4, 20, 20), crop=16)
        return Trainer(config, tmp_path, dataset=dataset, progress=False, **kwargs)

    trainer = make()
    assert trainer.model.encoder_ir.stem.weight.is_contiguous(memory_format=torch.channels_last)
    row = trainer.train_step()
    assert row["total"].dtype == torch.float32
    trainer.step = 0
    assert trainer.run()["step"] == 10
    with (tmp_path / "log.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == list(range(1, 11))
    assert {r["phase"] for r in rows} == {"M1", "S", "M2"}
    assert all(math.isfinite(float(r["total"])) for r in rows)
    assert load_weights(tmp_path / "weights.safetensors").default_decoder == "fuse"
    assert make(resume=True).step == 10
