"""Steps per second of each phase kind, measured on a throw-away trainer."""

from __future__ import annotations

import pytest

from critnet.train import TrainConfig, Trainer
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.synthetic import synthetic_pairs
from critnet.train.speed import phase_rates


def tiny_trainer(out) -> Trainer:
    config = TrainConfig.from_dict({
        "model": {"preset": "lite", "overrides": {"channels": 8, "growth": 8}},
        "data": {"crop": 16},
        "schedule": {"epochs": 5, "phase_len": 1, "batch_size": 2},  # 2 steps per block
    })
    return Trainer(config, out, dataset=RoadSceneCrops(synthetic_pairs(4, 20, 20), crop=16),
                   progress=False)


def test_each_phase_is_timed_from_its_first_block_and_stops_at_the_block_end(tmp_path):
    trainer = tiny_trainer(tmp_path)
    rates = phase_rates(trainer, warmup=1, steps=5)
    assert list(rates) == ["M1", "S", "M2"]
    # 1 warm-up step, then the timing stops at the block's end (2 steps per block)
    assert all(r.steps == 1 and r.seconds > 0 and r.steps_per_s > 0 for r in rates.values())
    assert trainer.step == 2 * 2 + 2  # ended in block 2 (the first M2)
    assert not list(tmp_path.iterdir())  # nothing written


def test_exactly_one_of_steps_and_seconds(tmp_path):
    trainer = tiny_trainer(tmp_path)
    with pytest.raises(ValueError, match="exactly one of steps and seconds"):
        phase_rates(trainer, steps=1, seconds=1.0)
    with pytest.raises(ValueError, match="phase joint is not in the schedule"):
        phase_rates(trainer, ("joint",), steps=1)
