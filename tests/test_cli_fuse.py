"""``critnet fuse`` end to end on real pairs: one pair, folders (resume, skip, overwrite), 16-bit
IR."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import need
from fusing_helpers import make_weights, run_cli
from PIL import Image

ROADSCENE = ["FLIR_09525", "FLIR_09616", "FLIR_09016"]  # the three smallest pairs
TNO = ["08_unmatched_foliage_256", "05_bench"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return make_weights(tmp_path_factory.mktemp("weights") / "lite.safetensors")


@pytest.fixture
def roadscene(data_dir):
    return need(data_dir, "roadscene")


@pytest.fixture
def folders(roadscene, tmp_path):
    """tmp ir/ and vi/ with the three RoadScene pairs plus one IR file without a partner."""
    ir, vi = tmp_path / "ir", tmp_path / "vi"
    ir.mkdir()
    vi.mkdir()
    for stem in ROADSCENE:
        shutil.copy(roadscene / "ir" / f"{stem}.jpg", ir)
        shutil.copy(roadscene / "vi" / f"{stem}.jpg", vi)
    shutil.copy(roadscene / "ir" / f"{ROADSCENE[0]}.jpg", ir / "lonely.jpg")
    return ir, vi


@pytest.mark.parametrize("stem", ROADSCENE)
def test_roadscene_pair_gives_a_colour_image_of_the_visible_size(capsys, tmp_path, roadscene,
                                                                 weights, stem):
    out = tmp_path / f"{stem}.png"
    vis = roadscene / "vi" / f"{stem}.jpg"
    code, stdout, stderr = run_cli(capsys, "fuse", roadscene / "ir" / f"{stem}.jpg", vis,
                                   "-o", out, "--weights", weights, "--device", "cpu")
    assert code == 0, stderr
    assert f"wrote {out}" in stdout and str(weights) in stdout
    with Image.open(out) as fused, Image.open(vis) as source:
        assert fused.format == "PNG" and fused.mode == "RGB" and fused.size == source.size
        rgb = np.asarray(fused)
        fused_ycc = np.asarray(fused.convert("YCbCr"), dtype=np.float64)
        vis_ycc = np.asarray(source.convert("YCbCr"), dtype=np.float64)
    # Chroma comes from the visible image, up to 8-bit rounding, wherever no RGB channel
    # was clipped.
    in_gamut = ((rgb >= 8) & (rgb <= 247)).all(axis=-1)
    assert in_gamut.mean() > 0.5
    assert np.percentile(np.abs(fused_ycc - vis_ycc)[in_gamut][:, 1:], 95) <= 1.0


@pytest.mark.parametrize("stem", TNO)
def test_tno_grey_as_rgb_pair_gives_a_grey_image(capsys, tmp_path, data_dir, weights, stem):
    tno = need(data_dir, "tno")
    out = tmp_path / "fused.png"
    code, _, stderr = run_cli(capsys, "fuse", "--ir", tno / "ir" / f"{stem}.png",
                              "--vis", tno / "vi" / f"{stem}.png", "-o", out,
                              "--weights", weights, "--device", "cpu")
    assert code == 0, stderr
    with Image.open(out) as fused, Image.open(tno / "vi" / f"{stem}.png") as source:
        assert fused.mode == "L" and fused.size == source.size


def test_gray_flag_and_output_suffix(capsys, tmp_path, roadscene, weights):
    stem = ROADSCENE[0]
    out = tmp_path / "fused.jpg"
    code, _, stderr = run_cli(capsys, "fuse", roadscene / "ir" / f"{stem}.jpg",
                              roadscene / "vi" / f"{stem}.jpg", "-o", out, "--gray",
                              "--weights", weights, "--device", "cpu")
    assert code == 0, stderr
    with Image.open(out) as fused:
        assert fused.format == "JPEG" and fused.mode == "L"


def test_resize_ir_fuses_a_smaller_ir_image(capsys, tmp_path, roadscene, weights):
    stem = ROADSCENE[0]
    small = tmp_path / "ir_small.png"
    with Image.open(roadscene / "ir" / f"{stem}.jpg") as ir:
        ir.resize((ir.width // 2, ir.height // 2)).save(small)
    vis = roadscene / "vi" / f"{stem}.jpg"
    out = tmp_path / "fused.png"
    code, _, stderr = run_cli(capsys, "fuse", small, vis, "-o", out, "--resize-ir",
                              "--weights", weights, "--device", "cpu")
    assert code == 0, stderr
    with Image.open(out) as fused, Image.open(vis) as source:
        assert fused.size == source.size


def test_folder_mode_fuses_lists_unmatched_resumes_and_overwrites(capsys, tmp_path, folders,
                                                                  weights):
    ir, vi = folders
    out = tmp_path / "out"
    args = ("fuse", "--ir", ir, "--vis", vi, "-o", out, "--weights", weights, "--device", "cpu")

    code, stdout, stderr = run_cli(capsys, *args)
    assert code == 0, stderr
    assert "fused 3, skipped 0, failed 0" in stdout
    assert "lonely.jpg" in stderr and "without a partner" in stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}.png" for s in ROADSCENE)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    # Interrupted run: one output missing -> only that one is redone, the others are skipped.
    (out / f"{ROADSCENE[1]}.png").unlink()
    code, stdout, _ = run_cli(capsys, *args)
    assert code == 0 and "fused 1, skipped 2, failed 0" in stdout
    for name, stamp in stamps.items():
        if name != f"{ROADSCENE[1]}.png":
            assert (out / name).stat().st_mtime_ns == stamp

    code, stdout, _ = run_cli(capsys, *args, "--overwrite")
    assert code == 0 and "fused 3, skipped 0, failed 0" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}.png" for s in ROADSCENE)


def test_folder_mode_reports_a_bad_pair_by_name_and_goes_on(capsys, tmp_path, folders, weights):
    ir, vi = folders
    bad = vi / f"{ROADSCENE[2]}.jpg"
    bad.write_bytes(bad.read_bytes()[:2000])  # truncated JPEG
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(capsys, "fuse", "--ir", ir, "--vis", vi, "-o", out,
                                   "--weights", weights, "--device", "cpu", "--ext", "bmp")
    assert code == 1
    assert "fused 2, skipped 0, failed 1" in stdout
    failure = [line for line in stderr.splitlines() if line.startswith("failed:")]
    assert len(failure) == 1 and ROADSCENE[2] in failure[0] and "truncated" in failure[0]
    assert "Traceback" not in stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}.bmp" for s in ROADSCENE[:2])


def test_sixteen_bit_thermal_tiff_made_from_a_real_ir_image(capsys, tmp_path, data_dir, weights):
    """A narrow-range 16-bit frame (as thermal cameras give): the default percentile scaling
    recovers the 8-bit image's contrast; plain ÷65535 would fuse an almost flat IR image."""
    tno = need(data_dir, "tno")
    stem = TNO[0]
    with Image.open(tno / "ir" / f"{stem}.png") as ir8:
        grey = np.asarray(ir8.convert("L"), dtype=np.float64)
    raw = np.round(29000 + 12 * grey).astype(np.uint16)  # 29000..32060 of 0..65535
    thermal = tmp_path / "thermal.tif"
    Image.fromarray(raw).save(thermal)
    with Image.open(thermal) as written:
        assert written.mode == "I;16"
    vis = tno / "vi" / f"{stem}.png"

    outputs = {}
    for name, extra in (("eight", (tno / "ir" / f"{stem}.png",)), ("default", (thermal,)),
                        ("full", (thermal,))):
        out = tmp_path / f"{name}.png"
        options = ("--ir-normalize", "full") if name == "full" else ()
        code, _, stderr = run_cli(capsys, "fuse", *extra, vis, "-o", out, "--weights", weights,
                                  "--device", "cpu", *options)
        assert code == 0, stderr
        outputs[name] = np.asarray(Image.open(out), dtype=np.float64)
    assert outputs["default"].shape == grey.shape
    near = np.abs(outputs["default"] - outputs["eight"]).mean()
    far = np.abs(outputs["full"] - outputs["eight"]).mean()
    assert near < far


def test_help_teaches_with_examples(capsys):
    code, stdout, _ = run_cli(capsys, "fuse", "--help")
    assert code == 0
    for text in ("critnet fuse ir.png vis.jpg -o fused.png", "--ir data/ir --vis data/vi",
                 "--resize-ir", "--overwrite", "--weights", "--ir-normalize", "--device"):
        assert text in stdout


def test_folder_run_that_fills_the_disk_still_prints_what_was_done(capsys, tmp_path, weights,
                                                                   monkeypatch):
    import critnet.pipeline.folder as folder

    rng = np.random.default_rng(0)
    for name in ("ir", "vi"):
        (tmp_path / name).mkdir()
    for stem in ("a", "b", "c"):
        Image.fromarray(rng.integers(0, 256, (24, 32), dtype=np.uint8)).save(
            tmp_path / "ir" / f"{stem}.png")
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(
            tmp_path / "vi" / f"{stem}.png")
    real, written = folder.write_image, []

    def filling(path, *args, **kwargs):
        if written:
            raise OSError(28, "No space left on device", str(path))
        written.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(folder, "write_image", filling)
    code, out, err = run_cli(capsys, "fuse", "--ir", tmp_path / "ir", "--vis", tmp_path / "vi",
                             "-o", tmp_path / "out", "--weights", weights)
    assert code == 2
    assert "stopped: fused 1, skipped 0, failed 0" in out
    assert "No space left on device" in err
    assert [p.name for p in (tmp_path / "out").glob("*.png")] == ["a.png"]
