"""``--backend auto``: onnxruntime when installed, torch otherwise, the exported graph cached on
disk per weights and versions (hit, corrupted, stale, unwritable), torch for what the graph
does not do (tiles, half precision, sqrt_d attention, the raw decoder output)."""

from __future__ import annotations

import json
import sys

import numpy as np
import platformdirs
import pytest
import torch
from fusing_helpers import make_weights, run_cli
from PIL import Image

import critnet
from critnet.model import CRITNet, build_model
from critnet.pipeline import export, graph_cache
from critnet.pipeline.backends import AutoBackend, TorchBackend, make_backend
from critnet.pipeline.fusion import fuse_tensors

TOLERANCE = 1e-5  # onnxruntime against torch, as in test_onnx.py


@pytest.fixture
def ort():
    pytest.importorskip("onnx", reason="onnx not installed (pip install 'critnet[onnx]')")
    return pytest.importorskip("onnxruntime",
                               reason="onnxruntime not installed (pip install 'critnet[onnx]')")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv(graph_cache.CACHE_ENV, str(root))
    return root / "graphs"


@pytest.fixture
def exports(monkeypatch):
    """Counts real exports (each call of onnx_bytes)."""
    calls = []
    real = export.onnx_bytes
    monkeypatch.setattr(export, "onnx_bytes", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return make_weights(tmp_path_factory.mktemp("weights") / "lite.safetensors")


def _pair(height: int = 29, width: int = 37, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 1, height, width, generator=generator),
            torch.rand(1, 1, height, width, generator=generator))


def _fused(model) -> torch.Tensor:
    with torch.inference_mode():
        return model(*_pair())


def test_auto_matches_torch_and_exports_once_per_weights(ort, cache, exports, weights):
    notes = []
    first = critnet.load_model(weights, backend="auto")
    assert isinstance(first, AutoBackend)
    first.note = notes.append
    expected = _fused(first.torch_model)
    got = _fused(first)
    assert (got - expected).abs().max().item() <= TOLERANCE
    assert len(exports) == 1 and len(notes) == 1 and "exporting the lite network" in notes[0]
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".onnx"]
    record = json.loads(next(cache.glob("*.json")).read_text())
    assert record["key"]["weights_sha256"] == export.file_sha256(weights)

    again = critnet.load_model(weights, backend="auto")  # as a second process would
    again.note = notes.append
    assert torch.equal(_fused(again), got)
    assert len(exports) == 1 and len(notes) == 1  # a cache hit: no export, no note


@pytest.mark.parametrize("damage", ["graph_bytes", "graph_truncated", "record", "record_key"])
def test_corrupted_cache_entry_is_rebuilt(ort, cache, exports, weights, damage):
    expected = _fused(critnet.load_model(weights, backend="auto"))
    graph = next(cache.glob("*.onnx"))
    record = graph.with_suffix(".json")
    if damage == "graph_bytes":
        data = bytearray(graph.read_bytes())
        data[len(data) // 2] ^= 0xFF  # one flipped byte: still parses, wrong weights
        graph.write_bytes(bytes(data))
    elif damage == "graph_truncated":
        graph.write_bytes(graph.read_bytes()[:1000])
    elif damage == "record":
        record.write_text("{not json")
    else:
        entry = json.loads(record.read_text())
        entry["key"]["onnxruntime"] = "0.0"
        record.write_text(json.dumps(entry))
    assert torch.equal(_fused(critnet.load_model(weights, backend="auto")), expected)
    assert len(exports) == 2
    assert graph_cache.load_cached(json.loads(record.read_text())["key"]) == graph.read_bytes()


def test_stale_key_is_rebuilt_and_the_old_entry_dropped(ort, cache, exports, weights,
                                                        monkeypatch):
    _fused(critnet.load_model(weights, backend="auto"))
    old = sorted(p.name for p in cache.iterdir())
    monkeypatch.setattr(graph_cache, "critnet_version", lambda: "999.0")  # a new release
    _fused(critnet.load_model(weights, backend="auto"))
    new = sorted(p.name for p in cache.iterdir())
    assert len(exports) == 2 and len(new) == 2 and not set(old) & set(new)
    assert all(name.startswith(old[0].split("-")[0]) for name in new)  # same weights prefix
    monkeypatch.setattr(graph_cache, "code_sha256", lambda: "0" * 64)  # the network's code edited
    _fused(critnet.load_model(weights, backend="auto"))
    assert len(exports) == 3 and len(list(cache.iterdir())) == 2


def test_other_weights_get_their_own_entry(ort, cache, exports, weights, tmp_path):
    other = make_weights(tmp_path / "other.safetensors", seed=1)
    a = _fused(critnet.load_model(weights, backend="auto"))
    b = _fused(critnet.load_model(other, backend="auto"))
    assert len(exports) == 2 and len(list(cache.glob("*.onnx"))) == 2
    assert (a - b).abs().max().item() > 1e-3


def test_unwritable_cache_still_fuses(ort, tmp_path, monkeypatch, exports, weights):
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache folder cannot be created under a file")
    monkeypatch.setenv(graph_cache.CACHE_ENV, str(blocker))
    model = critnet.load_model(weights, backend="auto")
    assert (_fused(model) - _fused(model.torch_model)).abs().max().item() <= TOLERANCE
    assert len(exports) == 1 and blocker.read_text().startswith("the cache")


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv(graph_cache.CACHE_ENV, str(tmp_path))
    assert graph_cache.cache_dir() == tmp_path / "graphs"
    monkeypatch.delenv(graph_cache.CACHE_ENV)
    expected = platformdirs.user_cache_dir("critnet", appauthor=False)
    assert graph_cache.cache_dir() == type(tmp_path)(expected) / "graphs"


def test_auto_is_torch_without_onnxruntime(monkeypatch, weights):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    model = critnet.load_model(weights, backend="auto")
    assert isinstance(model, CRITNet)
    assert isinstance(critnet.load_model(weights, backend="auto", precision="bf16"),
                      TorchBackend)


def test_auto_uses_torch_where_onnxruntime_cannot(ort, cache, exports, weights):
    """Half precision and sqrt_d attention get the torch path; the raw decoder output runs on
    the wrapped torch model: the same result as torch, bit for bit, and no export."""
    assert isinstance(critnet.load_model(weights, backend="auto", precision="bf16"),
                      TorchBackend)
    sqrt_d = build_model("lite", attention_norm="sqrt_d").eval()
    assert make_backend(sqrt_d, "auto") is sqrt_d
    auto = critnet.load_model(weights, backend="auto")
    ir, vis = _pair(40, 56)
    options = {"tile": "off", "normalize": "minmax"}
    assert torch.equal(fuse_tensors(auto, ir, vis, **options),
                       fuse_tensors(auto.torch_model, ir, vis, **options))
    assert exports == []
    whole = fuse_tensors(auto, ir, vis, tile="auto")
    assert len(exports) == 1
    assert (whole - fuse_tensors(auto.torch_model, ir, vis)).abs().max().item() <= TOLERANCE


@pytest.mark.parametrize("raw", [False, True])
def test_auto_tiles_on_onnxruntime_like_torch(ort, cache, exports, weights, raw):
    """Tiles run on the three tiling graphs (critnet.pipeline.tiled_onnx), within the ONNX
    tolerance of torch tiling and of the untiled forward; ablated networks tile on torch."""
    from critnet.model.tiled import tiled_forward

    auto = critnet.load_model(weights, backend="auto")
    ir, vis = _pair(45, 62, seed=3)
    got = auto.tiled_forward(ir, vis, 16, raw=raw)
    with torch.inference_mode():
        torch_tiled = tiled_forward(auto.torch_model, ir, vis, 16, raw=raw)
        whole = auto.torch_model(ir, vis, aux=True).fused if raw else auto.torch_model(ir, vis)
    assert (got - torch_tiled).abs().max().item() <= TOLERANCE
    assert (got - whole).abs().max().item() <= TOLERANCE
    assert len(exports) == 0  # the tiling graphs are built by their own exporter, not onnx_bytes
    kinds = sorted(json.loads(p.read_text())["key"]["graph"] for p in cache.glob("*.json"))
    assert kinds == ["maps", "moments", "tile"]
    again = critnet.load_model(weights, backend="auto")
    notes = []
    again.note = notes.append
    assert torch.equal(again.tiled_forward(ir, vis, 16, raw=raw), got)
    assert notes == []  # all three from the cache
    ablated = make_backend(build_model("lite", sipria=False).eval(), "auto")
    with torch.inference_mode():
        expected = tiled_forward(ablated.torch_model, ir, vis, 16)
    assert torch.equal(ablated.tiled_forward(ir, vis, 16), expected)


def test_cli_defaults_to_auto_and_tiles_under_it(ort, cache, exports, capsys, tmp_path, weights):
    generator = np.random.default_rng(2)
    ir, vis = tmp_path / "ir.png", tmp_path / "vis.png"
    Image.fromarray(generator.integers(0, 256, (66, 80), dtype=np.uint8)).save(ir)
    Image.fromarray(generator.integers(0, 256, (66, 80, 3), dtype=np.uint8)).save(vis)
    outputs = {}
    for name, extra in (("auto", ()), ("torch", ("--backend", "torch")),
                        ("tiled", ("--tile", "64"))):
        out = tmp_path / f"{name}.png"
        code, stdout, stderr = run_cli(capsys, "fuse", ir, vis, "-o", out, "--weights", weights,
                                       "--device", "cpu", *extra)
        assert code == 0, stderr
        outputs[name] = np.asarray(Image.open(out), dtype=np.int16)
        if name == "auto":
            assert "onnxruntime fp32 (auto)" in stdout
    assert len(exports) == 1  # one whole-frame export; the tiled run adds the tiling graphs
    assert np.abs(outputs["auto"] - outputs["torch"]).max() <= 1  # 8-bit rounding of ≤1e-5
    assert np.abs(outputs["tiled"] - outputs["torch"]).max() <= 1


@pytest.mark.parametrize("name", ["lite", "steep", "tiny"])
def test_every_bundled_model_tiles_on_onnxruntime_like_untiled(ort, cache, name):
    """Each shipped shape's export form (tiny's is the affine form, whose encoder graph must
    still give F_ir and F_vis apart) through both tiling graphs (bundled weights load as their
    shipped graph; tiles go to the torch side's auto backend)."""
    auto = critnet.load_model(name, backend="auto").torch_backend()
    ir, vis = _pair(41, 58, seed=5)
    got = auto.tiled_forward(ir, vis, 16)
    with torch.inference_mode():
        whole = auto.torch_model(ir, vis)
    assert (got - whole).abs().max().item() <= TOLERANCE


@pytest.mark.slow
def test_the_paper_size_network_fuses_through_every_inference_path(ort, cache, tmp_path):
    """Issue 30: the paper's C = 64 network (seeded random weights until the trained ones ship)
    on onnxruntime whole-frame, onnxruntime tiled, and the torch backend tiled, all equal to the
    torch model's whole-frame output within the export tolerance."""
    from critnet.model.tiled import tiled_forward

    weights = make_weights(tmp_path / "paper.safetensors", preset="paper", seed=4)
    auto = critnet.load_model(weights, backend="auto")
    assert auto.torch_model.config.channels == 64
    ir, vis = _pair(37, 50, seed=6)
    with torch.inference_mode():
        whole = auto.torch_model(ir, vis)
    assert whole.std().item() > 1e-3  # an image, not a constant
    for got in (auto.forward(ir, vis), auto.tiled_forward(ir, vis, 24),
                tiled_forward(auto.torch_model, ir, vis, 24)):
        assert got.shape == whole.shape
        assert (got - whole).abs().max().item() <= TOLERANCE
