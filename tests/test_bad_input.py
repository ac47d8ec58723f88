"""Bad input to ``critnet fuse``: one line on stderr naming the file and the problem, exit code
not 0, no traceback, nothing written or overwritten."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fusing_helpers import make_weights, run_cli
from PIL import Image
from safetensors.torch import save_file

import critnet.weights
from critnet.model import build_model

RNG = np.random.default_rng(2)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return make_weights(tmp_path_factory.mktemp("weights") / "lite.safetensors")


@pytest.fixture
def work(tmp_path) -> Path:
    """tmp folder with ir/a.png, vi/a.png (colour) and loose ir.png / vis.png, 24×20."""
    for folder in ("ir", "vi"):
        (tmp_path / folder).mkdir()
    grey = Image.fromarray(RNG.integers(0, 256, (20, 24), dtype=np.uint8))
    colour = Image.fromarray(RNG.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    for path, img in ((tmp_path / "ir" / "a.png", grey), (tmp_path / "vi" / "a.png", colour),
                      (tmp_path / "ir.png", grey), (tmp_path / "vis.png", colour)):
        img.save(path)
    return tmp_path


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(capsys, work: Path, *args: object, names: tuple[str, ...], says: tuple[str, ...]):
    """Run ``critnet fuse ARGS`` and check the refusal rules; return the error line."""
    before = _snapshot(work)
    code, _, stderr = run_cli(capsys, "fuse", *args)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code != 0
    assert len(lines) == 1, stderr
    assert lines[0].startswith("critnet: error: ")
    assert "Traceback" not in stderr
    for text in names + says:
        assert text in lines[0], (text, lines[0])
    assert _snapshot(work) == before  # nothing written, nothing overwritten
    return lines[0]


def test_missing_file(capsys, work, weights):
    _refused(capsys, work, work / "nope.png", work / "vis.png", "-o", work / "out.png",
             "--weights", weights, names=("nope.png",), says=("file not found",))


def test_not_an_image(capsys, work, weights):
    (work / "notes.png").write_text("hello, not pixels\n")
    _refused(capsys, work, work / "ir.png", work / "notes.png", "-o", work / "out.png",
             "--weights", weights, names=("notes.png",), says=("not an image",))


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_image(capsys, work, weights, suffix):
    whole = work / f"whole{suffix}"
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(whole)
    cut = work / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with Image.open(cut) as lazily:  # opening alone does not notice: a full decode is needed
        assert lazily.size == (64, 64)
    ir = work / "ir64.png"
    Image.fromarray(RNG.integers(0, 256, (64, 64), dtype=np.uint8)).save(ir)
    _refused(capsys, work, ir, cut, "-o", work / "out.png", "--weights", weights,
             names=(f"cut{suffix}",), says=("truncated",))


def test_sizes_differ(capsys, work, weights):
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(work / "small.png")
    line = _refused(capsys, work, work / "small.png", work / "vis.png", "-o", work / "out.png",
                    "--weights", weights, names=("small.png", "vis.png"),
                    says=("12×10", "24×20", "--resize-ir"))
    assert "IR" in line


def test_empty_folder(capsys, work, weights):
    (work / "empty").mkdir()
    _refused(capsys, work, "--ir", work / "empty", "--vis", work / "vi", "-o", work / "out",
             "--weights", weights, names=("empty",), says=("no images found",))


def test_no_matching_stems(capsys, work, weights):
    (work / "vi" / "a.png").rename(work / "vi" / "b.png")
    _refused(capsys, work, "--ir", work / "ir", "--vis", work / "vi", "-o", work / "out",
             "--weights", weights, names=(str(work / "ir"), str(work / "vi")),
             says=("no file stems in common",))


def test_output_equal_to_an_input(capsys, work, weights):
    _refused(capsys, work, work / "ir.png", work / "vis.png", "-o", work / "vis.png",
             "--overwrite", "--weights", weights, names=("vis.png",),
             says=("is the visible input",))


@pytest.mark.parametrize("where", ["ir", "ir/fused", "vi/deeper/fused"])
def test_output_folder_inside_an_input_folder(capsys, work, weights, where):
    _refused(capsys, work, "--ir", work / "ir", "--vis", work / "vi", "-o", work / where,
             "--weights", weights, names=(str(work / where),), says=("input folder",))


def test_existing_output_is_not_overwritten_without_overwrite(capsys, work, weights):
    (work / "out.png").write_bytes(b"keep me")
    _refused(capsys, work, work / "ir.png", work / "vis.png", "-o", work / "out.png",
             "--weights", weights, names=("out.png",), says=("already exists", "--overwrite"))


def test_existing_output_survives_a_failed_overwrite(capsys, work, weights):
    (work / "out.png").write_bytes(b"keep me")
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(work / "small.png")
    _refused(capsys, work, work / "small.png", work / "vis.png", "-o", work / "out.png",
             "--overwrite", "--weights", weights, names=("small.png",), says=("--resize-ir",))


def test_output_path_is_a_folder(capsys, work, weights):
    (work / "outdir").mkdir()
    _refused(capsys, work, work / "ir.png", work / "vis.png", "-o", work / "outdir",
             "--weights", weights, names=("outdir",), says=("is a folder",))


def test_unsupported_output_suffix(capsys, work, weights):
    _refused(capsys, work, work / "ir.png", work / "vis.png", "-o", work / "out.gif",
             "--weights", weights, names=("out.gif",), says=("cannot write '.gif'",))


def test_unknown_weights_name(capsys, work):
    _refused(capsys, work, work / "ir.png", work / "vis.png", "-o", work / "out.png",
             "--weights", "superfuse", names=("superfuse",), says=("unknown weights name",))


def test_weights_for_another_preset(capsys, work, tmp_path_factory):
    paper = make_weights(tmp_path_factory.mktemp("paper") / "paper.safetensors", preset="paper")
    _refused(capsys, work, work / "ir.png", work / "vis.png", "-o", work / "out.png",
             "--weights", paper, "--preset", "lite", names=("paper.safetensors",),
             says=("preset 'paper', not 'lite'",))


def test_weights_whose_tensors_do_not_fit_their_preset(capsys, work, weights, tmp_path_factory):
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as handle:
        lite_metadata = handle.metadata()
    paper_tensors = {k: v.contiguous() for k, v in build_model("paper").state_dict().items()}
    mixed = tmp_path_factory.mktemp("mixed") / "mixed.safetensors"
    save_file(paper_tensors, str(mixed), metadata=lite_metadata)
    _refused(capsys, work, work / "ir.png", work / "vis.png", "-o", work / "out.png",
             "--weights", mixed, names=("mixed.safetensors",), says=("do not match",))


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupted_weights_file(capsys, work, weights, tmp_path_factory, damage):
    broken = tmp_path_factory.mktemp("broken") / "broken.safetensors"
    data = weights.read_bytes()
    broken.write_bytes(b"\x00\xffnot safetensors" * 50 if damage == "garbage"
                       else data[: len(data) // 2])
    _refused(capsys, work, work / "ir.png", work / "vis.png", "-o", work / "out.png",
             "--weights", broken, names=("broken.safetensors",),
             says=("not a readable safetensors weights file",))


def test_no_bundled_weights_and_none_given(capsys, work, monkeypatch, tmp_path_factory):
    monkeypatch.setattr(critnet.weights, "WEIGHTS_DIR", tmp_path_factory.mktemp("bundled"))
    _refused(capsys, work, work / "ir.png", work / "vis.png", "-o", work / "out.png",
             names=(), says=("no bundled weights exist yet", "--weights PATH"))


def test_a_real_process_prints_one_line_and_exits_2(work, weights):
    before = _snapshot(work)
    result = subprocess.run(
        [sys.executable, "-m", "critnet", "fuse", str(work / "missing.png"), str(work / "vis.png"),
         "-o", str(work / "out.png"), "--weights", str(weights)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"critnet: error: {work / 'missing.png'}: file not found"]
    assert _snapshot(work) == before
