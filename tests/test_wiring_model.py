"""The network's wiring, pinned: which tensor feeds which module (paper Eq. 2–11).

Each test records, with forward hooks on the named submodules, what a forward pass hands to
each module, and compares it with what the paper's equations say it must be. Any single swap
(Q/K/V source, residual, group, reconstruction target, edge head, concatenation order) fails
at least one test here.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from wiring_helpers import WIRING_PRESETS, close, record, tiny_images, tiny_model

from critnet.model.attention import ChannelCrossAttention

MRL = [f"mrl.{d}.{p}" for d in ("vis_to_ir", "ir_to_vis") for p in ("query", "key", "value", "out")]
SIPRIA_PARTS = ["rec1", "rec2", "edge_encoder1", "edge_encoder2", "edge_decoder1",
                "edge_decoder2", "enhance_decoder"] + [
    f"{d}.{p}" for d in ("grp2_from_grp1", "grp1_from_grp2") for p in ("query", "key", "value",
                                                                        "out")] + [
    "grp2_from_grp1", "grp1_from_grp2"]
SIPRIA = [f"sipria_{m}" for m in ("ir", "vis")] + [
    f"sipria_{m}.{p}" for m in ("ir", "vis") for p in SIPRIA_PARTS]
NAMES = ["encoder_ir", "encoder_vis", "mrl", "mrl.vis_to_ir", "mrl.ir_to_vis", *MRL, *SIPRIA,
         "decoder_fuse", "decoder_fuse0"]


@pytest.fixture(scope="module", params=WIRING_PRESETS)
def model(request):
    return tiny_model(preset=request.param)


@pytest.fixture(scope="module")
def images():
    return tiny_images()


@pytest.fixture(scope="module")
def run(model, images):
    """One full forward pass (``decoder='fuse'``, ``aux=True``) with every module recorded."""
    ir, vis = images
    with torch.no_grad(), record(model, NAMES) as calls:
        outputs = model(ir, vis, decoder="fuse", aux=True)
    return calls, outputs


def features(calls):
    """``F_ir``, ``F_vis`` (encoder outputs) and ``F_vis↔ir``, ``F_ir↔vis`` (MRL outputs)."""
    f_vis_ir, f_ir_vis = calls.output("mrl")
    return calls.output("encoder_ir"), calls.output("encoder_vis"), f_vis_ir, f_ir_vis


# -- II + FE (§3.2.1) -----------------------------------------------------------------------------
def test_each_encoder_reads_its_own_inverted_image(run, images):
    calls, _ = run
    ir, vis = images
    close(calls.input("encoder_ir"), torch.cat([ir, 1 - ir], dim=1))
    close(calls.input("encoder_vis"), torch.cat([vis, 1 - vis], dim=1))


# -- MRL (Eq. 2–3) --------------------------------------------------------------------------------
def test_mrl_vis_to_ir_takes_q_k_from_ir_v_from_vis_and_ir_residual(run):
    """``F_vis↔ir = Conv1×1(softmax(Q_ir K_irᵀ·s) V_vis) + F_ir`` (Eq. 2)."""
    calls, _ = run
    f_ir, f_vis, f_vis_ir, _ = features(calls)
    close(calls.input("mrl.vis_to_ir.query"), f_ir)
    close(calls.input("mrl.vis_to_ir.key"), f_ir)
    close(calls.input("mrl.vis_to_ir.value"), f_vis)
    close(calls.output("mrl.vis_to_ir"), f_vis_ir)
    close(f_vis_ir - calls.output("mrl.vis_to_ir.out"), f_ir)


def test_mrl_ir_to_vis_takes_q_k_from_vis_v_from_ir_and_vis_residual(run):
    """``F_ir↔vis = Conv1×1(softmax(Q_vis K_visᵀ·s) V_ir) + F_vis`` (Eq. 3)."""
    calls, _ = run
    f_ir, f_vis, _, f_ir_vis = features(calls)
    close(calls.input("mrl.ir_to_vis.query"), f_vis)
    close(calls.input("mrl.ir_to_vis.key"), f_vis)
    close(calls.input("mrl.ir_to_vis.value"), f_ir)
    close(calls.output("mrl.ir_to_vis"), f_ir_vis)
    close(f_ir_vis - calls.output("mrl.ir_to_vis.out"), f_vis)


def test_mrl_outputs_feed_the_sipria_of_their_modality(run):
    calls, _ = run
    _, _, f_vis_ir, f_ir_vis = features(calls)
    close(calls.input("sipria_ir"), f_vis_ir)
    close(calls.input("sipria_vis"), f_ir_vis)


# -- attention normalisation ---------------------------------------------------------------------
def identity_attention(channels: int, temperature: float) -> ChannelCrossAttention:
    """Cosine attention whose four 1×1 projections are identities."""
    module = ChannelCrossAttention(channels, "cosine")
    with torch.no_grad():
        for conv in (module.query, module.key, module.value, module.out):
            conv.weight.copy_(torch.eye(channels).view(channels, channels, 1, 1))
            conv.bias.zero_()
        module.temperature.fill_(temperature)
    return module


def test_cosine_attention_known_answer():
    """Orthogonal channels, temperature ln 3: the map is [[3/4, 1/4], [1/4, 3/4]] whatever the
    channels' lengths (cosine along HW), so ``softmax(...)·V`` is known by hand."""
    module = identity_attention(2, math.log(3.0))
    q = torch.tensor([[5.0, 0.0, 0.0], [0.0, 0.5, 0.0]]).view(1, 2, 1, 3)
    v = torch.tensor([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]]).view(1, 2, 1, 3)
    residual = torch.tensor([[10.0, 0.0, 0.0], [0.0, 0.0, 20.0]]).view(1, 2, 1, 3)
    expected_map = torch.tensor([[[0.75, 0.25], [0.25, 0.75]]])
    close(module.attention_map(q, q), expected_map)
    expected = torch.tensor([[1.5 + 10, 2.5, 3.5], [2.5, 3.5, 4.5 + 20]]).view(1, 2, 1, 3)
    close(module(q, q, v, residual=residual), expected)


def test_cosine_attention_matches_the_formula_on_random_features():
    """``softmax(t · cos(Q_i, K_j))`` with cosine along HW, then ``· V``, for Q ≠ K ≠ V."""
    torch.manual_seed(1)
    module = identity_attention(5, 2.5)
    q, k, v, r = torch.randn(4, 2, 5, 3, 7).unbind(0)
    qn = F.normalize(q.flatten(2), dim=-1)
    kn = F.normalize(k.flatten(2), dim=-1)
    attn = (2.5 * qn @ kn.transpose(1, 2)).softmax(dim=-1)
    close(module.attention_map(q, k), attn)
    close(module(q, k, v, residual=r), (attn @ v.flatten(2)).view_as(v) + r)


# -- SIPRIA: groups and RIASSI (Eq. 4) ------------------------------------------------------------
@pytest.mark.parametrize("modality", ["ir", "vis"])
def test_groups_are_disjoint_and_cover_all_channels(model, modality):
    sipria = getattr(model, f"sipria_{modality}")
    channels = model.config.channels
    labelled = torch.arange(channels, dtype=torch.float32).view(1, channels, 1, 1)
    grp1, grp2 = sipria.groups(labelled)
    ids1, ids2 = grp1.flatten().tolist(), grp2.flatten().tolist()
    assert len(ids1) == len(ids2) == channels // 2
    assert not set(ids1) & set(ids2)
    assert sorted(ids1 + ids2) == list(range(channels))
    assert ids1 + ids2 != list(range(channels)), "the channel shuffle is the identity"


def groups_of(model, modality, calls):
    """``(F_grp1, F_grp2)`` of one SIPRIA's recorded input, from its stored permutation."""
    sipria = getattr(model, f"sipria_{modality}")
    shuffled = calls.input(f"sipria_{modality}")[:, sipria.permutation]
    half = shuffled.shape[1] // 2
    return shuffled[:, :half], shuffled[:, half:]


@pytest.mark.parametrize("modality", ["ir", "vis"])
def test_riassi_group1_reconstructs_vis_group2_reconstructs_ir(model, run, modality):
    """``Î_grp2 = D1_rec(F_grp1) ≈ I_vis``, ``Î_grp1 = D2_rec(F_grp2) ≈ I_ir`` (Eq. 4)."""
    calls, outputs = run
    s = f"sipria_{modality}"
    grp1, grp2 = groups_of(model, modality, calls)
    close(calls.input(f"{s}.rec1"), grp1)
    close(calls.input(f"{s}.rec2"), grp2)
    result = getattr(outputs, s)
    close(result.rec_vis, calls.output(f"{s}.rec1"))
    close(result.rec_ir, calls.output(f"{s}.rec2"))


# -- SIP (Eq. 5–6) --------------------------------------------------------------------------------
@pytest.mark.parametrize("modality", ["ir", "vis"])
def test_sip_attention_sources_and_residuals(model, run, modality):
    """``F_en_grp2←grp1``: Q from grp2, K and V from grp1, residual grp1 (Eq. 5);
    ``F_en_grp1←grp2``: Q from grp1, K and V from grp2, residual grp2 (Eq. 6)."""
    calls, _ = run
    s = f"sipria_{modality}"
    grp1, grp2 = groups_of(model, modality, calls)
    for name, query, source in (("grp2_from_grp1", grp2, grp1), ("grp1_from_grp2", grp1, grp2)):
        close(calls.input(f"{s}.{name}.query"), query)
        close(calls.input(f"{s}.{name}.key"), source)
        close(calls.input(f"{s}.{name}.value"), source)
        close(calls.output(f"{s}.{name}") - calls.output(f"{s}.{name}.out"), source)


# -- edges (Eq. 7–8) and the SIPRIA concatenations (Eq. 9–10, 15) --------------------------------
@pytest.mark.parametrize("modality", ["ir", "vis"])
def test_distinct_edge_heads_per_direction(model, run, modality):
    """``E1_ed``/``D1_ed`` on ``F_en_grp2←grp1`` give ``Î1_ed`` (≈ ∇I_ir); ``E2_ed``/``D2_ed`` on
    ``F_en_grp1←grp2`` give ``Î2_ed`` (≈ ∇I_vis) (Eq. 7–8)."""
    calls, outputs = run
    s = f"sipria_{modality}"
    sipria = getattr(model, s)
    close(calls.input(f"{s}.edge_encoder1"), calls.output(f"{s}.grp2_from_grp1"))
    close(calls.input(f"{s}.edge_encoder2"), calls.output(f"{s}.grp1_from_grp2"))
    close(calls.input(f"{s}.edge_decoder1"), calls.output(f"{s}.edge_encoder1"))
    close(calls.input(f"{s}.edge_decoder2"), calls.output(f"{s}.edge_encoder2"))
    result = getattr(outputs, s)
    close(result.edge_ir, calls.output(f"{s}.edge_decoder1"))
    close(result.edge_vis, calls.output(f"{s}.edge_decoder2"))
    ids = [{id(p) for p in getattr(sipria, n).parameters()}
           for n in ("edge_encoder1", "edge_encoder2", "edge_decoder1", "edge_decoder2")]
    assert all(not (a & b) for i, a in enumerate(ids) for b in ids[i + 1:])


@pytest.mark.parametrize("modality", ["ir", "vis"])
def test_sipria_concatenation_order_eq_9_10_and_enhancement_decoder(run, modality):
    """``F_ed = cat(F_ed_grp1←grp2, F_ed_grp2←grp1)`` (Eq. 9), ``F_en = cat(F_en_grp1←grp2,
    F_en_grp2←grp1)`` (Eq. 10), ``Î_sipria = D_en(F_en)`` (Eq. 15)."""
    calls, outputs = run
    s = f"sipria_{modality}"
    result = getattr(outputs, s)
    close(result.f_ed, torch.cat([calls.output(f"{s}.edge_encoder2"),
                                  calls.output(f"{s}.edge_encoder1")], dim=1))
    close(result.f_en, torch.cat([calls.output(f"{s}.grp1_from_grp2"),
                                  calls.output(f"{s}.grp2_from_grp1")], dim=1))
    close(calls.input(f"{s}.enhance_decoder"), result.f_en)
    close(result.image, calls.output(f"{s}.enhance_decoder"))


# -- FRR (Eq. 11) and D_fuse0 ---------------------------------------------------------------------
def test_decoder_fuse_reads_the_six_features_in_eq_11_order(run):
    """``D_fuse(cat(F_vis↔ir, F_ed_ir, F_en_ir, F_ir↔vis, F_ed_vis, F_en_vis))`` (Eq. 11)."""
    calls, outputs = run
    _, _, f_vis_ir, f_ir_vis = features(calls)
    s_ir, s_vis = outputs.sipria_ir, outputs.sipria_vis
    expected = torch.cat([f_vis_ir, s_ir.f_ed, s_ir.f_en, f_ir_vis, s_vis.f_ed, s_vis.f_en], 1)
    close(calls.input("decoder_fuse"), expected)
    close(outputs.fused, calls.output("decoder_fuse"))
    assert not calls.called("decoder_fuse0")


def test_decoder_fuse0_reads_cat_of_the_two_mrl_outputs(model, images):
    ir, vis = images
    with torch.no_grad(), record(model, ["mrl", "decoder_fuse0", "decoder_fuse"]) as calls:
        fused = model(ir, vis, decoder="fuse0")
    f_vis_ir, f_ir_vis = calls.output("mrl")
    close(calls.input("decoder_fuse0"), torch.cat([f_vis_ir, f_ir_vis], dim=1))
    close(fused, calls.output("decoder_fuse0").clamp(0, 1))
    assert not calls.called("decoder_fuse")


def test_default_output_is_the_clamped_d_fuse_output(model, images):
    ir, vis = images
    with torch.no_grad(), record(model, ["decoder_fuse"]) as calls:
        fused = model(ir, vis)
    close(fused, calls.output("decoder_fuse").clamp(0, 1))


def test_without_mrl_the_encoder_features_go_straight_on():
    """``mit=False``: ``F_vis↔ir := F_ir``, ``F_ir↔vis := F_vis`` (ablation switch)."""
    model = tiny_model(mit=False)
    ir, vis = tiny_images(1)
    names = ["encoder_ir", "encoder_vis", "sipria_ir", "sipria_vis"]
    with torch.no_grad(), record(model, names) as calls:
        model(ir, vis)
    close(calls.input("sipria_ir"), calls.output("encoder_ir"))
    close(calls.input("sipria_vis"), calls.output("encoder_vis"))


# -- the real-time shape (preset tiny): separable 3×3 convolutions, 1×1 first D_fuse layer ------
def test_separable_conv_is_a_depthwise_3x3_then_a_1x1():
    """Known answer: a unit impulse in channel 0 comes out as channel 0's own 3×3 filter (and no
    other channel's), mixed across outputs by the 1×1 weights."""
    from critnet.model.blocks import SeparableConv

    conv = SeparableConv(2, 3)
    with torch.no_grad():
        conv.depthwise.weight.copy_(torch.arange(18.0).view(2, 1, 3, 3))
        conv.depthwise.bias.zero_()
        conv.pointwise.weight.copy_(torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
                                    .view(3, 2, 1, 1))
        conv.pointwise.bias.zero_()
    impulse = torch.zeros(1, 2, 5, 5)
    impulse[0, 0, 2, 2] = 1.0
    with torch.no_grad():
        out = conv(impulse)
    flipped = torch.arange(9.0).view(3, 3).flip(0, 1)  # a convolution's response to an impulse
    for k, gain in enumerate((1.0, 2.0, 3.0)):
        close(out[0, k, 1:4, 1:4], gain * flipped)
    assert out[0, :, 0].abs().sum() == 0 and out[0, :, :, 0].abs().sum() == 0


@pytest.mark.skipif("tiny" not in WIRING_PRESETS, reason="the tiny shape is not under test")
def test_tiny_separable_where_its_config_says_and_d_fuse_first_layer_1x1():
    from critnet.model.blocks import SeparableConv

    model = tiny_model(preset="tiny")
    for encoder in (model.encoder_ir, model.encoder_vis):
        assert all(isinstance(layer, SeparableConv) for block in encoder.blocks
                   for layer in block.layers)
        assert not isinstance(encoder.stem, SeparableConv)
    for sipria in (model.sipria_ir, model.sipria_vis):
        assert isinstance(sipria.edge_encoder1.conv, SeparableConv)
        assert isinstance(sipria.edge_encoder2.conv, SeparableConv)
        assert not isinstance(sipria.rec1.conv, SeparableConv)
    for decoder in (model.decoder_fuse, model.decoder_fuse0):
        assert decoder.body[0].kernel_size == (1, 1) and decoder.body[2].kernel_size == (3, 3)


@pytest.mark.parametrize("kernel,radius", [(3, 2), (1, 1)])
def test_fusion_decoder_receptive_radius_follows_its_first_kernel(kernel, radius):
    """Perturb one input pixel: the output changes exactly within the decoder's radius."""
    from critnet.model.blocks import FusionDecoder

    torch.manual_seed(0)
    decoder = FusionDecoder(6, 4, kernel).eval()
    x = torch.rand(1, 6, 11, 11)
    bumped = x.clone()
    bumped[0, :, 5, 5] += 1.0
    with torch.no_grad():
        changed = (decoder(bumped) - decoder(x)).abs()[0, 0] > 0
    rows, cols = torch.nonzero(changed, as_tuple=True)
    assert rows.min() == 5 - radius and rows.max() == 5 + radius
    assert cols.min() == 5 - radius and cols.max() == 5 + radius
