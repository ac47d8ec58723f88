"""Exact tiled inference (critnet.model.tiled): equal to the untiled forward, halos probed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fusing_helpers import make_weights, run_cli
from PIL import Image
from torch import nn

from critnet.errors import InputError
from critnet.io import read_image
from critnet.model import attention, build_model, tiled
from critnet.model.tiled import conv_radius, tile_cores, tiled_forward
from critnet.pipeline.single import fuse_arrays


@pytest.fixture(autouse=True)
def one_thread():
    """Many tiny tile forwards: one thread is much faster on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(preset: str, **options) -> nn.Module:
    """A model whose output is not saturated: a fresh ``lite`` clamps almost every pixel to 0,
    which would hide any difference. Kaiming weights, and the last bias at mid-grey."""
    model = build_model(preset, **options).eval()
    with torch.no_grad():
        for conv in model.modules():
            if isinstance(conv, nn.Conv2d):
                nn.init.kaiming_normal_(conv.weight, a=0.2)
                conv.bias.uniform_(-0.1, 0.1)
        for decoder in (model.decoder_fuse, model.decoder_fuse0):
            if decoder is not None:
                decoder.body[2].weight.mul_(0.2)
                decoder.body[2].bias.fill_(0.5)
    return model


def _pair(height: int, width: int, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(batch, 1, height, width, generator=generator) for _ in range(2))


def _max_error(model: nn.Module, size: tuple[int, int], tile: int, batch: int = 1) -> float:
    ir, vis = _pair(*size, batch=batch)
    with torch.inference_mode():
        return (tiled_forward(model, ir, vis, tile) - model(ir, vis)).abs().max().item()


@pytest.mark.parametrize(("preset", "options"), [
    ("lite", {}),
    ("lite", {"mit": False}),
    ("lite", {"sipria": False}),
    ("lite", {"attention_norm": "sqrt_d"}),
    ("paper", {}),
])
def test_tiled_equals_untiled_odd_non_square(preset, options):
    torch.manual_seed(1)
    model = _model(preset, **options)
    # tile 5 < halo 7: each window spans several neighbouring cores
    assert _max_error(model, (19, 27), tile=5, batch=2) <= 1e-5


def test_tiled_equals_untiled_one_pixel_strip():
    torch.manual_seed(2)
    model = _model("lite")
    assert _max_error(model, (1, 23), tile=1) <= 1e-5
    assert _max_error(model, (17, 1), tile=4) <= 1e-5


def test_tile_larger_than_image_is_the_untiled_forward():
    torch.manual_seed(3)
    model = _model("lite")
    assert _max_error(model, (9, 11), tile=64) <= 1e-6


def test_tiled_with_decoder_fuse0_of_full_model():
    torch.manual_seed(4)
    model = _model("lite")
    ir, vis = _pair(15, 12)
    with torch.inference_mode():
        ref = model(ir, vis, decoder="fuse0")
        out = tiled_forward(model, ir, vis, 4, decoder="fuse0")
    assert (out - ref).abs().max().item() <= 1e-5


def test_output_halo_one_short_is_not_exact(monkeypatch):
    """The output halo is needed in full: one pixel less makes the tiled result differ."""
    torch.manual_seed(5)
    model = _model("lite")
    stats_halo, out_halo = tiled.halos(model, "fuse")
    assert (stats_halo, out_halo) == (4, 7)  # 1 + 3 dense layers; + edge encoder 1 + D_fuse 2
    monkeypatch.setattr(tiled, "halos", lambda *_: (stats_halo, out_halo - 1))
    assert _max_error(model, (16, 16), tile=8) > 1e-4


def _tiled_moments(model: nn.Module, ir, vis, tile: int, halo: int) -> torch.Tensor:
    height, width = ir.shape[-2:]
    total = 0
    for core in tile_cores(height, width, tile):
        window = tiled.with_halo(core, halo, height, width)
        f_ir, f_vis = (tiled.crop(f, window, core) for f in tiled._encode(model, ir, vis, window))
        total = total + tiled.feature_moments(f_ir, f_vis)
    return total


def test_statistics_halo_is_exact_and_needed():
    torch.manual_seed(7)
    model = _model("lite")
    stats_halo, _ = tiled.halos(model, "fuse")
    ir, vis = _pair(16, 16)
    with torch.inference_mode():
        whole = tiled.feature_moments(*tiled._encode(model, ir, vis, (0, 16, 0, 16)))
        exact = _tiled_moments(model, ir, vis, 8, stats_halo)
        short = _tiled_moments(model, ir, vis, 8, stats_halo - 1)
    scale = whole.abs().max().item()
    assert (exact - whole).abs().max().item() <= 1e-6 * scale
    assert (short - whole).abs().max().item() > 1e-3 * scale


@pytest.mark.parametrize(("preset", "options"), [
    ("lite", {}),
    ("lite", {"mit": False}),
    ("lite", {"attention_norm": "sqrt_d"}),
    ("paper", {}),
])
def test_attention_maps_from_moments_are_the_untiled_maps(preset, options):
    """Every map follows from ``Σ z zᵀ`` (the affine probe): MRL's, then both SIPs'."""
    torch.manual_seed(8)
    model = _model(preset, **options)
    ir, vis = _pair(12, 10, batch=2)
    with torch.inference_mode():
        f_ir, f_vis = tiled._encode(model, ir, vis, (0, 12, 0, 10))
        mrl_maps, sip_maps = tiled.attention_maps(
            model, tiled.feature_moments(f_ir, f_vis), 120, "fuse")
        expected = []
        if model.mrl is not None:
            expected += [model.mrl.vis_to_ir.attention_map(f_ir, f_ir),
                         model.mrl.ir_to_vis.attention_map(f_vis, f_vis)]
            f_ir, f_vis = model.mrl(f_ir, f_vis)
        for sipria, features in ((model.sipria_ir, f_ir), (model.sipria_vis, f_vis)):
            grp1, grp2 = sipria.groups(features)
            expected += [sipria.grp2_from_grp1.attention_map(grp2, grp1),
                         sipria.grp1_from_grp2.attention_map(grp1, grp2)]
    got = [*(mrl_maps or ()), *sip_maps[0], *sip_maps[1]]
    assert len(got) == len(expected) == (6 if model.mrl is not None else 4)
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == torch.float32 and a.shape == b.shape
        # the untiled map is fp32 from fp32 sums; sqrt_d's unscaled logits here reach ~1e2
        assert (a - b).abs().max().item() <= 1e-5


def test_tiled_equals_untiled_beyond_one_sum_block():
    """Over more than ``SUM_BLOCK`` pixels; one fp32 sum over the whole frame was off by 1.4e-5
    at 512² (the tiled result was the accurate one)."""
    torch.manual_seed(9)
    model = _model("lite")
    assert 160 * 192 > attention.SUM_BLOCK
    assert _max_error(model, (160, 192), tile=64) <= 1e-6


def _probed_radius(module: nn.Module, channels: int) -> int:
    """Largest distance at which a one-pixel change of the input changes the output."""
    size = 31
    x = torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(0))
    bumped = x.clone()
    bumped[..., size // 2, size // 2] += 1.0
    with torch.no_grad():
        changed = (module(bumped) - module(x)).abs().amax(dim=(0, 1)) > 0
    rows, cols = torch.nonzero(changed, as_tuple=True)
    return int(torch.maximum((rows - size // 2).abs(), (cols - size // 2).abs()).max())


@pytest.mark.parametrize("preset", ["lite", "paper"])
def test_conv_radius_matches_perturbation(preset):
    torch.manual_seed(6)
    model = _model(preset)
    c, e = model.config.channels, model.config.edge_channels
    for module, channels in [
        (model.encoder_ir, 2),
        (model.sipria_ir.edge_encoder1, c // 2),
        (model.decoder_fuse, 4 * c + 4 * e),
        (model.decoder_fuse0, 2 * c),
    ]:
        assert conv_radius(module) == _probed_radius(module, channels), type(module).__name__


def test_tile_cores_partition_the_image():
    cores = tile_cores(10, 7, 4)
    covered = torch.zeros(10, 7, dtype=torch.int64)
    for top, bottom, left, right in cores:
        covered[top:bottom, left:right] += 1
    assert torch.equal(covered, torch.ones(10, 7, dtype=torch.int64))
    with pytest.raises(ValueError, match="tile must be >= 1"):
        tile_cores(10, 7, 0)


def test_resolve_tile_auto_tiles_only_when_needed():
    model = _model("lite")
    per_pixel = tiled.untiled_bytes_per_pixel(model)
    shape = (1, 1, 1000, 1000)
    assert tiled.resolve_tile("auto", model, shape, available=10**6 * per_pixel * 4) is None
    size = tiled.resolve_tile("auto", model, shape, available=10**6 * per_pixel)
    assert isinstance(size, int) and 64 <= size < 1000
    big = 8000 * 6000  # a frame that never fits: the tile shrinks with the free memory
    roomy = tiled.resolve_tile("auto", model, (1, 1, 6000, 8000), available=big * per_pixel)
    tight = tiled.resolve_tile("auto", model, (1, 1, 6000, 8000), available=10**5 * per_pixel)
    assert roomy == tiled.AUTO_TILE and 64 <= tight < roomy
    assert tiled.resolve_tile("off", model, shape) is None
    assert tiled.resolve_tile("96", model, shape) == 96
    for bad in ("0", "big", 2.5, -3):
        with pytest.raises(ValueError, match="tile must be 'auto', 'off' or a size >= 64"):
            tiled.resolve_tile(bad, model, shape)
    for small in (1, "8", 63):  # issue 33: --tile 1 ran for minutes
        with pytest.raises(ValueError, match=r"tiles under 64 px only make fusion slower"):
            tiled.resolve_tile(small, model, shape)
    assert tiled.resolve_tile(tiled.MIN_TILE, model, shape) == 64


def test_fuse_arrays_tile_equals_untiled_colour():
    model = _model("lite")
    generator = np.random.default_rng(0)
    ir = generator.random((69, 75), dtype=np.float32)
    vis = generator.random((69, 75, 3), dtype=np.float32)
    untiled = fuse_arrays(model, ir, vis, tile="off")
    tiled_out = fuse_arrays(model, ir, vis, tile=64)
    assert tiled_out.shape == (69, 75, 3)
    assert np.abs(tiled_out - untiled).max() <= 1e-5


def test_cli_tile_gives_the_untiled_file_and_refuses_bad_values(capsys, tmp_path):
    weights = make_weights(tmp_path / "w.safetensors")
    generator = np.random.default_rng(1)
    for name in ("ir", "vis"):
        Image.fromarray(generator.integers(0, 256, (67, 70), dtype=np.uint8)).save(
            tmp_path / f"{name}.png")
    ir, vis = tmp_path / "ir.png", tmp_path / "vis.png"
    outputs = {}
    for tile in ("off", "64"):
        out = tmp_path / f"fused_{tile}.png"
        code, _, err = run_cli(capsys, "fuse", ir, vis, "-o", out, "--weights", weights,
                               "--device", "cpu", "--tile", tile)
        assert code == 0, err
        outputs[tile] = np.asarray(Image.open(out), dtype=np.int16)
    assert np.abs(outputs["64"] - outputs["off"]).max() <= 1  # 8-bit rounding of ≤1e-5
    for bad, words in (("zero", "tile must be"), ("1", "tiles under 64 px")):
        code, _, err = run_cli(capsys, "fuse", ir, vis, "-o", tmp_path / "bad.png", "--weights",
                               weights, "--tile", bad)
        assert code != 0 and words in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "bad.png").exists()


def test_pixel_limit_is_checked_from_the_header_in_one_line(capsys, tmp_path, recwarn):
    path = tmp_path / "wide.png"
    Image.new("L", (300, 40)).save(path)
    for limit in (11_999, 5_000):  # below: ours; below half: Pillow's guard, silenced
        with pytest.raises(InputError, match=r"wide\.png: .*limit .*--max-pixels"):
            read_image(path, max_pixels=limit)
    assert read_image(path, max_pixels=12_000)[0].shape == (40, 300)
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
    code, _, err = run_cli(capsys, "fuse", path, path, "-o", tmp_path / "o.png",
                           "--max-pixels", "1000")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "wide.png" in err
