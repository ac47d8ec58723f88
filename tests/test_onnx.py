"""ONNX export and the onnxruntime backend: parity with torch, metadata, CLI, missing extra."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from fusing_helpers import run_cli, seeded_lite
from PIL import Image

import critnet
from critnet.errors import CritnetError, InputError
from critnet.model import build_model
from critnet.pipeline.backends import OnnxRuntimeBackend, make_backend
from critnet.pipeline.export import (
    export_onnx,
    file_sha256,
    onnx_bytes,
    read_onnx_metadata,
    require,
)
from critnet.weights import default_weights_name, resolve_weights

SIZES = [(1, 17, 23), (2, 32, 48), (1, 61, 40)]  # (batch, H, W): odd, batched, portrait


@pytest.fixture(scope="module")
def ort():
    pytest.importorskip("onnx", reason="onnx not installed (pip install 'critnet[onnx]')")
    return pytest.importorskip("onnxruntime",
                               reason="onnxruntime not installed (pip install 'critnet[onnx]')")


@pytest.fixture(scope="module")
def model():
    """The bundled default weights (trained), or a seeded random lite model without them."""
    return critnet.load_model() if default_weights_name() else seeded_lite()


@pytest.fixture(scope="module")
def exported(ort, model, tmp_path_factory):
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "lite.onnx")


@pytest.mark.parametrize("batch,height,width", SIZES)
def test_onnxruntime_matches_torch(exported, model, batch, height, width):
    generator = torch.Generator().manual_seed(height * width)
    ir = torch.rand(batch, 1, height, width, generator=generator)
    vis = torch.rand(batch, 1, height, width, generator=generator)
    with torch.inference_mode():
        expected = model(ir, vis)
    got = OnnxRuntimeBackend(exported, threads=2)(ir, vis)
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() <= 1e-5


def test_backend_threads_do_not_spin(exported):
    """Shipped session settings: blocked-layout optimisations on, worker threads sleep between
    operators (faster on a busy machine, docs/inference.md)."""
    options = OnnxRuntimeBackend(exported, threads=2).session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.graph_optimization_level.name == "ORT_ENABLE_ALL"


def test_sqrt_d_attention_is_refused():
    """Its 1/sqrt(HW) scale would be traced as the example's constant: wrong at other sizes."""
    with pytest.raises(InputError, match="cosine attention only"):
        onnx_bytes(build_model("lite", attention_norm="sqrt_d"))


def test_plain_trace_without_rewrite(ort, model):
    """``rewrite=False`` traces the model as written (the attention norms as ReduceL2): still
    the same function, for comparing against the shipped rewritten graph."""
    import onnx

    graph = onnx_bytes(model, rewrite=False)
    assert "ReduceL2" in {node.op_type for node in onnx.load_from_string(graph).graph.node}
    ir, vis = torch.rand(2, 1, 1, 61, 40, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        expected = model(ir, vis)
    assert (OnnxRuntimeBackend(graph, threads=2)(ir, vis) - expected).abs().max().item() <= 1e-5


def test_export_metadata_and_dynamic_axes(ort, tmp_path):
    import onnx

    name = default_weights_name()
    if name is None:
        pytest.skip("no bundled weights to hash")
    path = resolve_weights(name)
    weights = critnet.load_model(name)
    out = export_onnx(weights, tmp_path / "m.onnx", weights_path=path)
    meta = read_onnx_metadata(out)
    assert meta["format"] == "critnet"
    assert meta["preset"] == weights.config.preset
    assert meta["weights_sha256"] == file_sha256(path)
    assert json.loads(meta["config"]) == weights.config.to_dict()
    graph = onnx.load(str(out)).graph
    for value in (*graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        assert [d.dim_param for d in dims] == ["batch", "", "height", "width"]
        assert dims[1].dim_value == 1
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary left beside it


def test_export_refuses_bad_targets(ort, model, tmp_path):
    with pytest.raises(InputError, match="needs a .onnx file name"):
        export_onnx(model, tmp_path / "m.onx")
    existing = tmp_path / "m.onnx"
    existing.write_bytes(b"keep")
    with pytest.raises(InputError, match="already exists"):
        export_onnx(model, existing)
    assert existing.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_cli_export_and_fuse_with_onnxruntime(ort, tmp_path, capsys):
    if default_weights_name() is None:
        pytest.skip("no bundled weights")
    out = tmp_path / "lite.onnx"
    code, stdout, stderr = run_cli(capsys, "export", "--onnx", out)
    assert code == 0, stderr
    assert "preset lite" in stdout and out.is_file()
    code, _, stderr = run_cli(capsys, "export", "--onnx", out)
    assert code == 2 and stderr.count("\n") == 1 and "already exists" in stderr

    rng = np.random.default_rng(0)
    ir, vis = tmp_path / "ir.png", tmp_path / "vis.png"
    Image.fromarray(rng.integers(0, 256, (24, 36), dtype=np.uint8)).save(ir)
    Image.fromarray(rng.integers(0, 256, (24, 36, 3), dtype=np.uint8)).save(vis)
    outputs = {}
    for backend in ("torch", "onnxruntime"):
        target = tmp_path / f"{backend}.png"
        code, stdout, stderr = run_cli(capsys, "fuse", ir, vis, "-o", target,
                                       "--backend", backend, "--device", "cpu")
        assert code == 0, stderr
        outputs[backend] = np.asarray(Image.open(target)).astype(int)
    assert "onnxruntime fp32" in stdout
    assert np.abs(outputs["torch"] - outputs["onnxruntime"]).max() <= 1  # 8-bit rounding


def test_api_fuse_with_onnxruntime_backend(ort, model):
    rng = np.random.default_rng(1)
    ir = rng.random((20, 28), dtype=np.float32)
    vis = rng.random((20, 28, 3), dtype=np.float32)
    backend = make_backend(model, "onnxruntime", threads=2)
    got = critnet.fuse(ir, vis, backend)
    expected = critnet.fuse(ir, vis, model)
    assert got.shape == expected.shape == (20, 28, 3)
    assert np.abs(got - expected).max() <= 1e-5


def test_onnxruntime_refuses_half_precision(ort, model):
    with pytest.raises(InputError, match="needs the torch backend"):
        make_backend(model, "onnxruntime", "bf16")


def test_missing_extra_is_one_line_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    with pytest.raises(CritnetError, match=r"pip install 'critnet\[onnx\]'") as info:
        require("onnxruntime")
    assert "\n" not in str(info.value)


def test_unloadable_onnx_file_is_named(ort, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(InputError, match=f"{bad}: not a loadable ONNX model"):
        OnnxRuntimeBackend(bad)
    with pytest.raises(InputError, match=f"{bad}: not a readable ONNX file"):
        read_onnx_metadata(bad)


def test_backends_refuse_tiling_instead_of_ignoring_it(exported, model, monkeypatch):
    """Exact tiling runs on the torch fp32 path only: a backend given a tile size, or an image
    too large to fuse whole under ``auto``, is refused in one line (it was silently fused
    whole, or left to run out of memory)."""
    from critnet.model import tiled
    from critnet.pipeline.fusion import fuse_tensors

    ir, vis = torch.rand(1, 1, 40, 56), torch.rand(1, 1, 40, 56)
    backends = [OnnxRuntimeBackend(exported, threads=2), make_backend(model, "torch", "bf16")]
    for backend in backends:
        with pytest.raises(InputError, match="tile 32: tiled inference runs on the torch"):
            fuse_tensors(backend, ir, vis, tile=32)
        assert fuse_tensors(backend, ir, vis, tile="auto").shape == (1, 1, 40, 56)
    need = tiled.untiled_bytes_per_pixel(model) * 40 * 56
    monkeypatch.setattr(tiled, "available_bytes", lambda: need)  # half of it is the limit
    for backend in backends:
        with pytest.raises(InputError, match=r"56×40: too large to fuse whole here"):
            fuse_tensors(backend, ir, vis, tile="auto")
        assert fuse_tensors(backend, ir, vis, tile="off").shape == (1, 1, 40, 56)
    assert fuse_tensors(model, ir, vis, tile="auto").shape == (1, 1, 40, 56)  # torch: tiles
