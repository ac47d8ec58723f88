"""``run.tensorboard: true`` writes every loss term as TensorBoard scalars (optional extra)."""

from __future__ import annotations

import pytest

from critnet.train import TrainConfig, Trainer
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.synthetic import synthetic_pairs

pytest.importorskip("tensorboard", reason="optional extra: pip install critnet[tensorboard]")

CONFIG = {
    "model": {"preset": "lite", "overrides": {"channels": 8, "growth": 8}},
    "data": {"crop": 24},
    "schedule": {"epochs": 3, "phase_len": 1, "batch_size": 2},  # M1, S, M2: 3 steps each
    "run": {"tensorboard": True},
}


def test_scalars_of_every_phase_reach_the_event_file(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    dataset = RoadSceneCrops(synthetic_pairs(5, 32, 36), crop=24)
    Trainer(TrainConfig.from_dict(CONFIG), tmp_path, dataset=dataset, progress=False).run()

    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss/total", "loss/mit", "loss/ir_sipria", "loss/vis_sipria", "lr"} <= tags
    assert [e.step for e in events.Scalars("loss/total")] == list(range(1, 10))
    assert [e.step for e in events.Scalars("loss/ir_sipria")] == [4, 5, 6]  # phaseS only
    assert all(e.value > 0 for e in events.Scalars("loss/total"))
