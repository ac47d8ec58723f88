"""bench ablation / lambda: reuse trained weights, resume partial runs, train missing ones (with a
fake trainer), paper-schedule configs, and the evaluation of the trained models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from bench_helpers import make_data_root

from critnet.errors import CritnetError, InputError
from critnet.evaluation.bench.ablation import plan_runs, run_study, train_all
from critnet.evaluation.bench.compare import RunOptions
from critnet.evaluation.bench.registry import STUDIES

CPU = {"model": {"preset": "lite"}, "schedule": {"epochs": 4, "phase_len": 2, "batch_size": 2}}
PAPER = {"model": {"preset": "paper"}, "schedule": {"epochs": 1000, "phase_len": 200}}


def _configs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cpu.yaml").write_text(yaml.safe_dump(CPU))
    (folder / "paper.yaml").write_text(yaml.safe_dump(PAPER))
    for stem, section in [("ablation_no_mit", {"mit": False}),
                          ("ablation_no_sipria", {"sipria": False}),
                          ("ablation_no_mptp", {"mptp": False})]:
        (folder / f"{stem}.yaml").write_text(yaml.safe_dump({"base": "cpu.yaml",
                                                             "ablation": section}))
    for lam in (1, 50, 100):
        (folder / f"lambda_{lam}.yaml").write_text(yaml.safe_dump(
            {"base": "cpu.yaml", "loss": {"lambda_jg": lam, "lambda_edge": lam}}))
    return folder


class FakeTrainer:
    """Records calls; writes a real (untrained) lite weights file like the trainer does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bool, int | None]] = []

    def __call__(self, config: Path, out_dir: Path, resume: bool, max_steps: int | None) -> None:
        from critnet.model import build_model
        from critnet.weights import save_weights

        self.calls.append((config.stem, out_dir.name, resume, max_steps))
        save_weights(build_model("lite"), out_dir / "weights.safetensors")
        (out_dir / "checkpoint.pt").write_bytes(b"fake")


def test_plan_reuses_weights_resumes_checkpoints_trains_the_rest(tmp_path: Path) -> None:
    configs, runs = _configs(tmp_path / "configs"), tmp_path / "runs"
    (runs / "ablation_no_mit").mkdir(parents=True)
    (runs / "ablation_no_mit" / "weights.safetensors").write_bytes(b"w")
    (runs / "ablation_no_mptp").mkdir(parents=True)
    (runs / "ablation_no_mptp" / "checkpoint.pt").write_bytes(b"c")
    plans = plan_runs(STUDIES["ablation"], configs, runs)
    assert [(p.label, p.action, p.run_dir.name) for p in plans] == [
        ("w/o MIT", "reuse", "ablation_no_mit"), ("w/o SIPRIA", "train", "ablation_no_sipria"),
        ("w/o MPTP", "resume", "ablation_no_mptp"), ("Ours", "train", "cpu")]


def test_missing_config_without_weights_is_an_error(tmp_path: Path) -> None:
    configs = _configs(tmp_path / "configs")
    (configs / "lambda_50.yaml").unlink()
    with pytest.raises(InputError, match="lambda_50.yaml: config for 'λ = 50' not found"):
        plan_runs(STUDIES["lambda"], configs, tmp_path / "runs")
    with pytest.raises(InputError, match="unknown schedule"):
        plan_runs(STUDIES["lambda"], configs, tmp_path / "runs", schedule="gpu")


def test_paper_schedule_keeps_the_variant_and_takes_the_paper_schedule(tmp_path: Path) -> None:
    from critnet.train import load_config

    configs, runs = _configs(tmp_path / "configs"), tmp_path / "runs"
    plans = plan_runs(STUDIES["ablation"], configs, runs, schedule="paper")
    plan = plans[1]
    assert plan.run_dir == runs / "ablation_no_sipria_paper"
    config = load_config(plan.config)
    assert config.name == "ablation_no_sipria_paper"
    assert config.ablation.sipria is False and config.ablation.mit is True
    assert config.model.preset == "paper" and config.schedule.epochs == 1000
    generated = yaml.safe_load(plan.config.read_text())  # inherits, no hand-merged sections
    assert generated["base"] == "../../configs/paper.yaml"
    assert set(generated) == {"base", "loss", "ablation"}


def test_train_all_calls_the_trainer_only_where_needed(tmp_path: Path) -> None:
    configs, runs = _configs(tmp_path / "configs"), tmp_path / "runs"
    (runs / "cpu").mkdir(parents=True)  # λ = 20 is the full model's run
    (runs / "cpu" / "weights.safetensors").write_bytes(b"w")
    (runs / "lambda_50").mkdir(parents=True)
    (runs / "lambda_50" / "checkpoint.pt").write_bytes(b"c")
    trainer = FakeTrainer()
    plans = plan_runs(STUDIES["lambda"], configs, runs)
    with pytest.raises(CritnetError, match="lambda_50: written 0 s ago, probably still training"):
        train_all(plans, trainer, max_steps=3, log=lambda _: None)
    trainer.calls.clear()
    train_all(plans, trainer, max_steps=3, busy_seconds=0, log=lambda _: None)
    assert trainer.calls == [("lambda_1", "lambda_1", False, 3),
                             ("lambda_50", "lambda_50", True, 3),
                             ("lambda_100", "lambda_100", False, 3)]


def test_a_run_that_ends_without_weights_is_reported(tmp_path: Path) -> None:
    configs, runs = _configs(tmp_path / "configs"), tmp_path / "runs"
    plans = plan_runs(STUDIES["lambda"], configs, runs)[:1]
    with pytest.raises(CritnetError, match="without weights.safetensors"):
        train_all(plans, lambda *args: None, log=lambda _: None)


def test_run_study_trains_once_then_evaluates_on_tno(tmp_path: Path) -> None:
    root = make_data_root(tmp_path / "data")
    configs, runs, out = _configs(tmp_path / "configs"), tmp_path / "runs", tmp_path / "out"
    trainer = FakeTrainer()
    result = run_study("ablation", out, configs_dir=configs, runs_dir=runs, train=trainer,
                       busy_seconds=0, log=lambda _: None,
                       options=RunOptions(data_root=root, progress=False))
    assert len(trainer.calls) == 4
    assert [m.name for m in result.methods] == ["w/o MIT", "w/o SIPRIA", "w/o MPTP", "Ours"]
    assert "| Configuration | CC ↑" in (out / "table.md").read_text()
    assert (out / "fused" / "w_o_MIT").is_dir() and (out / "grid.png").is_file()
    assert json.loads((out / "results.json").read_text())["paper_table"] == "table1"
    # Second time, weights without checkpoints (e.g. copied in): reused, never retrained.
    again = FakeTrainer()
    for folder in runs.iterdir():
        (folder / "checkpoint.pt").unlink()
    run_study("ablation", out, configs_dir=configs, runs_dir=runs, train=again,
              log=lambda _: None, options=RunOptions(data_root=root, plots=False, progress=False))
    assert again.calls == []


def test_trained_only_evaluates_finished_runs_and_trains_nothing(tmp_path: Path) -> None:
    from critnet.model import build_model
    from critnet.weights import save_weights

    root = make_data_root(tmp_path / "data")
    configs, runs, out = _configs(tmp_path / "configs"), tmp_path / "runs", tmp_path / "out"
    save_weights(build_model("lite"), runs / "cpu" / "weights.safetensors", epoch="4")
    save_weights(build_model("lite", mit=False), runs / "ablation_no_mit" / "weights.safetensors",
                 epoch="2")  # a block-end snapshot of an unfinished run
    notes: list[str] = []
    result = run_study("ablation", out, configs_dir=configs, runs_dir=runs,
                       trained_only=True, train=FakeTrainer(), log=notes.append,
                       options=RunOptions(data_root=root, plots=False, progress=False))
    assert [m.name for m in result.methods] == ["Ours"]
    assert sum("not trained yet" in n for n in notes) == 3
    with pytest.raises(CritnetError, match="no finished run"):
        run_study("lambda", out, configs_dir=configs, runs_dir=tmp_path / "none",
                  trained_only=True, log=notes.append,
                  options=RunOptions(data_root=root, plots=False, progress=False))
