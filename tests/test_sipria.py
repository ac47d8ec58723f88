"""SIPRIA's channel groups and heads (docs/design.md §1, fixing two bugs of the released code)."""

import torch

from critnet.model import build_model
from critnet.model.sipria import Sipria


def test_groups_are_disjoint_and_cover_all_channels():
    sipria = Sipria(channels=64, edge_width=32, norm="cosine", seed=0)
    features = torch.arange(64.0).view(1, 64, 1, 1)
    grp1, grp2 = sipria.groups(features)
    a, b = set(grp1.flatten().tolist()), set(grp2.flatten().tolist())
    assert len(a) == len(b) == 32
    assert a.isdisjoint(b)
    assert a | b == set(range(64))


def test_permutation_is_seeded_and_stored_in_the_state_dict():
    one = Sipria(16, 8, "cosine", seed=3)
    two = Sipria(16, 8, "cosine", seed=3)
    other = Sipria(16, 8, "cosine", seed=4)
    assert torch.equal(one.permutation, two.permutation)
    assert not torch.equal(one.permutation, other.permutation)
    assert "permutation" in one.state_dict()
    assert not torch.equal(one.permutation, torch.arange(16))  # it really shuffles


def test_the_two_branches_shuffle_differently():
    model = build_model("lite")
    assert not torch.equal(model.sipria_ir.permutation, model.sipria_vis.permutation)


def test_the_two_edge_heads_are_distinct_modules_with_distinct_outputs():
    torch.manual_seed(0)
    sipria = Sipria(16, 8, "cosine", seed=0)
    assert sipria.edge_encoder1 is not sipria.edge_encoder2
    assert sipria.edge_decoder1 is not sipria.edge_decoder2
    ids = {id(p) for p in sipria.edge_decoder1.parameters()}
    assert ids.isdisjoint(id(p) for p in sipria.edge_decoder2.parameters())
    out = sipria(torch.randn(2, 16, 9, 9))
    assert not torch.allclose(out.edge_ir, out.edge_vis)


def test_the_two_sipria_of_a_model_have_different_permutations():
    """A recorded choice (docs/training.md): seeds s and s+1; the released code shares one."""
    model = build_model("lite", shuffle_seed=3)
    assert torch.equal(model.sipria_ir.permutation, Sipria(16, 8, "cosine", seed=3).permutation)
    assert torch.equal(model.sipria_vis.permutation, Sipria(16, 8, "cosine", seed=4).permutation)
    assert not torch.equal(model.sipria_ir.permutation, model.sipria_vis.permutation)
