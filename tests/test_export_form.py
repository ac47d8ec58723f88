"""The export forms (critnet.pipeline.export_form, export_affine): same outputs as the model, model
untouched, each rewrite exact on its own, the rewrites really in the traced graph."""

from __future__ import annotations

import pytest
import torch
from fusing_helpers import seeded_lite

from critnet.model import build_model
from critnet.model.attention import attention_statistics
from critnet.model.blocks import SeparableConv
from critnet.pipeline.export import export_form
from critnet.pipeline.export_affine import AffineForm, moments_of
from critnet.pipeline.export_form import (
    FoldedSipria,
    InferenceForm,
    ProjectedStatistics,
    source_gram,
)
from critnet.pipeline.export_split import SplitConv

SIZES = [(1, 17, 23), (2, 32, 48), (1, 61, 40)]  # (batch, H, W), as tests/test_onnx.py


def _images(batch: int, height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(height * width)
    return (torch.rand(batch, 1, height, width, generator=generator),
            torch.rand(batch, 1, height, width, generator=generator))


def _seeded(preset: str, **overrides) -> torch.nn.Module:
    """A seeded random model whose biases and weights are all away from their initial values
    (so no folded term is zero by accident)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(preset, **overrides).eval()
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.05 * torch.randn_like(parameter))
    return model


@pytest.mark.parametrize("preset,form_class", [("lite", InferenceForm), ("tiny", AffineForm)])
@pytest.mark.parametrize("batch,height,width", SIZES)
def test_export_form_fuses_like_the_model(preset, form_class, batch, height, width):
    model = seeded_lite() if preset == "lite" else _seeded(preset)
    ir, vis = _images(batch, height, width)
    form = export_form(model)
    assert type(form) is form_class
    with torch.inference_mode():
        # The Gram form rounds differently from summing q·k directly; measured ≤ 7e-7.
        assert (form(ir, vis) - model(ir, vis)).abs().max().item() <= 2e-6


@pytest.mark.parametrize("preset,overrides", [
    ("lite", {"mit": False}), ("lite", {"sipria": False}), ("lite", {"separable": True}),
    ("lite", {"fuse_kernel": 1}), ("tiny", {"mit": False}), ("tiny", {"sipria": False}),
    ("tiny", {"separable": False, "n_dense": 2, "n_rdb": 2}),
])
def test_export_form_of_other_shapes(preset, overrides):
    model = _seeded(preset, **overrides)
    ir, vis = _images(2, 20, 24)
    with torch.inference_mode():
        assert (export_form(model)(ir, vis) - model(ir, vis)).abs().max().item() <= 2e-6


@pytest.mark.parametrize("make,sizes,identity", [
    (lambda: torch.nn.Conv2d(12, 5, 3, padding=1), [4, 8], False),
    (lambda: torch.nn.Conv2d(10, 4, 1), [4, 3, 3], True),
    (lambda: SeparableConv(9, 6), [3, 6], False),
])
def test_split_conv_is_the_conv_of_the_concatenation(make, sizes, identity):
    torch.manual_seed(1)
    conv = make()
    with torch.no_grad():
        for parameter in conv.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    parts = [torch.randn(2, size, 9, 11) for size in sizes]
    with torch.inference_mode():
        expected = conv(torch.cat(parts, dim=1)) + (parts[0] if identity else 0)
        got = SplitConv(conv, sizes, identity_first=identity)(parts)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("preset", ["lite", "tiny"])
def test_folded_sipria_gives_eq_9_and_10_features(preset):
    sipria = _seeded(preset).sipria_vis
    features = torch.randn(2, sipria.permutation.numel(), 9, 11)
    with torch.inference_mode():
        expected = sipria(features)
        f_ed, f_en = FoldedSipria(sipria)(features)
    torch.testing.assert_close(f_en, expected.f_en, rtol=0, atol=1e-5)
    torch.testing.assert_close(f_ed, expected.f_ed, rtol=0, atol=1e-5)


def test_moments_of_an_affine_map_of_z():
    z = torch.randn(2, 6, 7, 5, dtype=torch.float64)
    projection, offset = torch.randn(2, 4, 6, dtype=torch.float64), torch.randn(2, 4,
                                                                               dtype=torch.float64)
    f = (projection @ z.flatten(2)).view(2, 4, 7, 5) + offset[:, :, None, None]
    gram, sums, pixels = source_gram(z)
    got_gram, got_sums = moments_of(projection, offset, gram, sums, pixels)
    want_gram, want_sums, _ = source_gram(f)
    torch.testing.assert_close(got_gram, want_gram)
    torch.testing.assert_close(got_sums, want_sums)


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
    assert isinstance(form.sipria_ir, FoldedSipria)
    assert form.encoder_ir is not model.encoder_ir  # the rewrite is on a copy only
    assert model.encoder_ir.stem.weight.is_contiguous(memory_format=torch.channels_last)
    after = model.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


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
    # no feature map is concatenated (II's two channels are the only Concat on images), and
    # only D_fuse and the edge encoders end in tanh: the loss-only heads are not computed
    inferred = onnx.shape_inference.infer_shapes(onnx.load_from_string(onnx_bytes(seeded_lite())))
    rank = {value.name: len(value.type.tensor_type.shape.dim)
            for value in inferred.graph.value_info}
    image_concats = [node.name for node in graph.node if node.op_type == "Concat"
                     and rank.get(node.output[0]) == 4]
    assert len(image_concats) == 2  # cat(I, 1 - I) of each image, nothing else
    assert ops.count("Tanh") == 3  # two E_ed block-diagonal convolutions and D_fuse
