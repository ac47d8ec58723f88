"""Radiometric JPEGs from real cameras (tests/fixtures/cameras/PROVENANCE.md): what the camera
measured is read, never the palette image; known answers from independent readers."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.stats import spearmanr

from critnet.errors import CritnetError, InputError
from critnet.io import read_image, read_ir
from critnet.io.camera import CELSIUS, RAW_COUNTS, camera_family, read_camera
from critnet.io.camera.flir import photo_on_thermal_grid

CAMERAS = Path(__file__).resolve().parent / "fixtures" / "cameras"
FLIR = ("flir_one", "flir_e40", "flir_ax8")


def _reference(name: str) -> tuple[np.ndarray, int]:
    data = np.load(CAMERAS / name)
    return data["celsius"], int(data["step"])


@pytest.fixture(autouse=True)
def _flyr():
    pytest.importorskip("flyr", reason="FLIR files need critnet[thermal]")


@pytest.mark.parametrize("stem", FLIR)
def test_flir_temperatures_match_exiftool_and_the_files_own_calibration(stem):
    frame = read_camera(CAMERAS / f"{stem}.jpg")
    ref, step = _reference(f"{stem}.exiftool_celsius.npz")
    assert frame.unit == CELSIUS
    ours = frame.values[::step, ::step]
    assert ours.shape == ref.shape
    # flyr vs exiftool + Thermimage's formula: 0.03-0.22 °C apart (humidity handling differs)
    assert np.abs(ours - ref).max() < 0.3
    assert spearmanr(ours.ravel(), ref.ravel())[0] > 0.999


def test_dji_raw_counts_follow_djis_own_temperatures():
    frame = read_camera(CAMERAS / "DJI_0002_T.JPG")
    ref, step = _reference("DJI_0002_T.dji_thermal_cli_celsius.npz")
    assert frame.camera == "DJI" and frame.values.shape == (512, 640)
    values = frame.values[::step, ::step]
    assert spearmanr(values.ravel(), ref.ravel())[0] > 0.999
    if frame.unit == CELSIUS:  # dji-thermal-cli installed: its temperatures exactly
        np.testing.assert_allclose(values, ref, atol=1e-4)
    else:
        assert frame.unit == RAW_COUNTS
        assert 18_000 < frame.values.min() < frame.values.max() < 21_000


def test_as_ir_a_radiometric_jpeg_gives_its_temperatures_not_its_palette():
    path = CAMERAS / "flir_e40.jpg"
    celsius = read_camera(path).values
    ir, info = read_ir(path, value_range=(20, 24))  # °C
    assert info.mode == "F" and info.size == (160, 120) and not info.color
    np.testing.assert_allclose(ir, np.clip((celsius - 20) / 4, 0, 1), atol=1e-6)
    palette = np.asarray(Image.open(path).convert("L").resize((160, 120)), dtype=float)
    rho_palette = spearmanr(palette.ravel(), celsius.ravel())[0]
    rho_ours = spearmanr(read_ir(path)[0].ravel(), celsius.ravel())[0]
    assert rho_ours > 0.999 > rho_palette  # the palette's grey does not follow the temperature


def test_the_embedded_photo_lands_on_the_thermal_grid_by_the_files_alignment():
    path = CAMERAS / "flir_one.jpg"
    photo, info = read_image(path)
    frame = read_camera(path)
    assert photo.shape == (320, 240, 3) and info.color

    def edges(a):
        gy, gx = np.gradient(a)
        return np.hypot(gx, gy)[12:-12, 12:-12].ravel()

    thermal = edges(frame.values)
    import flyr

    raw = flyr.unpack(str(path))
    pip = raw.pip_info

    def corr(offset):
        placed = photo_on_thermal_grid(np.asarray(raw.optical), frame.values.shape,
                                       pip.real_to_ir, offset, pip.crop_box)
        return np.corrcoef(edges(placed.mean(2)), thermal)[0, 1]

    # the file's offset (+14, -14) aligns the mug's edges better than none or the opposite one
    # (edge correlation 0.30 against 0.16 and 0.13 measured)
    assert corr((pip.offset_x, pip.offset_y)) > max(corr((0, 0)), corr((-14, 14))) + 0.05


def test_a_radiometric_jpeg_without_photo_is_refused_as_visible():
    with pytest.raises(InputError, match="flir_e40.jpg: FLIR E40 radiometric JPEG holds no "
                                         "visible photo"):
        read_image(CAMERAS / "flir_e40.jpg")
    with pytest.raises(InputError, match="_W/_V visible file"):
        read_image(CAMERAS / "DJI_0002_T.JPG")


def test_a_colour_ir_image_without_radiometric_data_is_refused_as_a_palette(tmp_path):
    path = tmp_path / "palette.png"
    shutil.copy(CAMERAS / "flir_e40.jpg", tmp_path / "copy.jpg")
    Image.open(tmp_path / "copy.jpg").convert("RGB").save(path)  # the palette image alone
    assert camera_family(path) is None
    with pytest.raises(InputError, match=r"palette\.png: colour IR image without radiometric "
                                         r"data looks like a palette rendering.*--ir-palette-ok"):
        read_ir(path)
    ir, info = read_ir(path, palette_ok=True)
    assert ir.shape == (240, 320, 3) and info.color


def test_dji_raw_counts_refuse_an_ir_range_in_celsius():
    with pytest.raises(InputError, match="DJI_0002_T.JPG: DJI R-JPEG read as raw sensor counts"):
        read_ir(CAMERAS / "DJI_0002_T.JPG", value_range=(20, 40))
    ir, info = read_ir(CAMERAS / "DJI_0002_T.JPG")
    assert info.mode == "I;16" and ir.shape == (512, 640) and 0 <= ir.min() < ir.max() <= 1


def test_a_missing_thermal_extra_is_one_line_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "flyr", None)
    with pytest.raises(CritnetError, match=r"pip install 'critnet\[thermal\]'"):
        read_ir(CAMERAS / "flir_e40.jpg")


def test_a_truncated_dji_raw_frame_is_one_clean_line(tmp_path):
    data = (CAMERAS / "DJI_0002_T.JPG").read_bytes()
    path = tmp_path / "DJI_0009_T.JPG"
    path.write_bytes(data[:200_000])  # inside the APP3 segments
    with pytest.raises(InputError, match=r"DJI_0009_T\.JPG: .*(truncated|corrupt)"):
        read_ir(path)


def test_ordinary_images_are_not_camera_files(tmp_path):
    path = tmp_path / "plain.jpg"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    assert camera_family(path) is None and read_camera(path) is None
    assert read_camera(tmp_path / "missing.jpg") is None
