"""The network keeps any H×W and returns every auxiliary output the losses need."""

import pytest
import torch

from critnet.model import FusionOutputs, build_model


@pytest.fixture(scope="module")
def lite():
    torch.manual_seed(0)
    return build_model("lite").eval()


@pytest.mark.parametrize("size", [(1, 1), (1, 57), (33, 1), (17, 29), (64, 48), (31, 31)])
def test_output_has_exactly_the_input_size(lite, size):
    ir, vis = torch.rand(2, 1, 1, *size).unbind(0)
    with torch.inference_mode():
        fused = lite(ir, vis)
    assert fused.shape == (1, 1, *size)
    assert fused.min() >= 0 and fused.max() <= 1


def test_paper_preset_keeps_odd_sizes():
    model = build_model("paper").eval()
    ir, vis = torch.rand(2, 2, 1, 13, 7).unbind(0)
    with torch.inference_mode():
        assert model(ir, vis).shape == (2, 1, 13, 7)


def test_aux_outputs_cover_every_loss_input(lite):
    ir, vis = torch.rand(2, 2, 1, 9, 11).unbind(0)
    out = lite(ir, vis, aux=True)
    assert isinstance(out, FusionOutputs)
    assert out.fused.shape == (2, 1, 9, 11)
    c, e = lite.config.channels, lite.config.edge_channels
    for branch in (out.sipria_ir, out.sipria_vis):
        for image in (branch.rec_ir, branch.rec_vis, branch.edge_ir, branch.edge_vis, branch.image):
            assert image.shape == (2, 1, 9, 11)
        assert branch.f_en.shape == (2, c, 9, 11)
        assert branch.f_ed.shape == (2, 2 * e, 9, 11)


def test_stage_one_decoder_skips_sipria(lite):
    ir, vis = torch.rand(2, 1, 1, 8, 8).unbind(0)
    out = lite(ir, vis, decoder="fuse0", aux=False)
    assert out.shape == (1, 1, 8, 8)
    aux = lite(ir, vis, decoder="fuse0", aux=True)
    assert aux.sipria_ir is not None  # aux asks for SIPRIA outputs even on the stage-1 path


def test_unclamped_output_is_returned_for_losses(lite):
    ir, vis = torch.rand(2, 1, 1, 8, 8).unbind(0)
    out = lite(ir, vis, aux=True)
    torch.testing.assert_close(out.fused.clamp(0, 1), lite(ir, vis))


@pytest.mark.parametrize("overrides", [{"mit": False}, {"sipria": False}, {"edge_width": 3},
                                       {"n_rdb": 2, "n_dense": 2}, {"attention_norm": "sqrt_d"}])
def test_options_build_and_run(overrides):
    model = build_model("lite", **overrides)
    ir, vis = torch.rand(2, 1, 1, 10, 12).unbind(0)
    assert model(ir, vis).shape == (1, 1, 10, 12)


def test_ablated_sipria_has_no_sipria_modules():
    model = build_model("lite", sipria=False)
    assert model.sipria_ir is None and model.decoder_fuse is None
    assert model.default_decoder == "fuse0"
    with pytest.raises(ValueError, match="needs SIPRIA"):
        model(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 4), decoder="fuse")


def test_ablated_mit_passes_encoder_features_through():
    model = build_model("lite", mit=False)
    assert model.mrl is None
    ir, vis = torch.rand(2, 1, 1, 6, 6).unbind(0)
    f_vis_ir, f_ir_vis = model.transfer(ir, vis)
    torch.testing.assert_close(f_vis_ir, model.encoder_ir(torch.cat([ir, 1 - ir], 1)))
    torch.testing.assert_close(f_ir_vis, model.encoder_vis(torch.cat([vis, 1 - vis], 1)))


def test_mismatched_inputs_are_refused(lite):
    with pytest.raises(ValueError, match="equal shape"):
        lite(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 5))
    with pytest.raises(ValueError, match="B×1×H×W"):
        lite(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4))


def test_odd_channel_count_is_refused():
    with pytest.raises(ValueError, match="even"):
        build_model("lite", channels=15)


def test_inference_path_equals_the_training_path():
    """The dense blocks use a preallocated buffer without autograd; results must not change."""
    torch.manual_seed(1)
    model = build_model("lite", n_rdb=2).eval()
    ir, vis = torch.rand(2, 1, 1, 21, 19).unbind(0)
    with torch.enable_grad():
        reference = model(ir, vis)
    with torch.inference_mode():
        fast = model(ir, vis)
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-6)


def test_d_fuse_warm_start_reproduces_d_fuse0():
    torch.manual_seed(2)
    model = build_model("lite", edge_width=5)
    model.init_fuse_from_fuse0()
    ir, vis = torch.rand(2, 1, 1, 11, 13).unbind(0)
    with torch.no_grad():
        torch.testing.assert_close(model(ir, vis, decoder="fuse"), model(ir, vis, decoder="fuse0"))
    out = model(ir, vis, decoder="fuse", aux=True)
    out.fused.square().mean().backward()
    c, e = model.config.channels, model.config.edge_channels
    sipria_input_grad = model.decoder_fuse.body[0].weight.grad[:, c:c + 2 * e + c]
    assert sipria_input_grad.abs().sum() > 0  # the zeroed SIPRIA weights still learn


@pytest.mark.parametrize("grad", [False, True])
def test_channels_last_weights_give_the_same_result(grad):
    torch.manual_seed(3)
    model = build_model("lite").eval()
    ir, vis = torch.rand(2, 2, 1, 19, 23).unbind(0)
    with torch.set_grad_enabled(grad):
        reference = model(ir, vis, aux=True)
        model.to(memory_format=torch.channels_last)
        fast = model(ir, vis, aux=True)
    torch.testing.assert_close(fast.fused, reference.fused, rtol=0, atol=1e-5)
    torch.testing.assert_close(fast.sipria_vis.image, reference.sipria_vis.image, rtol=0,
                               atol=1e-5)


def test_decode_is_what_forward_and_training_use(lite):
    """One decode method for both decoders: forward's fused image is ``decode`` of the parts."""
    ir, vis = torch.rand(2, 1, 1, 10, 12).unbind(0)
    with torch.no_grad():
        f_vis_ir, f_ir_vis = lite.transfer(ir, vis)
        s_ir, s_vis = lite.sipria_ir(f_vis_ir), lite.sipria_vis(f_ir_vis)
        full = lite.decode("fuse", f_vis_ir, f_ir_vis, s_ir, s_vis)
        stage1 = lite.decode("fuse0", f_vis_ir, f_ir_vis)
        assert torch.equal(lite(ir, vis, aux=True).fused, full)
        assert torch.equal(lite(ir, vis, decoder="fuse0", aux=True).fused, stage1)
        assert not torch.equal(full, stage1)
    with pytest.raises(ValueError, match="needs both SIPRIA outputs"):
        lite.decode("fuse", f_vis_ir, f_ir_vis)
