"""Channel cross-attention: C×C maps, size invariance of the cosine mode, no (HW)×(HW) tensor."""

import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from critnet.model.attention import (
    SUM_BLOCK,
    ChannelCrossAttention,
    attention_statistics,
    channel_attention_map,
)


def test_attention_map_is_channel_by_channel_and_rows_sum_to_one():
    q, k = torch.randn(2, 2, 6, 40, 30).unbind(0)
    attn = channel_attention_map(q, k, "cosine", torch.tensor(1.0))
    assert attn.shape == (2, 6, 6)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 6))


def test_cosine_attention_is_the_same_on_a_2x_upsampled_copy():
    torch.manual_seed(0)
    module = ChannelCrossAttention(8, "cosine")
    with torch.no_grad():
        module.temperature.fill_(5.0)  # a sharp map, so a difference would show
    features = torch.randn(1, 8, 12, 10)
    big = F.interpolate(features, scale_factor=2, mode="nearest")
    torch.testing.assert_close(module.attention_map(features, features),
                               module.attention_map(big, big), rtol=1e-5, atol=1e-6)


def test_sqrt_d_attention_changes_with_image_size():
    torch.manual_seed(0)
    module = ChannelCrossAttention(8, "sqrt_d")
    features = torch.randn(1, 8, 12, 10) * 3
    big = F.interpolate(features, scale_factor=2, mode="nearest")
    small_map = module.attention_map(features, features)
    big_map = module.attention_map(big, big)
    assert (small_map - big_map).abs().max() > 1e-3


def test_temperature_is_learnable_only_in_cosine_mode():
    """The temperature multiplies the cosine logits in the forward pass (so it sharpens the map
    and gets a gradient); ``sqrt_d`` attention ignores it."""
    torch.manual_seed(0)
    features = torch.randn(1, 4, 6, 5)
    cosine = ChannelCrossAttention(4, "cosine")
    assert cosine.temperature.requires_grad
    maps = {}
    for t in (1.0, 4.0):
        with torch.no_grad():
            cosine.temperature.fill_(t)
        maps[t] = cosine.attention_map(features, features)
    q = F.normalize(cosine.query(features).flatten(2), dim=-1)
    k = F.normalize(cosine.key(features).flatten(2), dim=-1)
    torch.testing.assert_close(maps[4.0], (4.0 * q @ k.transpose(1, 2)).softmax(-1))
    assert maps[4.0].amax(-1).mean() > maps[1.0].amax(-1).mean()  # sharper
    cosine(features, features, features, residual=features).sum().backward()
    assert cosine.temperature.grad is not None and cosine.temperature.grad.abs() > 0
    sqrt_d = ChannelCrossAttention(4, "sqrt_d")
    assert not sqrt_d.temperature.requires_grad
    before = sqrt_d.attention_map(features, features)
    with torch.no_grad():
        sqrt_d.temperature.fill_(4.0)
    torch.testing.assert_close(sqrt_d.attention_map(features, features), before)


def test_residual_and_shapes():
    module = ChannelCrossAttention(4, "cosine")
    with torch.no_grad():
        module.out.weight.zero_()
        module.out.bias.zero_()
    q, v, r = torch.randn(3, 1, 4, 5, 7).unbind(0)
    torch.testing.assert_close(module(q, q, v, residual=r), r)


@pytest.mark.slow
def test_1024x1024_forward_stays_under_a_memory_ceiling():
    """A (HW)×(HW) attention map at 1024² would need 4 TB; the whole lite forward, torch
    included, needs < 2 GiB."""
    script = textwrap.dedent("""
        import resource, torch
        from critnet.model import build_model
        model = build_model("lite").eval()
        x = torch.rand(1, 1, 1024, 1024)
        with torch.inference_mode():
            out = model(x, x)
        assert out.shape == (1, 1, 1024, 1024)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, check=True)
    peak_mib = int(result.stdout.strip().splitlines()[-1])
    assert peak_mib < 2048, f"peak RSS {peak_mib} MiB"


def test_channels_last_features_give_the_same_attention_and_output():
    torch.manual_seed(0)
    module = ChannelCrossAttention(6, "cosine")
    q, v, r = torch.randn(3, 2, 6, 9, 7).unbind(0)
    reference = module(q, q, v, residual=r)
    cl = [t.contiguous(memory_format=torch.channels_last) for t in (q, v, r)]
    module.to(memory_format=torch.channels_last)
    torch.testing.assert_close(module(cl[0], cl[0], cl[1], residual=cl[2]), reference,
                               rtol=1e-5, atol=1e-6)


def test_cosine_attention_uses_a_positive_temperature_whatever_the_parameter():
    from critnet.model.attention import MIN_TEMPERATURE

    torch.manual_seed(0)
    q = torch.randn(1, 6, 8, 8)
    positive = channel_attention_map(q, q, "cosine", torch.tensor(MIN_TEMPERATURE))
    for stored in (0.0, -3.0):
        attn = channel_attention_map(q, q, "cosine", torch.tensor(stored))
        torch.testing.assert_close(attn, positive, rtol=0, atol=0)
    # with a positive scale each channel attends to itself (cosine 1) more than to any other
    sharp = channel_attention_map(q, q, "cosine", torch.tensor(50.0))
    assert torch.equal(sharp[0].argmax(-1), torch.arange(6))
    module = ChannelCrossAttention(6, "cosine")
    with torch.no_grad():
        module.temperature.fill_(-50.0)
    attn = module.attention_map(q, q)
    assert module.state_dict()["temperature"] == -50.0  # the stored value is kept
    assert torch.equal(attn, channel_attention_map(module.query(q), module.key(q), "cosine",
                                                   torch.tensor(MIN_TEMPERATURE)))


def test_statistics_over_many_pixels_add_fp32_blocks_in_float64():
    """Past ``SUM_BLOCK`` pixels the sums are fp32 blocks added in float64: within 3e-7 of a
    float64 reference here, where one fp32 sum over all 65,536 pixels is off by 1.7e-6."""
    generator = torch.Generator().manual_seed(0)
    query, key = (torch.rand(1, 4, 128, 512, generator=generator) for _ in range(2))
    assert query[0, 0].numel() == 4 * SUM_BLOCK
    stats = attention_statistics(query, key)
    exact = attention_statistics(query.double(), key.double())
    assert stats.products.dtype == torch.float32 and exact.products.dtype == torch.float64
    assert stats.pixels == exact.pixels == 4 * SUM_BLOCK
    for got, want in ((stats.products, exact.products), (stats.query_sq, exact.query_sq),
                      (stats.key_sq, exact.key_sq)):
        assert ((got.double() - want).abs() / want).max().item() <= 5e-7
