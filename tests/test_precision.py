"""Half-precision inference: attention statistics and the fusion decoder stay fp32 under autocast.

Only CPU autocast is exercised here (bf16 and fp16 both run on the CPU in torch); CUDA is the
target of ``--precision bf16|fp16`` but no GPU runs these tests.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import need
from fusing_helpers import seeded_lite

import critnet
from critnet.io import read_image
from critnet.model.attention import channel_attention_map
from critnet.model.blocks import FusionDecoder
from critnet.pipeline.backends import TorchBackend, make_backend
from critnet.weights import default_weights_name

LEVEL = 1 / 255


def _features(scale: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(1, 8, 64, 64, generator=generator) * scale
    k = torch.randn(1, 8, 64, 64, generator=generator) * scale
    return q, k


@pytest.mark.parametrize("norm", ["cosine", "sqrt_d"])
def test_fp16_statistics_do_not_overflow(norm):
    # |q|² over 4096 pixels ≈ 4096·300² ≈ 4e8: far beyond fp16's 65504.
    q, k = _features(300.0)
    temperature = torch.tensor(1.0)
    expected = channel_attention_map(q, k, norm, temperature)
    with torch.autocast("cpu", dtype=torch.float16):
        got = channel_attention_map(q.half(), k.half(), norm, temperature)
    assert got.dtype == torch.float16
    assert torch.isfinite(got).all()
    assert (got.float() - expected).abs().max().item() < 2e-3


def test_bf16_statistics_are_computed_in_fp32():
    # Channels sharing one component have cosines ≈ 0.9, logits ≈ 27 at temperature 30: bf16
    # rounds those in steps of 1/8, which moves the map by ~1e-2. Only fp32 statistics give
    # the fp32 map of the same (bf16) features, up to rounding the map itself to bf16.
    common = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    q, k = (common + 0.3 * x for x in _features(1.0, seed=2))
    q, k = q.bfloat16(), k.bfloat16()
    temperature = torch.tensor(30.0)
    expected = channel_attention_map(q.float(), k.float(), "cosine", temperature)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = channel_attention_map(q, k, "cosine", temperature)
    assert got.dtype == torch.bfloat16
    assert (got.float() - expected).abs().max().item() <= 2 ** -9


def test_fusion_decoder_runs_fp32_under_autocast():
    decoder = FusionDecoder(12, 6).eval()
    x = torch.rand(1, 12, 16, 16)
    with torch.inference_mode():
        expected = decoder(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = decoder(x.bfloat16())
    assert got.dtype == torch.float32
    assert (got - expected).abs().max().item() < 1e-2  # only the bf16 input rounding remains


def test_fp32_backend_is_the_model():
    model = seeded_lite()
    ir, vis = torch.rand(2, 1, 1, 20, 24)
    with torch.inference_mode():
        assert torch.equal(TorchBackend(model, "fp32")(ir, vis), model(ir, vis))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_output_within_one_level_on_a_real_pair(data_dir, precision):
    if default_weights_name() is None:
        pytest.skip("no bundled (trained) weights")
    tno = need(data_dir, "tno")
    name = "01_2_men_in_front_of_house.png"
    ir = read_image(need(tno, "ir", name))[0][:192, :256]
    vis = read_image(tno / "vi" / name)[0][:192, :256]
    model = critnet.load_model()
    expected = critnet.fuse(ir, vis, model)
    got = critnet.fuse(ir, vis, make_backend(model, "torch", precision))
    assert got.dtype == np.float32
    assert np.abs(got - expected).max() <= LEVEL


def test_load_model_precision_and_bad_values():
    if default_weights_name() is None:
        pytest.skip("no bundled weights")
    backend = critnet.load_model(precision="bf16")
    assert isinstance(backend, TorchBackend) and backend.precision == "bf16"
    with pytest.raises(critnet.errors.InputError, match="unknown precision 'fp8'"):
        critnet.load_model(precision="fp8")
    with pytest.raises(critnet.errors.InputError, match="unknown backend 'tvm'"):
        critnet.load_model(backend="tvm")
