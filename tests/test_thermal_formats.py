"""The formats thermal cameras write (issue 14): float32 / radiometric TIFF with an IR range,
16-bit and JPEG-quality output, and multi-frame files refused in single and folder mode.

All images are tiny and made on the fly; the weights are a seeded random ``lite`` model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fusing_helpers import make_weights, run_cli
from PIL import Image

import critnet
import critnet.pipeline.folder
import critnet.pipeline.single
from critnet.errors import InputError
from critnet.io import read_ir

H, W = 24, 32
RNG = np.random.default_rng(14)
YY, XX = np.mgrid[0:H, 0:W] / max(H, W)
#: A smooth 8-bit scene with some noise (IR and visible share it, slightly shifted).
SCENE8 = np.clip(128 + 90 * np.sin(5 * XX + 3 * YY) + RNG.normal(0, 8, (H, W)), 0, 255).astype(
    np.uint8)
VIS8 = np.clip(128 + 80 * np.cos(4 * XX - 6 * YY) + RNG.normal(0, 8, (H, W)), 0, 255).astype(
    np.uint8)
VIS_RGB = np.stack([VIS8, np.roll(VIS8, 3, 1), 255 - VIS8], -1)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return make_weights(tmp_path_factory.mktemp("weights") / "lite.safetensors")


def _save(array: np.ndarray, path: Path) -> Path:
    """Save ``array`` (uint8 → L/RGB, uint16 → I;16, float32 → F) to ``path``."""
    Image.fromarray(array).save(path)
    return path


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def _fuse(capsys, *args: object) -> tuple[int, str, str]:
    return run_cli(capsys, "fuse", *args)


def _one_line_error(capsys, *args: object) -> str:
    """Run ``critnet fuse ARGS``, check it fails with one ``critnet: error:`` line; return it."""
    code, _, stderr = _fuse(capsys, *args)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1, stderr
    assert lines[0].startswith("critnet: error: ") and "Traceback" not in stderr
    return lines[0]


# --- float32 / radiometric TIFF ------------------------------------------------------------------


def test_float_tiff_with_ir_range_fuses_exactly_as_the_8_bit_image(capsys, tmp_path, weights):
    # temperatures = 10 °C + level / 4: exact in float32, so LOW..HIGH = 10..73.75 maps each
    # pixel to level / 255 with the same rounding as the 8-bit image's ÷255
    temps = (10 + SCENE8.astype(np.float32) / 4).astype(np.float32)
    ir_float = _save(temps, tmp_path / "ir_temps.tif")
    ir8 = _save(SCENE8, tmp_path / "ir8.png")
    vis = _save(VIS8, tmp_path / "vis.png")
    assert _fuse(capsys, ir_float, vis, "-o", tmp_path / "f.png", "--weights", weights,
                 "--ir-range", "10", "73.75")[0] == 0
    assert _fuse(capsys, ir8, vis, "-o", tmp_path / "e.png", "--weights", weights)[0] == 0
    np.testing.assert_array_equal(_pixels(tmp_path / "f.png"), _pixels(tmp_path / "e.png"))


def test_float_tiff_and_16_bit_with_matching_ir_ranges_fuse_identically(capsys, tmp_path,
                                                                        weights):
    # a narrow 16-bit thermal band 30000..30400 and the same frame as °C = level / 16 - 1000
    levels = (30000 + SCENE8.astype(np.uint16) * 400 // 255).astype(np.uint16)
    temps = (levels.astype(np.float32) / 16 - 1000).astype(np.float32)
    ir16 = _save(levels, tmp_path / "ir16.png")
    ir_float = _save(temps, tmp_path / "ir_temps.tif")
    vis = _save(VIS8, tmp_path / "vis.png")
    assert _fuse(capsys, ir16, vis, "-o", tmp_path / "a.png", "--weights", weights,
                 "--ir-range", "30000", "30400")[0] == 0
    assert _fuse(capsys, ir_float, vis, "-o", tmp_path / "b.png", "--weights", weights,
                 "--ir-range", "875", "900")[0] == 0
    np.testing.assert_array_equal(_pixels(tmp_path / "a.png"), _pixels(tmp_path / "b.png"))
    # the user range really is used: the 16-bit default (percentile) gives another result
    assert _fuse(capsys, ir16, vis, "-o", tmp_path / "c.png", "--weights", weights)[0] == 0
    assert not np.array_equal(_pixels(tmp_path / "a.png"), _pixels(tmp_path / "c.png"))


def test_ir_range_in_the_api_matches_the_cli(capsys, tmp_path, weights):
    temps = (10 + SCENE8.astype(np.float32) / 4).astype(np.float32)
    ir_float = _save(temps, tmp_path / "ir.tif")
    vis = _save(VIS8, tmp_path / "vis.png")
    model = critnet.load_model(weights)
    critnet.pipeline.single.fuse_file(ir_float, vis, tmp_path / "api.png", model,
                                      ir_range=(10, 73.75))
    assert _fuse(capsys, ir_float, vis, "-o", tmp_path / "cli.png", "--weights", weights,
                 "--ir-range", "10", "73.75")[0] == 0
    np.testing.assert_array_equal(_pixels(tmp_path / "api.png"), _pixels(tmp_path / "cli.png"))
    from_path = critnet.fuse(ir_float, vis, model, ir_range=(10, 73.75))
    from_array = critnet.fuse(temps, VIS8, model, ir_range=(10, 73.75))
    np.testing.assert_array_equal(np.round(from_path * 255).astype(np.uint8), from_array)


def test_float_ir_defaults_to_percentile_and_accepts_minmax(tmp_path):
    temps = (20 + SCENE8.astype(np.float32) / 10).astype(np.float32)
    path = _save(temps, tmp_path / "t.tif")
    default, info = read_ir(path)
    assert info.mode == "F"
    np.testing.assert_array_equal(default, read_ir(path, normalize="percentile")[0])
    lo, hi = np.percentile(temps.astype(np.float64), (0.5, 99.5))
    np.testing.assert_allclose(default, np.clip((temps - lo) / (hi - lo), 0, 1), atol=1e-6)
    minmax, _ = read_ir(path, normalize="minmax")
    assert minmax.min() == 0.0 and minmax.max() == 1.0


def test_nan_pixels_are_the_low_end_and_ignored_by_the_statistics(tmp_path):
    temps = (20 + SCENE8.astype(np.float32) / 10).astype(np.float32)
    holed = temps.copy()
    holed[:3, :5] = np.nan
    path = _save(holed, tmp_path / "holes.tif")
    ranged, _ = read_ir(path, value_range=(20, 45.5))
    assert np.isfinite(ranged).all()
    assert (ranged[:3, :5] == 0).all()
    np.testing.assert_allclose(ranged[3:], np.clip((temps[3:] - 20) / 25.5, 0, 1), atol=1e-6)
    stretched, _ = read_ir(path, normalize="minmax")
    finite = temps[~np.isnan(holed)]
    expected = np.clip((temps - finite.min()) / (finite.max() - finite.min()), 0, 1)
    np.testing.assert_allclose(stretched[3:], expected[3:], atol=1e-6)
    assert (stretched[:3, :5] == 0).all()


# --- output bit depth and JPEG quality -----------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_bit_depth_16_output_is_16_bit_and_matches_8_bit_within_rounding(capsys, tmp_path,
                                                                         weights, suffix):
    ir = _save(SCENE8, tmp_path / "ir.png")
    vis = _save(VIS8, tmp_path / "vis.png")
    out8, out16 = tmp_path / f"o8{suffix}", tmp_path / f"o16{suffix}"
    assert _fuse(capsys, ir, vis, "-o", out8, "--weights", weights)[0] == 0
    assert _fuse(capsys, ir, vis, "-o", out16, "--weights", weights, "--bit-depth", "16")[0] == 0
    eight, sixteen = _pixels(out8), _pixels(out16)
    assert eight.dtype == np.uint8 and sixteen.dtype == np.uint16
    difference = np.abs(sixteen / 65535.0 - eight / 255.0)
    assert difference.max() <= 0.5 / 255 + 0.5 / 65535
    assert len(np.unique(sixteen)) > len(np.unique(eight))  # the extra bits carry detail


def test_jpeg_quality_changes_the_file_size_and_95_is_the_default(capsys, tmp_path, weights):
    ir = _save(SCENE8, tmp_path / "ir.png")
    vis = _save(VIS_RGB, tmp_path / "vis.png")
    sizes = {}
    for quality in ("20", "95", None):
        out = tmp_path / f"q{quality}.jpg"
        extra = ("--quality", quality) if quality else ()
        assert _fuse(capsys, ir, vis, "-o", out, "--weights", weights, *extra)[0] == 0
        sizes[quality] = out.stat().st_size
    assert sizes["20"] < sizes["95"]
    assert (tmp_path / "qNone.jpg").read_bytes() == (tmp_path / "q95.jpg").read_bytes()


@pytest.mark.parametrize(("args", "says"), [
    (("-o", "OUT/o.jpg", "--bit-depth", "16"), "16-bit output is only available for PNG or TIFF"),
    (("-o", "OUT/o.bmp", "--bit-depth", "16"), "16-bit output is only available for PNG or TIFF"),
    (("-o", "OUT/o.png", "--quality", "50"), "quality applies to JPEG output only"),
    (("-o", "OUT/o.jpg", "--quality", "0"), "JPEG quality must be 1..100"),
    (("-o", "OUT/o.png", "--ir-range", "5", "1"), "LOW < HIGH"),
    (("-o", "OUT/o.png", "--ir-range", "0", "1", "--ir-normalize", "minmax"), "not both"),
    (("-o", "OUT/o.png", "--bit-depth", "16", "COLOR"), "only available for gray"),
])
def test_bad_output_and_range_combinations_are_one_line(capsys, tmp_path, weights, args, says):
    ir = _save(SCENE8, tmp_path / "ir.png")
    vis = _save(VIS_RGB if "COLOR" in args else VIS8, tmp_path / "vis.png")
    (tmp_path / "OUT").mkdir()
    args = tuple(str(a).replace("OUT", str(tmp_path / "OUT")) for a in args if a != "COLOR")
    line = _one_line_error(capsys, ir, vis, "--weights", weights, *args)
    assert says in line, line
    assert not any((tmp_path / "OUT").iterdir())


def test_folder_mode_refuses_quality_for_png_before_fusing(capsys, tmp_path, weights):
    ir_dir, vis_dir = tmp_path / "ir", tmp_path / "vi"
    ir_dir.mkdir()
    vis_dir.mkdir()
    _save(SCENE8, ir_dir / "a.png")
    _save(VIS8, vis_dir / "a.png")
    line = _one_line_error(capsys, "--ir", ir_dir, "--vis", vis_dir, "-o", tmp_path / "out",
                           "--weights", weights, "--quality", "50")
    assert "quality applies to JPEG output only" in line
    assert not (tmp_path / "out").exists()


# --- multi-frame files ---------------------------------------------------------------------------


def _multi_frame_tiff(path: Path) -> Path:
    frames = [Image.fromarray(np.roll(SCENE8, k, 1)) for k in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return path


def _animated_gif(path: Path) -> Path:
    frames = [Image.fromarray(np.roll(SCENE8, k, 0)) for k in range(4)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=40, loop=0)
    return path


@pytest.mark.parametrize(("make", "name", "frames"), [
    (_multi_frame_tiff, "ir.tif", 3), (_animated_gif, "ir.gif", 4)])
def test_multi_frame_input_is_refused_in_single_mode(capsys, tmp_path, weights, make, name,
                                                     frames):
    ir = make(tmp_path / name)
    vis = _save(VIS8, tmp_path / "vis.png")
    line = _one_line_error(capsys, ir, vis, "-o", tmp_path / "out.png", "--weights", weights)
    assert f"{name}: has {frames} frames" in line and "critnet fuse IR_VIDEO VIS_VIDEO" in line
    assert not (tmp_path / "out.png").exists()
    with pytest.raises(InputError, match=f"has {frames} frames"):
        read_ir(ir)


def test_multi_frame_inputs_are_refused_in_folder_mode_with_the_single_mode_line(
        capsys, tmp_path, weights):
    ir_dir, vis_dir, out = tmp_path / "ir", tmp_path / "vi", tmp_path / "out"
    ir_dir.mkdir()
    vis_dir.mkdir()
    _save(SCENE8, ir_dir / "good.png")
    tiff = _multi_frame_tiff(ir_dir / "stack.tif")
    gif = _animated_gif(ir_dir / "clip.gif")
    for stem in ("good", "stack", "clip"):
        _save(VIS8, vis_dir / f"{stem}.png")
    single = {}
    for path in (tiff, gif):
        single[path.stem] = _one_line_error(capsys, path, vis_dir / f"{path.stem}.png", "-o",
                                            tmp_path / "single.png", "--weights", weights)
    code, stdout, stderr = _fuse(capsys, "--ir", ir_dir, "--vis", vis_dir, "-o", out,
                                 "--weights", weights)
    assert code == 1
    assert "fused 1, skipped 0, failed 2" in stdout
    assert (out / "good.png").exists() and not (out / "stack.png").exists()
    for stem, line in single.items():
        message = line.removeprefix("critnet: error: ")
        assert f"failed: {stem}: {message}" in stderr, (message, stderr)


def test_a_folder_of_only_animations_names_one(tmp_path, weights):
    ir_dir, vis_dir = tmp_path / "ir", tmp_path / "vi"
    ir_dir.mkdir()
    vis_dir.mkdir()
    _animated_gif(ir_dir / "clip.gif")
    _animated_gif(vis_dir / "clip.gif")
    with pytest.raises(InputError, match=r"clip\.gif: has 4 frames"):
        critnet.pipeline.folder.fuse_folder(ir_dir, vis_dir, tmp_path / "out",
                                critnet.load_model(weights))


def test_a_gif_declaring_too_many_pixels_in_a_folder_is_no_traceback(capsys, tmp_path, weights):
    """The folder run's animation scan opens every GIF: one whose header declares 20000×20000
    (over twice Pillow's bomb guard) is left out like any other non-pair file."""
    ir_dir, vis_dir, out = tmp_path / "ir", tmp_path / "vi", tmp_path / "out"
    for folder in (ir_dir, vis_dir):
        folder.mkdir()
        data = bytearray(_animated_gif(folder / "bomb.gif").read_bytes())
        data[6:10] = (20000).to_bytes(2, "little") * 2  # GIF logical screen width, height
        (folder / "bomb.gif").write_bytes(bytes(data))
        with pytest.raises(Image.DecompressionBombError):
            Image.open(folder / "bomb.gif")
    _save(SCENE8, ir_dir / "good.png")
    _save(VIS8, vis_dir / "good.png")
    code, stdout, stderr = _fuse(capsys, "--ir", ir_dir, "--vis", vis_dir, "-o", out,
                                 "--weights", weights)
    assert code == 0, stderr
    assert "Traceback" not in stderr and "fused 1, skipped 0, failed 0" in stdout
    assert (out / "good.png").exists()
