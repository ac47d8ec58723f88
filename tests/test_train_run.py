"""``critnet.train.run_training``: the one place that wires distributed set-up, the trainer and
shutdown; ``critnet train`` and the studies' default trainer both go through it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from critnet.cli import cli, main
from critnet.evaluation.bench.ablation import library_trainer
from critnet.train import load_config, run_training


def tiny_run_config(tmp_path: Path) -> Path:
    """Two 40×44 RoadScene-like JPEG pairs and a config training a tiny model on them."""
    rng = np.random.default_rng(0)
    roadscene = tmp_path / "data" / "roadscene"
    rows = ["stem,width,height,in_cddfuse_test50,didfuse_test_flir_name,piafusion_test_name"]
    for stem in ("A_001", "A_002"):
        for folder in ("ir", "vi"):
            (roadscene / folder).mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, (40, 44), dtype=np.uint8)
            Image.fromarray(pixels).save(roadscene / folder / f"{stem}.jpg")
        rows.append(f"{stem},44,40,0,,")
    (roadscene / "subsets.csv").write_text("\n".join(rows) + "\n")
    config = {"model": {"preset": "lite", "overrides": {"channels": 4, "growth": 4}},
              "data": {"root": str(tmp_path / "data"), "crop": 16},
              "schedule": {"epochs": 3, "phase_len": 1, "batch_size": 2},
              "run": {"device": "cpu"}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_training_trains_and_resumes(tmp_path):
    config = tiny_run_config(tmp_path)
    summary = run_training(config, tmp_path / "run", max_steps=1, progress=False)
    assert (summary["step"], summary["steps_run"], summary["total_steps"]) == (1, 1, 3)
    assert summary["out_dir"] == tmp_path / "run" and summary["is_main"]
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    again = run_training(load_config(config), tmp_path / "run", resume=True, max_steps=2,
                         progress=False)
    assert (again["step"], again["steps_run"]) == (2, 1)


def test_cli_and_the_studies_default_trainer_call_it(tmp_path):
    config = tiny_run_config(tmp_path)
    result = CliRunner().invoke(cli, ["train", "--config", str(config), "--out",
                                       str(tmp_path / "cli"), "--max-steps", "1",
                                       "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "step 1/3 (1 steps in" in result.output and str(tmp_path / "cli") in result.output
    library_trainer(device="cpu", progress=False)(config, tmp_path / "cli", True, 2)
    rows = (tmp_path / "cli" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]


def test_cli_reports_a_bad_config_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("schedule: {epochs: many}\n")
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--config", str(bad)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (f"critnet: error: {bad}: config key schedule.epochs must "
                                       f"be an integer, got 'many'\n")
    assert not (tmp_path / "runs").exists()
