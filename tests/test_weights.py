"""Weights files: safetensors round trip and clear errors for bad files and names."""

import warnings

import numpy as np
import pytest
import torch

from critnet.errors import WeightsError, WeightsWarning
from critnet.model import build_model
from critnet.weights import (
    bundled_weights,
    load_weights,
    read_metadata,
    resolve_weights,
    save_weights,
)


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
    if "paper" not in bundled_weights():  # until the paper-size run ships (issue 30)
        with pytest.raises(WeightsError, match="'paper' are not bundled yet: .*training"):
            resolve_weights("paper")
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


def _data_start(path) -> int:
    """Offset of a safetensors file's tensor data (after the 8-byte length and the header)."""
    return 8 + int.from_bytes(path.read_bytes()[:8], "little")


def test_flipped_tensor_bytes_are_refused_naming_the_file(tmp_path):
    path = save_weights(build_model("lite"), tmp_path / "w.safetensors")
    data = bytearray(path.read_bytes())
    start = _data_start(path)
    offsets = np.random.default_rng(0).choice(len(data) - start, 2000, replace=False) + start
    for offset in offsets:
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"w\.safetensors: tensor data does not match its "
                                           r"checksum") as error:
        load_weights(path)
    assert "\n" not in str(error.value)


def test_one_flipped_bit_is_refused(tmp_path):
    path = save_weights(build_model("lite"), tmp_path / "w.safetensors")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum"):
        load_weights(path)


def test_nan_or_inf_tensors_are_refused(tmp_path):
    for value in (float("nan"), float("inf")):
        model = build_model("lite")
        with torch.no_grad():
            model.decoder_fuse.body[0].weight[0, 0, 0, 0] = value
        path = save_weights(model, tmp_path / "w.safetensors")
        with pytest.raises(WeightsError, match=r"'decoder_fuse\.body\.0\.weight' holds NaN"):
            load_weights(path)


def test_weights_without_a_checksum_load_with_a_warning(tmp_path):
    from safetensors.torch import load_file, save_file

    path = save_weights(build_model("lite"), tmp_path / "w.safetensors")
    meta = read_metadata(path)
    del meta["tensors_sha256"]
    save_file(load_file(str(path)), str(path), metadata=meta)
    with pytest.warns(WeightsWarning, match=r"w\.safetensors: no tensor checksum"):
        load_weights(path)


def test_saved_weights_load_without_warnings(tmp_path):
    path = save_weights(build_model("lite"), tmp_path / "w.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_weights(path)


def test_every_bundled_file_has_a_shipped_hash_and_a_checksum():
    from critnet.weights import BUNDLED_SHA256, bundled_weights
    from critnet.weights.integrity import file_sha256

    assert bundled_weights(), "no bundled weights"
    for name, path in bundled_weights().items():
        assert file_sha256(path) == BUNDLED_SHA256[name], name
        assert "tensors_sha256" in read_metadata(path), name
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            load_weights(name)


def test_bundled_file_not_matching_its_shipped_hash_is_refused(monkeypatch):
    import critnet.weights as weights

    monkeypatch.setitem(weights.BUNDLED_SHA256, "lite", "0" * 64)  # as if the file had changed
    with pytest.raises(WeightsError, match=r"lite\.safetensors: bundled weights file does not "
                                           r"match its shipped SHA-256"):
        load_weights("lite")


def test_weights_record_their_decoder_and_load_with_it(tmp_path):
    """A snapshot saved before the first phaseM stage-2 block (D_fuse untrained) fuses with
    D_fuse0 after loading; a full model with D_fuse."""
    model = build_model("lite", channels=8, growth=8).eval()
    ir, vis = torch.rand(1, 1, 12, 10), torch.rand(1, 1, 12, 10)
    for decoder in ("fuse0", "fuse"):
        path = save_weights(model, tmp_path / f"{decoder}.safetensors", decoder=decoder)
        assert read_metadata(path)["decoder"] == decoder
        loaded = load_weights(path)
        assert loaded.default_decoder == decoder
        with torch.no_grad():
            torch.testing.assert_close(loaded(ir, vis), model(ir, vis, decoder=decoder),
                                       rtol=0, atol=1e-6)
    resaved = save_weights(load_weights(tmp_path / "fuse0.safetensors"), tmp_path / "again.st")
    assert read_metadata(resaved)["decoder"] == "fuse0"


def test_weights_without_a_decoder_key_keep_the_config_default(tmp_path):
    from safetensors.torch import load_file, save_file

    for sipria, expected in ((True, "fuse"), (False, "fuse0")):
        path = save_weights(build_model("lite", sipria=sipria), tmp_path / "w.safetensors")
        meta = read_metadata(path)
        del meta["decoder"]
        save_file(load_file(str(path)), str(path), metadata=meta)
        assert load_weights(path).default_decoder == expected


def test_invalid_decoder_in_metadata_is_refused(tmp_path):
    path = save_weights(build_model("lite", sipria=False), tmp_path / "w.safetensors",
                        decoder="fuse")
    with pytest.raises(WeightsError, match="invalid decoder 'fuse'"):
        load_weights(path)


def test_the_paper_weights_are_the_paper_network_trained_to_the_end():
    """``load_model("paper")`` (issue 30): the paper preset (C = G = 64, 864,914 parameters),
    fusing with the trained ``D_fuse``, from the end of the 6,000-step MPTP run its model card
    describes, and every bundled file has a model card."""
    import critnet
    from critnet.weights import WEIGHTS_DIR, bundled_weights

    model = critnet.load_model("paper")
    assert model.config.preset == "paper"
    assert (model.config.channels, model.config.growth) == (64, 64)
    assert sum(p.numel() for p in model.parameters()) == 864_914
    assert model.default_decoder == "fuse"
    metadata = read_metadata(bundled_weights()["paper"])
    assert (metadata["step"], metadata["block"], metadata["phase"]) == ("6000", "4", "M2")
    assert metadata["config_name"] == "paper_cpu"
    for name in bundled_weights():
        card = (WEIGHTS_DIR / f"{name}.md").read_text()
        assert card.startswith(f"# `{name}`"), name
