"""Gradient flow: every parameter is reachable from the outputs that train it
(docs/design.md §1, §3).

The released code never handed the MRL parameters to an optimizer and reused one edge head for
both groups; these tests make sure every projection, head and decoder receives a gradient.
"""

import torch

from critnet.model import build_model


def _grad_names(model, loss):
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def _all_outputs_loss(out):
    terms = [out.fused]
    for s in (out.sipria_ir, out.sipria_vis):
        terms += [s.rec_ir, s.rec_vis, s.edge_ir, s.edge_vis, s.image]
    return sum(t.square().mean() for t in terms)


def test_every_parameter_but_stage_one_decoder_gets_gradient_on_the_full_path():
    torch.manual_seed(0)
    model = build_model("lite", channels=8, growth=8)
    ir, vis = torch.rand(2, 2, 1, 12, 10).unbind(0)
    names = _grad_names(model, _all_outputs_loss(model(ir, vis, decoder="fuse", aux=True)))
    expected = {n for n, _ in model.named_parameters() if not n.startswith("decoder_fuse0")}
    assert expected - names == set()
    assert not any(n.startswith("decoder_fuse0") for n in names)


def test_stage_one_trains_encoders_mrl_and_decoder_fuse0():
    torch.manual_seed(0)
    model = build_model("lite", channels=8, growth=8)
    ir, vis = torch.rand(2, 2, 1, 12, 10).unbind(0)
    names = _grad_names(model, model(ir, vis, decoder="fuse0", aux=True).fused.square().mean())
    prefixes = ("encoder_ir", "encoder_vis", "mrl", "decoder_fuse0")
    expected = {n for n, _ in model.named_parameters() if n.startswith(prefixes)}
    assert any(n.startswith("mrl.") for n in expected)
    assert names == expected


def test_each_sipria_output_reaches_its_own_heads():
    torch.manual_seed(0)
    model = build_model("lite", channels=8, growth=8)
    ir, vis = torch.rand(2, 2, 1, 12, 10).unbind(0)
    out = model(ir, vis, aux=True)
    names = _grad_names(model, out.sipria_ir.edge_ir.square().mean())
    assert "sipria_ir.edge_decoder1.conv.weight" in names
    assert "sipria_ir.edge_decoder2.conv.weight" not in names
    out = model(ir, vis, aux=True)
    names = _grad_names(model, out.sipria_ir.edge_vis.square().mean())
    assert "sipria_ir.edge_decoder2.conv.weight" in names
    assert "sipria_ir.edge_decoder1.conv.weight" not in names
