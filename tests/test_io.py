"""critnet.io: every supported mode, bit depth and format; EXIF; normalisation; writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from critnet.errors import InputError
from critnet.io import normalize_levels, read_gray_uint8, read_image, read_ir, read_raw, write_image
from critnet.metrics.prepare import rgb2gray

RNG = np.random.default_rng(0)
GREY = RNG.integers(0, 256, (13, 21), dtype=np.uint8)
RGB = RNG.integers(0, 256, (13, 21, 3), dtype=np.uint8)


def _save(img: Image.Image, path: Path, **options) -> Path:
    img.save(path, **options)
    return path


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_lossless_grey_reads_exactly_as_h_w_in_unit_range(tmp_path, suffix):
    image, info = read_image(_save(Image.fromarray(GREY), tmp_path / f"g{suffix}"))
    assert image.shape == (13, 21) and image.dtype == np.float32
    np.testing.assert_allclose(image, GREY / 255.0, atol=1e-7)
    assert (info.bit_depth, info.color, info.size) == (8, False, (21, 13))


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_lossless_rgb_reads_exactly_as_h_w_3(tmp_path, suffix):
    image, info = read_image(_save(Image.fromarray(RGB), tmp_path / f"c{suffix}"))
    assert image.shape == (13, 21, 3)
    np.testing.assert_allclose(image, RGB / 255.0, atol=1e-7)
    assert info.color and info.bit_depth == 8


def test_jpeg_colour_and_grey_read_close_to_source(tmp_path):
    smooth = np.tile(np.linspace(40, 200, 32, dtype=np.uint8), (24, 1))
    colour = np.stack([smooth, smooth[:, ::-1], np.full_like(smooth, 90)], -1)
    image, info = read_image(_save(Image.fromarray(colour), tmp_path / "c.jpg", quality=98))
    assert image.shape == (24, 32, 3) and info.color
    assert np.abs(image * 255 - colour).mean() < 3
    grey, ginfo = read_image(_save(Image.fromarray(smooth), tmp_path / "g.jpeg", quality=98))
    assert grey.shape == (24, 32) and not ginfo.color
    assert np.abs(grey * 255 - smooth).mean() < 3


def test_rgba_drops_alpha(tmp_path):
    alpha = RNG.integers(0, 256, (13, 21, 1), dtype=np.uint8)
    rgba = Image.fromarray(np.concatenate([RGB, alpha], -1), mode="RGBA")
    image, info = read_image(_save(rgba, tmp_path / "a.png"))
    np.testing.assert_allclose(image, RGB / 255.0, atol=1e-7)
    assert info.mode == "RGBA" and info.color


def test_grey_as_rgb_is_read_as_grey(tmp_path):
    image, info = read_image(_save(Image.fromarray(np.stack([GREY] * 3, -1)), tmp_path / "g3.png"))
    assert image.shape == (13, 21) and not info.color and info.mode == "RGB"
    np.testing.assert_allclose(image, GREY / 255.0, atol=1e-7)


def test_colour_palette_image_reads_its_rgb_values(tmp_path):
    palette_img = Image.fromarray(RGB).quantize(colors=16)
    expected = np.asarray(palette_img.convert("RGB")) / 255.0
    image, info = read_image(_save(palette_img, tmp_path / "p.png"))
    assert info.mode == "P" and info.color
    np.testing.assert_allclose(image, expected, atol=1e-7)


def test_grey_palette_image_reads_as_grey(tmp_path):
    palette_img = Image.fromarray(GREY).convert("P")
    image, info = read_image(_save(palette_img, tmp_path / "pg.png"))
    assert info.mode == "P" and not info.color
    np.testing.assert_allclose(image, np.asarray(palette_img.convert("L")) / 255.0, atol=1e-7)


def test_one_bit_image_reads_as_zero_and_one(tmp_path):
    bits = GREY > 127
    image, info = read_image(_save(Image.fromarray(bits), tmp_path / "b.png"))
    assert info.bit_depth == 1 and not info.color
    np.testing.assert_array_equal(image, bits.astype(np.float32))


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_grey_full_divides_by_65535(tmp_path, suffix):
    raw = RNG.integers(0, 65536, (13, 21)).astype(np.uint16)
    path = _save(Image.fromarray(raw), tmp_path / f"t16{suffix}")
    image, info = read_image(path, normalize="full")
    assert info.bit_depth == 16 and not info.color
    np.testing.assert_allclose(image, raw / 65535.0, atol=1e-7)


def test_thirty_two_bit_integer_in_sixteen_bit_range_reads_as_sixteen_bit(tmp_path):
    raw = RNG.integers(0, 65536, (9, 11)).astype(np.int32)
    path = _save(Image.fromarray(raw), tmp_path / "i32.tif")
    image, info = read_image(path, normalize="full")
    assert info.mode == "I" and info.bit_depth == 16
    np.testing.assert_allclose(image, raw / 65535.0, atol=1e-7)


def test_sixteen_bit_ir_default_is_percentile_and_stretches_a_narrow_thermal_range(tmp_path):
    raw = (28000 + RNG.normal(0, 1, (40, 50)).cumsum(1) * 20).clip(0, 65535).astype(np.uint16)
    path = _save(Image.fromarray(raw), tmp_path / "thermal.tif")
    default, _ = read_ir(path)
    percentile, _ = read_ir(path, normalize="percentile")
    full, _ = read_ir(path, normalize="full")
    np.testing.assert_array_equal(default, percentile)
    np.testing.assert_allclose(read_image(path)[0], raw / 65535.0, atol=1e-7)  # never stretched
    assert full.max() - full.min() < 0.1
    assert default.min() == 0.0 and default.max() == 1.0
    assert np.mean((default > 0) & (default < 1)) > 0.98  # only the 0.5 % tails are clipped


def test_eight_bit_default_is_full(tmp_path):
    narrow = (100 + GREY // 16).astype(np.uint8)
    image, _ = read_image(_save(Image.fromarray(narrow), tmp_path / "n.png"))
    np.testing.assert_allclose(image, narrow / 255.0, atol=1e-7)


def test_normalize_levels_minmax_percentile_and_flat_images():
    levels = np.array([[10.0, 20.0], [30.0, 50.0]])
    np.testing.assert_allclose(normalize_levels(levels, 255, "minmax"),
                               [[0.0, 0.25], [0.5, 1.0]], atol=1e-7)
    np.testing.assert_allclose(normalize_levels(levels, 255, "full"), levels / 255, atol=1e-7)
    ramp = np.arange(1001, dtype=np.float64)
    stretched = normalize_levels(ramp, 65535, "percentile")
    assert stretched[5] == 0.0 and stretched[995] == 1.0 and 0.49 < stretched[500] < 0.51
    flat = np.full((3, 3), 40.0)
    np.testing.assert_allclose(normalize_levels(flat, 255, "minmax"), flat / 255, atol=1e-7)
    with pytest.raises(InputError, match="unknown normalisation"):
        normalize_levels(levels, 255, "gamma")


def test_exif_orientation_is_applied(tmp_path):
    raw = np.arange(2 * 4, dtype=np.uint8).reshape(2, 4) * 30
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = _save(Image.fromarray(raw), tmp_path / "rot.png", exif=exif)
    image, info = read_image(path)
    assert info.size == (2, 4)
    np.testing.assert_allclose(image, np.rot90(raw, k=-1) / 255.0, atol=1e-7)


def test_exif_orientation_is_applied_to_jpeg(tmp_path):
    raw = np.full((16, 40, 3), 20, np.uint8)
    raw[:8, :8] = (230, 40, 40)  # a red block in the top-left corner only: not symmetric
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90° counter-clockwise to display"
    path = _save(Image.fromarray(raw), tmp_path / "rot.jpg", exif=exif, quality=98)
    image, _ = read_image(path)
    expected = np.rot90(raw, k=1) / 255.0  # the red block ends up bottom-left
    assert image.shape == expected.shape == (40, 16, 3)
    assert np.abs(image - expected).mean() < 0.02
    assert image[-4, 3, 0] > 0.8 and image[3, 3, 0] < 0.2


def test_raw_reader_keeps_the_stored_samples(tmp_path):
    sixteen = RNG.integers(0, 65536, (9, 11)).astype(np.uint16)
    raw = read_raw(_save(Image.fromarray(sixteen), tmp_path / "s.png"))
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw, sixteen)
    rgb = read_raw(_save(Image.fromarray(RGB), tmp_path / "c.png"))
    assert rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb, RGB)
    bits = read_raw(_save(Image.fromarray(GREY > 128), tmp_path / "b.png"))
    np.testing.assert_array_equal(bits, np.where(GREY > 128, 255, 0))


def test_gray_reader_is_matlab_rgb2gray_not_pil_convert_l(tmp_path):
    colors = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = _save(Image.fromarray(colors), tmp_path / "c.png")
    gray = read_gray_uint8(path)
    np.testing.assert_array_equal(gray, rgb2gray(colors))
    pil_l = np.asarray(Image.fromarray(colors).convert("L"))
    assert np.any(gray != pil_l)  # the two conversions differ by one level on some pixels
    assert np.abs(gray.astype(int) - pil_l).max() == 1
    sixteen = (GREY.astype(np.uint16) * 257)
    np.testing.assert_array_equal(read_gray_uint8(_save(Image.fromarray(sixteen),
                                                        tmp_path / "s.png")), GREY)


def test_sixteen_bit_tiff_round_trip(tmp_path):
    image = RNG.random((17, 23)).astype(np.float32)
    path = write_image(tmp_path / "out16.tif", image, bit_depth=16)
    with Image.open(path) as written:
        assert written.mode == "I;16"
    back, info = read_image(path, normalize="full")
    assert info.bit_depth == 16
    np.testing.assert_allclose(back, image, atol=0.5 / 65535 + 1e-7)


@pytest.mark.parametrize(("name", "fmt"), [("o.png", "PNG"), ("o.jpg", "JPEG"), ("o.bmp", "BMP"),
                                           ("o.tiff", "TIFF"), ("o", "PNG")])
def test_write_picks_the_format_from_the_suffix_and_keeps_the_size(tmp_path, name, fmt):
    image = RNG.random((11, 7, 3)).astype(np.float32)
    path = write_image(tmp_path / name, image)
    with Image.open(path) as written:
        assert written.format == fmt and written.size == (7, 11) and written.mode == "RGB"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left behind


def test_write_grey_png_is_8_bit_and_exact(tmp_path):
    path = write_image(tmp_path / "g.png", GREY / 255.0)
    with Image.open(path) as written:
        assert written.mode == "L"
        np.testing.assert_array_equal(np.asarray(written), GREY)


def test_write_refuses_unknown_suffix_and_16_bit_colour(tmp_path):
    with pytest.raises(InputError, match="cannot write '.gif'"):
        write_image(tmp_path / "o.gif", GREY / 255.0)
    with pytest.raises(InputError, match="16-bit"):
        write_image(tmp_path / "o.png", RGB / 255.0, bit_depth=16)
    assert not any(tmp_path.iterdir())


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match=r"missing\.png: file not found"):
        read_image(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("not an image\n")
    with pytest.raises(InputError, match=r"notes\.png: not an image"):
        read_image(text)
    good = _save(Image.fromarray(RGB), tmp_path / "cut.jpg")
    good.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(InputError, match=r"cut\.jpg: truncated"):
        read_image(good)


def test_float_images_read_as_stored_and_have_no_raw_levels(tmp_path):
    values = RNG.random((5, 5)).astype(np.float32)
    path = _save(Image.fromarray(values), tmp_path / "f.tif")
    image, info = read_image(path)
    assert (info.mode, info.bit_depth, info.peak) == ("F", 32, 1.0)
    np.testing.assert_array_equal(image, values)
    with pytest.raises(InputError, match=r"f\.tif: float32 image has no 8/16-bit levels"):
        read_raw(path)


def test_output_bit_depth_and_quality_fit_the_format(tmp_path):
    path = write_image(tmp_path / "g16.tif", GREY / 255.0, bit_depth=16)
    with Image.open(path) as written:
        np.testing.assert_array_equal(np.asarray(written), GREY.astype(np.uint16) * 257)
    with pytest.raises(InputError, match=r"o\.bmp: 16-bit output is only available for PNG"):
        write_image(tmp_path / "o.bmp", GREY / 255.0, bit_depth=16)
    with pytest.raises(InputError, match=r"o\.png: a quality applies to JPEG output only"):
        write_image(tmp_path / "o.png", GREY / 255.0, quality=80)
    assert not (tmp_path / "o.bmp").exists() and not (tmp_path / "o.png").exists()
