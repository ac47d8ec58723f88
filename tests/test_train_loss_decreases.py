"""The CPU schedule on real RoadScene pairs: the losses go down (tiny model, few steps)."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import need

from critnet.train import Trainer, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.slow
def test_losses_decrease_on_roadscene_in_phase_m1_and_phase_s(data_dir, tmp_path):
    need(data_dir, "roadscene", "subsets.csv")
    config = load_config(CONFIGS / "cpu.yaml")
    # cpu.yaml's losses, learning rates and batch; a smaller network, crops and blocks
    config = replace(
        config,
        model=replace(config.model, overrides={"channels": 8, "growth": 8}),
        data=replace(config.data, root=str(data_dir), crop=48),
        schedule=replace(config.schedule, epochs=2, phase_len=1),
    )
    trainer = Trainer(config, tmp_path, progress=False)
    assert len(trainer.dataset) == 171 and trainer.steps_per_epoch == 22
    trainer.run()
    with (tmp_path / "log.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for phase in ("M1", "S"):
        totals = np.array([float(r["total"]) for r in rows if r["phase"] == phase])
        assert len(totals) == 22
        first, last = totals[:5].mean(), totals[-5:].mean()
        assert last < 0.8 * first, f"{phase}: loss {first:.4f} -> {last:.4f}"
