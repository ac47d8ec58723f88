"""The ONNX graphs shipped with the bundled weights (issue 31): each matches its SHA-256, names
its weights file, carries the right tiling halo, and equals the torch network within the export
tolerance; a corrupted one is refused; ``critnet --help``'s summaries are the commands' own."""

from __future__ import annotations

import hashlib
import importlib
import shutil

import numpy as np
import pytest
import torch

import critnet
from critnet.cli import SUBCOMMANDS, SUMMARIES
from critnet.errors import WeightsError
from critnet.model.tiled import halos, tiled_forward
from critnet.pipeline.bundled import BundledRuntime
from critnet.pipeline.runtime import HALO_KEY, GraphSession
from critnet.pipeline.tiled_runtime import KINDS, STATS_HALO_KEY
from critnet.weights import (
    BUNDLED_GRAPH_SHA256,
    BUNDLED_SHA256,
    bundled_graph,
    bundled_weights,
    load_weights,
    read_bundled_graph,
)

TOLERANCE = 1e-5  # onnxruntime against torch, as in test_onnx.py
NAMES = sorted(BUNDLED_SHA256)

pytest.importorskip("onnxruntime", reason="onnxruntime not installed")


def test_every_bundled_weights_file_ships_its_graphs():
    """The whole forward and the three tiling graphs, and nothing else."""
    assert NAMES == sorted(bundled_weights())
    assert sorted(BUNDLED_GRAPH_SHA256) == sorted(
        key for name in NAMES for key in (name, *(f"{name}.{kind}" for kind in KINDS)))
    for name in NAMES:
        for kind in ("fuse", *KINDS):
            path = bundled_graph(name, kind)
            assert path is not None
            assert path.name == (f"{name}.onnx" if kind == "fuse" else f"{name}.{kind}.onnx")
            parameters = sum(v.numel() for v in load_weights(name).state_dict().values())
            assert path.stat().st_size < 4 * parameters * 2 + 100_000  # weights, not bloat


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", ["fuse", *KINDS])
def test_graph_matches_its_checksum_and_names_its_weights(name, kind):
    key = name if kind == "fuse" else f"{name}.{kind}"
    data = bundled_graph(name, kind).read_bytes()
    assert hashlib.sha256(data).hexdigest() == BUNDLED_GRAPH_SHA256[key], (
        f"{key}.onnx changed: regenerate with python scripts/export_bundled_graphs.py")
    session = GraphSession(data)
    model = load_weights(name)
    assert session.metadata["weights_sha256"] == BUNDLED_SHA256[name]
    assert session.config == model.config
    stats_halo, out_halo = halos(model, model.default_decoder)
    assert int(session.metadata[HALO_KEY]) == out_halo
    if kind != "fuse":
        assert int(session.metadata[STATS_HALO_KEY]) == stats_halo


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("raw", [False, True])
def test_shipped_tiling_graphs_equal_torch_tiling(name, raw):
    """Two images of a batch, 16-px tiles (ragged at the edges), and one tile of the whole
    image: the torch tiled forward and the untiled forward, within the export tolerance."""
    model = load_weights(name)
    generator = torch.Generator().manual_seed(5)
    ir, vis = (torch.rand(2, 1, 45, 62, generator=generator) for _ in range(2))
    with torch.inference_mode():
        torch_tiled = tiled_forward(model, ir, vis, 16, raw=raw).numpy()
        whole = (model(ir, vis, aux=True).fused if raw else model(ir, vis)).numpy()
    graphs = BundledRuntime(name).tiled_graphs()
    got = graphs(ir.numpy(), vis.numpy(), 16, raw=raw)
    assert np.abs(got - torch_tiled).max() <= TOLERANCE
    assert np.abs(got - whole).max() <= TOLERANCE
    assert np.abs(graphs(ir.numpy(), vis.numpy(), None, raw=raw) - whole).max() <= TOLERANCE


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch, height, width", [(1, 37, 53), (2, 64, 48)])
def test_graph_equals_the_torch_network(name, batch, height, width):
    model = load_weights(name)
    generator = torch.Generator().manual_seed(height)
    ir, vis = (torch.rand(batch, 1, height, width, generator=generator) for _ in range(2))
    with torch.inference_mode():
        expected = model(ir, vis).numpy()
    got = BundledRuntime(name)(ir.numpy(), vis.numpy())
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= TOLERANCE


def test_bundled_auto_model_fuses_like_torch_in_the_pipeline():
    rng = np.random.default_rng(3)
    ir = rng.integers(0, 256, (45, 61), dtype=np.uint8)
    vis = rng.integers(0, 256, (45, 61, 3), dtype=np.uint8)
    auto = critnet.load_model("steep", backend="auto")
    assert isinstance(auto, BundledRuntime)
    got = critnet.fuse(ir, vis, auto)
    expected = critnet.fuse(ir, vis, critnet.load_model("steep"))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1  # 8-bit rounding of 1e-5


def test_corrupted_graph_is_refused(tmp_path, monkeypatch):
    import critnet.weights as weights

    folder = tmp_path / "weights"
    folder.mkdir()
    for name in ("tiny.safetensors", "tiny.onnx", "tiny.tile.onnx"):
        shutil.copy(weights.WEIGHTS_DIR / name, folder / name)
    data = bytearray((folder / "tiny.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "tiny.onnx").write_bytes(bytes(data))
    monkeypatch.setattr(weights, "WEIGHTS_DIR", folder)
    with pytest.raises(WeightsError, match="does not match its shipped SHA-256"):
        read_bundled_graph("tiny")
    data = bytearray((folder / "tiny.tile.onnx").read_bytes())
    data[len(data) // 3] ^= 0xFF
    (folder / "tiny.tile.onnx").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="tiny.tile.onnx: bundled ONNX graph does not match"):
        read_bundled_graph("tiny", "tile")
    with pytest.raises(WeightsError, match="no maps graph of tiled inference is shipped"):
        read_bundled_graph("tiny", "maps")


def test_help_summaries_are_the_commands_own():
    for name, target in SUBCOMMANDS.items():
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert command.get_short_help_str(limit=1000) == SUMMARIES[name], name


def test_bundled_runtime_gives_its_torch_model_when_asked():
    auto = critnet.load_model("tiny", backend="auto")
    expected = load_weights("tiny").state_dict()
    got = auto.torch_model.state_dict()
    assert sorted(got) == sorted(expected)
    assert all(torch.equal(got[k], expected[k]) for k in got)


@pytest.mark.parametrize("name", NAMES)
def test_metadata_is_read_before_the_session_and_picks_the_optimisation(name):
    """``graph_metadata`` (protobuf, no session) reads what onnxruntime reads; the affine form
    (tiny's) asks for ORT_ENABLE_EXTENDED, the dense-block forms for the default ALL."""
    import onnxruntime

    from critnet.pipeline.runtime import OPTIMIZATION_KEY, graph_metadata

    for kind in ("fuse", *KINDS):
        data = read_bundled_graph(name, kind)
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        assert graph_metadata(data) == dict(session.get_modelmeta().custom_metadata_map)
    expected = "extended" if load_weights(name).config.fuse_kernel == 1 else None
    assert graph_metadata(read_bundled_graph(name)).get(OPTIMIZATION_KEY) == expected
    assert graph_metadata(read_bundled_graph(name, "tile")).get(OPTIMIZATION_KEY) == expected
    assert graph_metadata(b"not a graph \xff\x00") == {}
