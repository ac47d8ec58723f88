"""The config loaders (``train/config.py``, ``model/config.py``): ``base:`` inheritance,
defaults, and every error path as one :class:`ConfigError` line naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from critnet.errors import ConfigError, InputError
from critnet.model import CRITNetConfig, preset_config
from critnet.train import TrainConfig, load_config

CONFIGS = Path(__file__).parents[1] / "configs"


def write(folder: Path, name: str, values: object) -> Path:
    path = folder / name
    path.write_text(values if isinstance(values, str) else yaml.safe_dump(values))
    return path


def test_every_shipped_config_loads():
    for path in sorted(CONFIGS.glob("*.yaml")):
        assert load_config(path).name == path.stem


def test_base_deep_merges_sections_and_replaces_overrides(tmp_path):
    write(tmp_path, "parent.yaml", {"model": {"preset": "lite", "overrides": {"channels": 8}},
                                    "schedule": {"epochs": 10, "batch_size": 4}})
    child = write(tmp_path, "child.yaml", {"base": "parent.yaml",
                                           "model": {"overrides": {"growth": 8}},
                                           "schedule": {"epochs": 3}})
    config = load_config(child)
    assert config.name == "child"
    assert config.model.preset == "lite" and config.model.overrides == {"growth": 8}
    assert (config.schedule.epochs, config.schedule.batch_size) == (3, 4)
    assert config.schedule.phase_len == 200  # untouched default
    assert config.schedule.lr_mit_stage1 == 1e-3


def test_yaml_exponent_strings_become_floats(tmp_path):
    # YAML 1.1 reads 1e-3 (no dot) as a string
    config = load_config(write(tmp_path, "c.yaml", "schedule:\n  lr_mit_stage1: 1e-3\n"))
    assert config.schedule.lr_mit_stage1 == pytest.approx(1e-3)


@pytest.mark.parametrize(("values", "message"), [
    ({"schedule": {"epoch": 3}}, r"unknown config keys in schedule: \['epoch'\]"),
    ({"sched": {}}, r"unknown config keys in <top>: \['sched'\]"),
    ({"schedule": [1, 2]}, "config section schedule must be a mapping"),
    ({"schedule": {"epochs": 2.5}}, "schedule.epochs must be an integer, got 2.5"),
    ({"schedule": {"epochs": True}}, "schedule.epochs must be an integer"),
    ({"schedule": {"lr_gamma": "fast"}}, "schedule.lr_gamma must be a number, got 'fast'"),
    ({"ablation": {"mit": "no"}}, "ablation.mit must be true or false, got 'no'"),
    ({"schedule": {"fuse_init": "zeros"}}, "schedule.fuse_init must be one of 'fuse0', 'random'"),
    ({"schedule": {"m2_sipria_grad": "sideways"}},
     "schedule.m2_sipria_grad must be one of 'through', 'detached'"),
    ({"loss": {"saliency_weights": "max"}}, "loss.saliency_weights must be one of"),
    ({"model": {"preset": "huge"}}, "model: unknown preset 'huge'"),
    ({"model": {"overrides": {"width": 8}}}, r"model.overrides: unknown keys \['width'\]"),
    ({"model": {"overrides": {"channels": 7}}}, "model: channels must be an even number"),
    ({"model": {"overrides": {"mit": False}}},
     "model.overrides.mit: the ablation switches live in ablation.mit"),
    ({"model": {"overrides": {"sipria": False}}}, "ablation switches live in ablation.sipria"),
])
def test_bad_values_name_the_file_and_key(tmp_path, values, message):
    path = write(tmp_path, "bad.yaml", values)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    assert not isinstance(caught.value, InputError)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="list.yaml: a config file must hold a mapping"):
        load_config(write(tmp_path, "list.yaml", "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(write(tmp_path, "broken.yaml", "schedule: {epochs: [\n"))
    write(tmp_path, "a.yaml", {"base": "b.yaml"})
    write(tmp_path, "b.yaml", {"base": "a.yaml"})
    with pytest.raises(ConfigError, match="circular 'base:' inheritance"):
        load_config(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="nobase.yaml: config file not found"):
        load_config(write(tmp_path, "child.yaml", {"base": "nobase.yaml"}))
    with pytest.raises(ConfigError, match="base must be a file name"):
        load_config(write(tmp_path, "num.yaml", {"base": 3}))


def test_ablation_switches_have_one_home():
    config = TrainConfig.from_dict({"model": {"preset": "lite", "overrides": {"channels": 8}},
                                    "ablation": {"mit": False}})
    assert config.model_overrides() == {"channels": 8, "mit": False, "sipria": True}


def test_model_config_errors_are_config_errors():
    assert preset_config("lite", growth=8).growth == 8
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        preset_config("huge")
    with pytest.raises(ConfigError, match=r"unknown model options: \['width'\]"):
        preset_config("lite", width=3)
    with pytest.raises(ConfigError, match="channels must be an even number >= 2, got 5"):
        CRITNetConfig(channels=5)
    with pytest.raises(ConfigError, match="attention_norm must be 'cosine' or 'sqrt_d'"):
        CRITNetConfig(attention_norm="l1")
    with pytest.raises(ConfigError, match=r"unknown model options: \['depth'\]"):
        CRITNetConfig.from_dict({"depth": 2})
    assert CRITNetConfig.from_dict(PRESET := preset_config("lite").to_dict()).to_dict() == PRESET


def test_recorded_decisions_in_the_shipped_configs():
    assert load_config(CONFIGS / "paper.yaml").schedule.fuse_init == "random"  # released code
    assert load_config(CONFIGS / "cpu.yaml").schedule.fuse_init == "fuse0"
    assert load_config(CONFIGS / "lambda_50.yaml").schedule.fuse_init == "fuse0"  # via base:


def test_run_options_of_the_gpu_work_are_validated():
    run = TrainConfig.from_dict({}).run
    assert (run.log_every, run.precision, run.memory_format) == (1, "fp32", "auto")
    with pytest.raises(ConfigError, match="run.log_every must be >= 1, got 0"):
        TrainConfig.from_dict({"run": {"log_every": 0}})
    with pytest.raises(ConfigError, match="run.checkpoint_every must be >= 1"):
        TrainConfig.from_dict({"run": {"checkpoint_every": -3}})
    with pytest.raises(ConfigError, match="run.precision must be one of 'fp32', 'bf16'"):
        TrainConfig.from_dict({"run": {"precision": "fp16"}})
    with pytest.raises(ConfigError, match="run.memory_format must be one of"):
        TrainConfig.from_dict({"run": {"memory_format": "nhwc"}})
    with pytest.raises(ConfigError, match="run.threads must be a positive integer"):
        TrainConfig.from_dict({"run": {"threads": 0}})
