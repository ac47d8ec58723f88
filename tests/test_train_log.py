"""``log.csv`` across kill and resume: every step exactly once (rows synced at checkpoints)."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import textwrap

import pytest

from critnet.train import TrainConfig, Trainer
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.synthetic import synthetic_pairs
from critnet.train.log import COLUMNS, StepLog

CONFIG = {
    "model": {"preset": "lite", "overrides": {"channels": 8, "growth": 8}},
    "data": {"crop": 24},
    # 3 steps per epoch, blocks of 2 epochs: 15 steps; checkpoints at 4, 6, 8, 12, 15
    "schedule": {"epochs": 5, "phase_len": 2, "batch_size": 2},
    "run": {"checkpoint_every": 4},
}

#: Runs CONFIG in ``out`` and SIGKILLs itself once step ``kill_at`` is logged (checkpoint at 8).
KILLED_RUN = textwrap.dedent("""
    import json, os, signal, sys
    from critnet.train.data.roadscene import RoadSceneCrops
    from critnet.train.data.synthetic import synthetic_pairs
    from critnet.train import TrainConfig, Trainer
    from critnet.train.log import StepLog

    config, out, kill_at = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    write = StepLog.write

    def write_then_die(self, row, **kwargs):
        write(self, row, **kwargs)
        if row["step"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    StepLog.write = write_then_die
    dataset = RoadSceneCrops(synthetic_pairs(5, 32, 36), crop=24)
    Trainer(TrainConfig.from_dict(config), out, dataset=dataset, progress=False).run()
""")


def steps(out) -> list[int]:
    with (out / "log.csv").open(newline="") as handle:
        return [int(r["step"]) for r in csv.DictReader(handle)]


def trainer(out, **kwargs) -> Trainer:
    dataset = RoadSceneCrops(synthetic_pairs(5, 32, 36), crop=24)
    return Trainer(TrainConfig.from_dict(CONFIG), out, dataset=dataset, progress=False, **kwargs)


def test_run_killed_between_checkpoints_then_resumed_logs_every_step_once(tmp_path):
    command = [sys.executable, "-c", KILLED_RUN, json.dumps(CONFIG), str(tmp_path), "10"]
    killed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert 8 in steps(tmp_path)  # synced at the checkpoint of step 8
    resumed = trainer(tmp_path, resume=True)
    assert resumed.step == 8
    resumed.run()
    assert steps(tmp_path) == list(range(1, 16))


def test_run_stopped_by_max_steps_then_resumed_logs_every_step_once(tmp_path):
    trainer(tmp_path, max_steps=10).run()
    trainer(tmp_path, resume=True).run()
    assert steps(tmp_path) == list(range(1, 16))


def _row(step: int) -> dict[str, object]:
    return {"step": step, "epoch": 0, "block": 0, "phase": "M1", "lr": 1e-3, "total": 0.5,
            "wall_time": 0.1 * step}


def test_sync_puts_every_row_on_disk(tmp_path):
    log = StepLog(tmp_path)
    for step in range(1, 4):
        log.write(_row(step))
    log.sync()
    assert steps(tmp_path) == [1, 2, 3]
    log.close()


def test_resume_drops_rows_after_the_checkpoint_and_a_row_cut_short(tmp_path):
    log = StepLog(tmp_path)
    for step in range(1, 11):
        log.write(_row(step))
    log.close()
    with (tmp_path / "log.csv").open("a") as handle:
        handle.write("1")  # step 11's row, cut short by a kill after its first character
    StepLog(tmp_path, resume_step=8).close()
    assert steps(tmp_path) == list(range(1, 9))
    with (tmp_path / "log.csv").open(newline="") as handle:
        assert next(csv.reader(handle)) == COLUMNS


def test_resume_warns_when_rows_before_the_checkpoint_are_missing(tmp_path):
    log = StepLog(tmp_path)
    for step in (1, 2, 5):
        log.write(_row(step))
    log.close()
    with pytest.warns(UserWarning, match=r"log\.csv: rows for some of steps 1\.\.5 are missing"):
        StepLog(tmp_path, resume_step=5).close()
    assert steps(tmp_path) == [1, 2, 5]


def test_the_distillation_term_has_its_column_and_an_older_log_resumes(tmp_path):
    assert "distill" in COLUMNS  # the tiny model's training writes ℓ_distill on every row
    old = [c for c in COLUMNS if c != "distill"]  # a log written before the column existed
    with (tmp_path / "log.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=old)
        writer.writeheader()
        writer.writerows({k: v for k, v in _row(step).items() if k in old} for step in (1, 2, 3))
    log = StepLog(tmp_path, resume_step=3)
    log.write({**_row(4), "distill": 0.125})
    log.close()
    assert steps(tmp_path) == [1, 2, 3, 4]
    with (tmp_path / "log.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == COLUMNS
    assert [r["distill"] for r in rows] == ["", "", "", "0.125"]
