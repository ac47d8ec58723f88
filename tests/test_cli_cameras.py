"""``critnet fuse`` with the files thermal cameras write (tests/fixtures/cameras): one FLIR file
fused with its own photo, DJI naming in folder mode, palette renderings refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fusing_helpers import make_weights, run_cli
from PIL import Image

CAMERAS = Path(__file__).resolve().parent / "fixtures" / "cameras"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return make_weights(tmp_path_factory.mktemp("weights") / "lite.safetensors")


@pytest.fixture(autouse=True)
def _flyr():
    pytest.importorskip("flyr", reason="FLIR files need critnet[thermal]")


def test_one_flir_file_fuses_with_its_embedded_photo(capsys, tmp_path, weights):
    out = tmp_path / "fused.png"
    code, _, err = run_cli(capsys, "fuse", CAMERAS / "flir_one.jpg", "-o", out,
                                "--weights", weights)
    assert code == 0, err
    fused = np.asarray(Image.open(out))
    assert fused.shape == (320, 240, 3)  # the thermal grid, colour from the photo
    assert fused.std() > 5


def test_a_flir_file_as_ir_with_a_visible_image_and_a_celsius_range(capsys, tmp_path, weights):
    vis = tmp_path / "vis.png"
    Image.fromarray(np.full((240, 320, 3), 120, np.uint8)).save(vis)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for out, extra in ((a, ("--ir-range", "18", "25")), (b, ())):
        code, _, err = run_cli(capsys, "fuse", CAMERAS / "flir_e40.jpg", vis, "-o", out,
                               "--weights", weights, "--resize-ir", *extra)
        assert code == 0, err
    assert not np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


@pytest.mark.parametrize("args, message", [
    (("flir_e40.jpg",), "flir_e40.jpg: FLIR E40 radiometric JPEG holds no visible photo"),
    (("DJI_0002_T.JPG", "DJI_0002_T.JPG", "--ir-range", "20", "40"),
     "DJI_0002_T.JPG: DJI R-JPEG read as raw sensor counts"),
])
def test_camera_files_that_cannot_do_it_say_so_in_one_line(capsys, tmp_path, weights, args,
                                                           message, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "dji_thermal_cli", None)
    paths = [CAMERAS / a if a.endswith(("jpg", "JPG")) else a for a in args]
    code, _, err = run_cli(capsys, "fuse", *paths, "-o", tmp_path / "x.png", "--weights",
                           weights)
    assert code != 0 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_a_palette_ir_image_is_refused_unless_ir_palette_ok(capsys, tmp_path, weights):
    ir, vis = tmp_path / "ir.png", tmp_path / "vis.png"
    Image.open(CAMERAS / "flir_e40.jpg").convert("RGB").save(ir)  # the palette rendering only
    Image.fromarray(np.full((240, 320), 90, np.uint8)).save(vis)
    code, _, err = run_cli(capsys, "fuse", ir, vis, "-o", tmp_path / "x.png", "--weights", weights)
    assert code != 0 and "looks like a palette rendering" in err and "--ir-palette-ok" in err
    code, _, err = run_cli(capsys, "fuse", ir, vis, "-o", tmp_path / "x.png", "--weights", weights,
                           "--ir-palette-ok")
    assert code == 0, err


def test_dji_naming_pairs_in_one_folder_and_palettes_fail_by_name(capsys, tmp_path, weights):
    flight = tmp_path / "flight"
    flight.mkdir()
    shutil.copy(CAMERAS / "DJI_0002_T.JPG", flight)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (512, 640, 3), np.uint8)).save(flight / "DJI_0002_W.JPG")
    Image.fromarray(rng.integers(0, 255, (512, 640, 3), np.uint8)).save(flight / "DJI_0002_Z.JPG")
    Image.fromarray(rng.integers(0, 255, (64, 80, 3), np.uint8)).save(flight / "DJI_0003_T.JPG")
    Image.fromarray(rng.integers(0, 255, (64, 80, 3), np.uint8)).save(flight / "DJI_0003_V.JPG")
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "fuse", "--ir", flight, "--vis", flight, "-o", out,
                                "--weights", weights, "--no-progress")
    assert code == 1  # DJI_0003_T is a colour JPEG without raw data: a palette, refused
    assert sorted(p.name for p in out.iterdir()) == ["DJI_0002.png"]
    assert np.asarray(Image.open(out / "DJI_0002.png")).shape == (512, 640, 3)
    assert "failed: DJI_0003:" in err and "looks like a palette rendering" in err
    assert "DJI_0002_Z.JPG" in err  # the zoom frame is listed as not fused
