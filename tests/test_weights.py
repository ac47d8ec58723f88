"""Weights files: safetensors round trip and clear errors for bad files and names."""

import pytest
import torch

from critnet.errors import WeightsError
from critnet.model import build_model
from critnet.weights import load_weights, resolve_weights, save_weights


def test_round_trip_restores_config_and_tensors(tmp_path):
    model = build_model("lite", attention_norm="sqrt_d")
    path = save_weights(model, tmp_path / "w.safetensors", step="12")
    loaded = load_weights(path)
    assert loaded.config == model.config
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    for name, tensor in original.items():
        assert torch.equal(tensor, restored[name]), name
    assert not loaded.training


def test_unknown_name_is_a_clear_error():
    with pytest.raises(WeightsError, match="unknown weights name 'nope'"):
        resolve_weights("nope")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "missing.safetensors")


def test_corrupted_file_is_a_clear_error(tmp_path):
    path = save_weights(build_model("lite"), tmp_path / "w.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="w.safetensors"):
        load_weights(path)


def test_wrong_preset_is_a_clear_error(tmp_path):
    path = save_weights(build_model("lite"), tmp_path / "w.safetensors")
    with pytest.raises(WeightsError, match="preset 'lite', not 'paper'"):
        load_weights(path, preset="paper")


def test_tensors_not_matching_the_config_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    path = save_weights(build_model("lite"), tmp_path / "w.safetensors")
    state = load_file(str(path))
    state["decoder_fuse0.body.0.weight"] = torch.zeros(3, 3, 3, 3)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    save_file(state, str(path), metadata=meta)
    with pytest.raises(WeightsError, match="do not match preset 'lite'"):
        load_weights(path)
