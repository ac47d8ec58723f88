"""Channels-last training (``run.memory_format``; the CPU default at the paper's width) computes
what NCHW training computes: each phase's loss terms (1e-5 relative) and every gradient (1e-4 of
its largest entry) agree (docs/training.md, "Step speed")."""

from __future__ import annotations

import pytest
import torch

from critnet.train import TrainConfig, Trainer
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.synthetic import synthetic_pairs
from critnet.train.network import CPU_CHANNELS_LAST_FROM, channels_last


def trainer(out, memory_format: str, channels: int = 32) -> Trainer:
    config = TrainConfig.from_dict({
        "model": {"preset": "lite", "overrides": {"channels": channels, "growth": channels}},
        "data": {"crop": 24},
        "schedule": {"epochs": 5, "phase_len": 1, "batch_size": 2, "fuse_init": "fuse0"},
        "run": {"memory_format": memory_format},
    })
    dataset = RoadSceneCrops(synthetic_pairs(4, 32, 36), crop=24)
    return Trainer(config, out, dataset=dataset, progress=False)


@pytest.mark.parametrize("block", [0, 1, 2])  # M1, S (label from D_fuse0), M2
def test_channels_last_step_matches_nchw(tmp_path, block):
    runs = {f: trainer(tmp_path / f, f) for f in ("contiguous", "channels_last")}
    cl = runs["channels_last"].model.encoder_ir.stem.weight
    assert cl.is_contiguous(memory_format=torch.channels_last)
    assert not runs["contiguous"].model.encoder_ir.stem.weight.is_contiguous(
        memory_format=torch.channels_last)
    rows = {}
    for name, run in runs.items():
        run.step = run.blocks[block].start * run.steps_per_epoch
        if block == 2:  # the first M2 step warm-starts D_fuse from the same D_fuse0 in both
            run._enter(run.blocks[block])
        rows[name] = run.train_step()
    a, b = rows["contiguous"], rows["channels_last"]
    assert a["phase"] == b["phase"] == ("M1", "S", "M2")[block]
    for key, value in a.items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(b[key], value, rtol=1e-5, atol=1e-6, msg=key)
    trained = 0
    params = dict(runs["channels_last"].model.named_parameters())
    for name, reference in runs["contiguous"].model.named_parameters():
        other = params[name]
        assert (reference.grad is None) == (other.grad is None), name
        if reference.grad is not None:
            trained += 1
            scale = reference.grad.abs().max().item() + 1e-12
            torch.testing.assert_close(other.grad, reference.grad, rtol=0, atol=1e-4 * scale,
                                       msg=name)
    assert trained > 0
    # (the updated weights are not compared: Adam's first step moves a weight by ±lr whatever
    # its gradient's size, so a gradient that is zero up to rounding may move either way)


def test_auto_layout_is_channels_last_on_the_cpu_from_the_threshold_width():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert channels_last("auto", cpu, 64) and channels_last("auto", cpu, CPU_CHANNELS_LAST_FROM)
    assert not channels_last("auto", cpu, 16) and channels_last("auto", cuda, 16)
    assert not channels_last("contiguous", cuda, 64) and channels_last("channels_last", cpu, 8)
