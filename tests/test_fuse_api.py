"""critnet.fuse / critnet.load_model and critnet.pipeline.fusion: kinds, colour, sizes, options."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from fusing_helpers import make_weights, seeded_lite
from PIL import Image

import critnet
import critnet.weights
from critnet.errors import InputError, WeightsError
from critnet.model import FusionOutputs
from critnet.pipeline.colour import rgb_to_ycbcr, ycbcr_to_rgb
from critnet.pipeline.folder import fuse_folder
from critnet.pipeline.fusion import fuse_tensors, resolve_device
from critnet.pipeline.options import FuseOptions
from critnet.pipeline.single import fuse_file

H, W = 37, 53  # odd on purpose
RNG = np.random.default_rng(1)


@pytest.fixture(scope="module")
def model():
    return seeded_lite()


@pytest.fixture
def no_bundled(tmp_path, monkeypatch):
    """Pretend no weights are bundled (whatever the package ships)."""
    empty = tmp_path / "bundled"
    empty.mkdir()
    monkeypatch.setattr(critnet.weights, "WEIGHTS_DIR", empty)
    return empty


def _colour_scene(h: int = H, w: int = W) -> np.ndarray:
    """Moderately saturated RGB in [0.2, 0.8] (fused colours stay in gamut)."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    return np.stack([0.5 + 0.25 * np.sin(6 * xx), 0.5 + 0.2 * np.cos(5 * yy),
                     0.45 + 0.2 * np.sin(4 * (xx + yy))], -1).astype(np.float32)


def test_numpy_uint8_in_gives_uint8_out_of_the_same_layout(model):
    ir = RNG.integers(0, 256, (H, W), dtype=np.uint8)
    vis = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
    out = critnet.fuse(ir, vis, model)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (H, W, 3)
    grey = critnet.fuse(ir, vis[..., 0], model)
    assert grey.shape == (H, W) and grey.dtype == np.uint8


def test_numpy_float_in_gives_float32_in_unit_range(model):
    out = critnet.fuse(RNG.random((H, W)), RNG.random((H, W, 1)).astype(np.float32), model)
    assert out.dtype == np.float32 and out.shape == (H, W, 1)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_numpy_rgba_visible_drops_alpha(model):
    vis = _colour_scene()
    rgba = np.concatenate([vis, np.zeros((H, W, 1), np.float32)], -1)
    ir = RNG.random((H, W)).astype(np.float32)
    np.testing.assert_allclose(critnet.fuse(ir, rgba, model), critnet.fuse(ir, vis, model),
                               atol=1e-6)


def test_pil_in_gives_pil_out(model):
    ir = Image.fromarray(RNG.integers(0, 256, (H, W), dtype=np.uint8))
    vis = Image.fromarray((_colour_scene() * 255).astype(np.uint8))
    out = critnet.fuse(ir, vis, model)
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == (W, H)
    assert critnet.fuse(ir, vis.convert("L"), model).mode == "L"


@pytest.mark.parametrize(("vis_shape", "out_shape"), [
    ((H, W), (H, W)), ((1, H, W), (1, H, W)), ((3, H, W), (3, H, W)),
    ((1, 3, H, W), (1, 3, H, W)), ((1, 1, H, W), (1, 1, H, W)),
])
def test_tensor_in_gives_tensor_of_same_rank(model, vis_shape, out_shape):
    out = critnet.fuse(torch.rand(1, 1, H, W), torch.rand(vis_shape), model)
    assert isinstance(out, torch.Tensor) and out.shape == out_shape
    assert out.dtype == torch.float32 and not out.requires_grad
    assert not out.is_inference()  # an ordinary tensor, usable outside inference mode
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0


def test_tensor_result_holds_the_fused_pixels(model):
    ir, vis = torch.rand(1, 1, H, W), torch.rand(3, H, W)
    out = critnet.fuse(ir, vis, model)
    torch.testing.assert_close(out, fuse_tensors(model, ir, vis[None])[0], atol=0, rtol=0)
    assert out.std() > 0  # an image, not a constant


def test_uint8_tensor_gives_uint8_tensor(model):
    vis = torch.randint(0, 256, (3, H, W), dtype=torch.uint8)
    out = critnet.fuse(torch.rand(H, W), vis, model)
    assert out.dtype == torch.uint8 and out.shape == (3, H, W)


def test_paths_in_give_float_numpy_out(model, tmp_path):
    ir_path, vis_path = tmp_path / "ir.png", tmp_path / "vis.jpg"
    Image.fromarray(RNG.integers(0, 256, (H, W), dtype=np.uint8)).save(ir_path)
    Image.fromarray((_colour_scene() * 255).astype(np.uint8)).save(vis_path, quality=95)
    out = critnet.fuse(str(ir_path), vis_path, model)
    assert out.dtype == np.float32 and out.shape == (H, W, 3)


class MeanFusion(torch.nn.Module):
    """Stand-in network, ``(ir + vis) / 2``: keeps fused luma mid-range, so colours stay in
    gamut and the chroma check covers almost every pixel (an untrained CRITNet outputs ~0)."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, ir: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
        return (ir + vis) / 2


def test_colour_fusion_keeps_the_visible_chroma():
    vis = torch.from_numpy(_colour_scene()).permute(2, 0, 1)[None]
    ir = torch.rand(1, 1, H, W)
    fused = fuse_tensors(MeanFusion(), ir, vis)
    assert fused.shape == (1, 3, H, W)
    in_gamut = ((fused > 1e-4) & (fused < 1 - 1e-4)).all(dim=1)[0]  # elsewhere RGB was clipped
    assert in_gamut.float().mean() > 0.95
    ycc_fused, ycc_vis = rgb_to_ycbcr(fused)[..., in_gamut], rgb_to_ycbcr(vis)[..., in_gamut]
    torch.testing.assert_close(ycc_fused[:, 1:], ycc_vis[:, 1:], atol=1e-5, rtol=0)
    torch.testing.assert_close(ycc_fused[:, :1], (ir[..., in_gamut] + ycc_vis[:, :1]) / 2,
                               atol=1e-5, rtol=0)


def test_colour_output_of_the_real_network_has_the_visible_chroma_where_in_gamut(model):
    vis = torch.from_numpy(_colour_scene()).permute(2, 0, 1)[None]
    fused = fuse_tensors(model, torch.rand(1, 1, H, W), vis)
    in_gamut = ((fused > 1e-4) & (fused < 1 - 1e-4)).all(dim=1)[0]
    assert in_gamut.any()
    torch.testing.assert_close(rgb_to_ycbcr(fused)[:, 1:, in_gamut],
                               rgb_to_ycbcr(vis)[:, 1:, in_gamut], atol=1e-5, rtol=0)


def test_colour_fusion_y_channel_is_the_grey_fusion_of_the_luma(model):
    vis = torch.from_numpy(_colour_scene()).permute(2, 0, 1)[None]
    ir = torch.rand(1, 1, H, W)
    grey = fuse_tensors(model, ir, vis, gray=True)
    direct = fuse_tensors(model, ir, rgb_to_ycbcr(vis)[:, :1])
    assert grey.shape == (1, 1, H, W)
    torch.testing.assert_close(grey, direct)


def test_ycbcr_matches_pil_and_round_trips():
    rgb = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
    ours = rgb_to_ycbcr(torch.from_numpy(rgb / 255.0).permute(2, 0, 1)[None].float())
    pil = np.asarray(Image.fromarray(rgb).convert("YCbCr"), dtype=np.float32) / 255.0
    assert (ours[0].permute(1, 2, 0).numpy() - pil).__abs__().max() <= 1.01 / 255
    torch.testing.assert_close(ycbcr_to_rgb(ours), torch.from_numpy(rgb / 255.0).permute(
        2, 0, 1)[None].float(), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("h", "w"), [(2, 2), (5, 7), (31, 2), (64, 33)])
def test_size_is_preserved_for_odd_sizes(model, h, w):
    out = critnet.fuse(RNG.random((h, w)), _colour_scene(h, w), model)
    assert out.shape == (h, w, 3)


def test_different_sizes_are_refused_with_a_hint(model):
    with pytest.raises(InputError, match="resize-ir"):
        critnet.fuse(RNG.random((20, 30)), RNG.random((40, 60)), model)


def test_resize_ir_resamples_to_the_visible_size(model):
    out = critnet.fuse(RNG.random((20, 30)), _colour_scene(41, 59), model, resize_ir=True)
    assert out.shape == (41, 59, 3)


def test_minmax_output_normalisation_stretches_each_image(model):
    out = critnet.fuse(RNG.random((H, W)), RNG.random((H, W)), model, normalize="minmax")
    assert out.min() == pytest.approx(0.0, abs=1e-6) and out.max() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(InputError, match="output normalisation"):
        critnet.fuse(RNG.random((H, W)), RNG.random((H, W)), model, normalize="clip")


def test_ir_normalisation_applies_to_uint16_arrays(model):
    narrow = (30000 + RNG.integers(0, 500, (H, W))).astype(np.uint16)
    vis = RNG.random((H, W)).astype(np.float32)
    stretched = np.round(((narrow - narrow.min()) / np.ptp(narrow)) * 65535).astype(np.uint16)
    minmax = critnet.fuse(narrow, vis, model, ir_normalize="minmax")
    np.testing.assert_allclose(minmax, critnet.fuse(stretched, vis, model, ir_normalize="full"),
                               atol=1e-4)
    full = critnet.fuse(narrow, vis, model, ir_normalize="full")
    assert np.abs(full - minmax).mean() > 1e-3


def test_bad_arrays_are_refused(model):
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        critnet.fuse(RNG.random((H, W)) * 3, RNG.random((H, W)), model)
    with pytest.raises(InputError, match="dtype"):
        critnet.fuse(np.zeros((H, W), np.int64), RNG.random((H, W)), model)
    with pytest.raises(InputError, match="unsupported type"):
        critnet.fuse([[0.5]], RNG.random((H, W)), model)


def test_batches_fuse_at_tensor_level(model):
    fused = fuse_tensors(model, torch.rand(2, 1, 16, 24), torch.rand(2, 3, 16, 24))
    assert fused.shape == (2, 3, 16, 24)


def test_load_model_without_bundled_weights_says_so(no_bundled):
    with pytest.raises(WeightsError, match="no bundled weights exist yet.*--weights PATH"):
        critnet.load_model()
    with pytest.raises(WeightsError, match="no bundled weights exist yet"):
        critnet.fuse(RNG.random((8, 8)), RNG.random((8, 8)))


def test_bundled_weights_are_picked_up_when_they_appear(no_bundled):
    make_weights(no_bundled / "lite.safetensors")
    model = critnet.load_model()
    assert model.config.preset == "lite" and not model.training
    out = critnet.fuse(RNG.random((9, 10)), RNG.random((9, 10)))
    assert out.shape == (9, 10)


def test_load_model_from_path_checks_the_preset(tmp_path):
    path = make_weights(tmp_path / "w.safetensors")
    assert critnet.load_model(path, preset="lite").config.preset == "lite"
    with pytest.raises(WeightsError, match="preset 'lite', not 'paper'"):
        critnet.load_model(path, preset="paper")


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InputError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda")


def _dim_gray(h: int = H, w: int = W) -> np.ndarray:
    """8-bit gray in 60..140 (a dim scene): a range stretch would change it a lot."""
    yy, xx = np.mgrid[0:h, 0:w]
    return (100 + 40 * np.sin(xx / 5.0) * np.cos(yy / 7.0)).round().astype(np.uint8)


def test_sixteen_bit_visible_fuses_like_its_eight_bit_version(model, tmp_path):
    """The IR normalisations are for the IR image only: 16-bit visible is ÷65535, not stretched."""
    ir = RNG.integers(0, 256, (H, W), dtype=np.uint8)
    vis8 = _dim_gray()
    vis16 = vis8.astype(np.uint16) * 257  # the exact 16-bit version
    out8 = critnet.fuse(ir, vis8, model)
    out16 = critnet.fuse(ir, vis16, model)
    assert out16.dtype == np.uint16
    np.testing.assert_allclose(out16 / 65535.0, out8 / 255.0, atol=0.5 / 255 + 1e-6)
    pil8, pil16 = Image.fromarray(vis8), Image.fromarray(vis16)
    assert pil16.mode.startswith("I")
    np.testing.assert_array_equal(np.asarray(critnet.fuse(ir, pil16, model)),
                                  np.asarray(critnet.fuse(ir, pil8, model)))
    ir_path, v8_path, v16_path = tmp_path / "ir.png", tmp_path / "v8.png", tmp_path / "v16.png"
    Image.fromarray(ir).save(ir_path)
    pil8.save(v8_path)
    pil16.save(v16_path)
    np.testing.assert_allclose(critnet.fuse(ir_path, v16_path, model),
                               critnet.fuse(ir_path, v8_path, model), atol=1e-6)
    fuse_file(ir_path, v8_path, tmp_path / "o8.png", model)
    fuse_file(ir_path, v16_path, tmp_path / "o16.png", model)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o16.png")),
                                  np.asarray(Image.open(tmp_path / "o8.png")))


class RampDecoder(torch.nn.Module):
    """Stand-in with the CRITNet output contract: raw decoder output ``2·vis − 0.5`` (outside
    [0, 1] where vis < 0.25 or > 0.75), clamped unless ``aux``."""

    def forward(self, ir, vis, *, aux=False):
        raw = 2 * vis - 0.5
        return FusionOutputs(fused=raw, sipria_ir=None, sipria_vis=None) if aux else raw.clamp(0, 1)


def test_minmax_output_normalisation_stretches_the_raw_decoder_output():
    """Known answer: stretching 2·v − 0.5 over a 0..1 ramp gives the ramp back; stretching the
    clamped output (the old behaviour) would flatten both ends."""
    ramp = np.linspace(0.0, 1.0, W, dtype=np.float32)[None].repeat(H, 0)
    out = critnet.fuse(RNG.random((H, W)), ramp, RampDecoder(), normalize="minmax")
    np.testing.assert_allclose(out, ramp, atol=1e-6)
    plain = critnet.fuse(RNG.random((H, W)), ramp, RampDecoder())
    np.testing.assert_allclose(plain, np.clip(2 * ramp - 0.5, 0, 1), atol=1e-6)


def test_pil_input_is_read_with_its_exif_orientation(model, tmp_path):
    raw = _dim_gray(12, 20)  # 12×20 stored, 20×12 displayed
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(raw).save(tmp_path / "rot.png", exif=exif)
    shown = np.ascontiguousarray(np.rot90(raw, k=-1))
    ir = RNG.random(shown.shape).astype(np.float32)
    with Image.open(tmp_path / "rot.png") as vis:
        out = np.asarray(critnet.fuse(ir, vis, model))
    np.testing.assert_array_equal(out, np.asarray(critnet.fuse(ir, Image.fromarray(shown), model)))


def test_options_group_and_keywords_are_the_same(model):
    ir, vis = RNG.random((H, W)), _colour_scene()
    by_group = critnet.fuse(ir, vis, model, options=FuseOptions(gray=True, normalize="minmax"))
    by_keyword = critnet.fuse(ir, vis, model, gray=True, normalize="minmax")
    assert by_group.shape == (H, W)
    np.testing.assert_array_equal(by_group, by_keyword)
    with pytest.raises(TypeError, match="unknown fusion option.*grey"):
        critnet.fuse(ir, vis, model, grey=True)
    with pytest.raises(InputError, match="unknown normalisation 'gamma'"):
        FuseOptions(ir_normalize="gamma")
    with pytest.raises(dataclasses.FrozenInstanceError):
        FuseOptions().gray = True


class Broken(torch.nn.Module):
    def forward(self, ir, vis):
        raise RuntimeError("a bug in the network")


def test_fuse_folder_counts_bad_input_as_failed_but_lets_bugs_through(model, tmp_path):
    (tmp_path / "ir").mkdir()
    (tmp_path / "vis").mkdir()
    for stem in ("a", "b"):
        Image.fromarray(_dim_gray()).save(tmp_path / "ir" / f"{stem}.png")
        Image.fromarray(_dim_gray()).save(tmp_path / "vis" / f"{stem}.png")
    (tmp_path / "vis" / "b.png").write_bytes(b"not an image")
    report = fuse_folder(tmp_path / "ir", tmp_path / "vis", tmp_path / "out", model)
    assert [p.name for p in report.fused] == ["a.png"]
    assert [stem for stem, _ in report.failed] == ["b"] and "not an image" in report.failed[0][1]
    with pytest.raises(RuntimeError, match="a bug in the network"):
        fuse_folder(tmp_path / "ir", tmp_path / "vis", tmp_path / "out2", Broken())
