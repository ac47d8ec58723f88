"""The export form (critnet.pipeline.export_form): same outputs as the model, model untouched, the
rewrites really in the traced graph."""

from __future__ import annotations

import pytest
import torch
from fusing_helpers import seeded_lite

from critnet.model import build_model
from critnet.model.attention import attention_statistics
from critnet.pipeline.export_form import GramSipria, ProjectedStatistics, export_form, source_gram

SIZES = [(1, 17, 23), (2, 32, 48), (1, 61, 40)]  # (batch, H, W), as tests/test_onnx.py


def _images(batch: int, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(height * width)
    return (torch.rand(batch, 1, height, width, generator=generator),
            torch.rand(batch, 1, height, width, generator=generator))


@pytest.mark.parametrize("batch,height,width", SIZES)
def test_export_form_fuses_like_the_model(batch, height, width):
    model = seeded_lite()
    ir, vis = _images(batch, height, width)
    with torch.inference_mode():
        # The Gram form rounds differently from summing q·k directly; measured ≤ 7e-7.
        assert (export_form(model)(ir, vis) - model(ir, vis)).abs().max().item() <= 2e-6


@pytest.mark.parametrize("overrides", [{"mit": False}, {"sipria": False}])
def test_export_form_of_ablated_models(overrides):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model("lite", **overrides).eval()
    ir, vis = _images(1, 20, 24)
    with torch.inference_mode():
        assert (export_form(model)(ir, vis) - model(ir, vis)).abs().max().item() <= 2e-6


def test_sqrt_d_attention_keeps_the_models_path():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model("lite", attention_norm="sqrt_d").eval()
    form = export_form(model)
    assert type(form.mrl) is type(model.mrl) and type(form.sipria_ir) is type(model.sipria_ir)
    ir, vis = _images(1, 20, 24)
    with torch.inference_mode():
        assert torch.equal(form(ir, vis), model(ir, vis))


def test_constant_images_stay_finite():
    """Flat images make features constant over the pixels, the case where a norm from the
    Gram expansion could round below zero."""
    model = seeded_lite()
    for level in (0.0, 0.5, 1.0):
        ir, vis = torch.full((1, 1, 16, 20), level), torch.full((1, 1, 16, 20), 1.0 - level)
        with torch.inference_mode():
            got = export_form(model)(ir, vis)
            assert torch.isfinite(got).all()
            assert (got - model(ir, vis)).abs().max().item() <= 2e-6


def test_export_form_leaves_the_model_unchanged():
    model = seeded_lite().to(memory_format=torch.channels_last)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    form = export_form(model)
    assert isinstance(form.sipria_ir, GramSipria)
    assert "groups" not in vars(model.sipria_ir)  # the rewrite is on the copy only
    assert model.encoder_ir.stem.weight.is_contiguous(memory_format=torch.channels_last)
    after = model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


def test_groups_by_convolution_are_exact():
    model = seeded_lite()
    features = torch.randn(2, 16, 9, 11)
    gram_sipria = export_form(model).sipria_vis
    with torch.inference_mode():
        for got, expected in zip(gram_sipria.groups(features), model.sipria_vis.groups(features),
                                 strict=True):
            assert torch.equal(got, expected)


def test_projected_statistics_match_the_direct_sums():
    attention = seeded_lite().sipria_ir.grp2_from_grp1
    features = torch.randn(2, 16, 12, 10)
    query_channels, key_channels = torch.arange(8, 16), torch.arange(8)  # grp2, grp1
    with torch.inference_mode():
        got = ProjectedStatistics(attention, 16, query_channels, key_channels)(
            *source_gram(features))
        expected = attention.statistics(features[:, 8:], features[:, :8])
        direct = attention_statistics(attention.query(features[:, 8:]),
                                      attention.key(features[:, :8]))
    for name in ("products", "query_sq", "key_sq"):
        torch.testing.assert_close(getattr(got, name), getattr(expected, name),
                                   rtol=1e-5, atol=1e-4)
        assert torch.equal(getattr(expected, name), getattr(direct, name))


def test_exported_graph_has_the_rewrites():
    onnx = pytest.importorskip("onnx", reason="onnx not installed (pip install 'critnet[onnx]')")
    from critnet.pipeline.export import onnx_bytes

    graph = onnx.load_from_string(onnx_bytes(seeded_lite())).graph
    ops = [node.op_type for node in graph.node]
    assert "ReduceL2" not in ops  # norms come from the Gram
    permutations = {"model.sipria_ir.permutation", "model.sipria_vis.permutation"}
    gathered = {name for node in graph.node if node.op_type == "Gather" for name in node.input}
    assert not gathered & permutations  # no channel shuffle by Gather
