"""Output locations: unwritable ones fail in one line before any fusing, ``-o DIR/`` is a
folder, a folder run refuses an image file name, stale temporary files are cleaned up, and a
memory error is one line (issue 11, items 1, 3, 4, 9 and the memory limit)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from fusing_helpers import make_weights, run_cli
from PIL import Image

import critnet.pipeline.single


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return make_weights(tmp_path_factory.mktemp("w") / "lite.safetensors")


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(0)
    ir, vis = tmp_path / "ir.png", tmp_path / "vis.png"
    Image.fromarray(rng.integers(0, 256, (24, 32), dtype=np.uint8)).save(ir)
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(vis)
    return ir, vis


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(1)
    for name in ("irs", "viss"):
        (tmp_path / name).mkdir()
        for stem in ("a", "b"):
            Image.fromarray(rng.integers(0, 256, (24, 32), dtype=np.uint8)).save(
                tmp_path / name / f"{stem}.png")
    return tmp_path / "irs", tmp_path / "viss"


@pytest.fixture
def count_fusions(monkeypatch):
    calls = []
    real = critnet.pipeline.single.fuse_arrays
    monkeypatch.setattr(critnet.pipeline.single, "fuse_arrays",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("where", ["under_a_file", "proc"])
def test_unwritable_output_is_one_line_before_fusing(capsys, pair, weights, count_fusions,
                                                     where):
    ir, vis = pair
    out = ir / "out.png" if where == "under_a_file" else "/proc/critnet-x.png"
    code, _, err = run_cli(capsys, "fuse", ir, vis, "-o", out, "--weights", weights)
    assert code == 2
    assert err.count("\n") == 1 and "cannot write output here" in err, err
    assert count_fusions == []  # refused before the network ran


def test_unwritable_output_folder_fails_once_before_fusing(capsys, tmp_path, folders, weights,
                                                           count_fusions):
    (tmp_path / "file").write_text("not a folder")
    code, _, err = run_cli(capsys, "fuse", "--ir", folders[0], "--vis", folders[1],
                           "-o", tmp_path / "file" / "out", "--weights", weights)
    assert code == 2 and err.count("\n") == 1 and "cannot write output here" in err, err
    assert count_fusions == []


def test_immutable_folder_is_one_line(capsys, tmp_path, pair, weights, count_fusions):
    if shutil.which("chattr") is None:
        pytest.skip("chattr not available")
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    if subprocess.run(["chattr", "+i", str(frozen)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i not supported on this file system / user")
    try:
        code, _, err = run_cli(capsys, "fuse", *pair, "-o", frozen / "x.png",
                               "--weights", weights)
        demo_code, _, demo_err = run_cli(capsys, "demo", "-o", frozen, "--weights", weights)
    finally:
        subprocess.run(["chattr", "-i", str(frozen)], check=True)
    assert code == 2 and err.count("\n") == 1 and str(frozen) in err, err
    assert count_fusions == []
    assert demo_code == 2 and demo_err.count("\n") == 1 and str(frozen) in demo_err, demo_err
    assert list(frozen.iterdir()) == []


def test_demo_into_a_path_under_a_file_is_one_line(capsys, pair, weights):
    code, _, err = run_cli(capsys, "demo", "-o", pair[0] / "demo", "--weights", weights)
    assert code == 2 and err.count("\n") == 1 and "cannot write output here" in err, err


def test_write_time_os_error_is_one_line(capsys, pair, weights, monkeypatch):
    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    out = pair[0].parent / "out.png"
    code, _, err = run_cli(capsys, "fuse", *pair, "-o", out, "--weights", weights)
    assert code == 2 and err.count("\n") == 1 and "No space left on device" in err, err
    assert not out.exists() and not list(out.parent.glob(".out.*"))


def test_trailing_slash_means_a_folder(capsys, tmp_path, pair, weights):
    code, out, _ = run_cli(capsys, "fuse", *pair, "-o", f"{tmp_path / 'newout'}/",
                           "--weights", weights)
    assert code == 0, out
    assert (tmp_path / "newout").is_dir()
    assert Image.open(tmp_path / "newout" / "vis.png").size == (32, 24)


def test_folder_run_refuses_an_image_file_name(capsys, tmp_path, folders, weights):
    code, _, err = run_cli(capsys, "fuse", "--ir", folders[0], "--vis", folders[1],
                           "-o", tmp_path / "out.png", "--weights", weights)
    assert code == 2 and "out.png" in err and "folder" in err, err
    assert not (tmp_path / "out.png").exists()


def test_quiet_prints_nothing_and_no_progress_is_accepted(capsys, tmp_path, folders, weights):
    code, out, err = run_cli(capsys, "fuse", "--ir", folders[0], "--vis", folders[1],
                             "-o", tmp_path / "q", "--weights", weights, "--quiet")
    assert (code, out, err) == (0, "", "")
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == ["a.png", "b.png"]
    code, out, _ = run_cli(capsys, "fuse", "--ir", folders[0], "--vis", folders[1],
                           "-o", tmp_path / "p", "--weights", weights, "--no-progress")
    assert code == 0 and "fused 2" in out
    _, help_text, _ = run_cli(capsys, "fuse", "--help")
    assert "--quiet" in help_text and "terminal" in help_text


def test_stale_temp_files_of_dead_runs_are_removed_live_ones_kept(capsys, tmp_path, folders,
                                                                  weights):
    out = tmp_path / "out"
    out.mkdir()
    dead = out / f".a.{_dead_pid()}.abcd1234.tmp.png"
    live = out / f".b.{os.getppid()}.abcd1234.tmp.png"
    foreign = out / ".notes.tmp.png"
    for path in (dead, live, foreign):
        path.write_bytes(b"\x89PNG truncated")
    code, _, _ = run_cli(capsys, "fuse", "--ir", folders[0], "--vis", folders[1], "-o", out,
                         "--weights", weights)
    assert code == 0
    assert not dead.exists() and live.exists() and foreign.exists()
    assert (out / "a.png").is_file() and (out / "b.png").is_file()


def test_atomic_temp_names_carry_the_pid(tmp_path):
    from critnet.io.atomic import atomic_path, remove_stale_temps

    with atomic_path(tmp_path / "x.png") as tmp:
        assert f".{os.getpid()}." in tmp.name
        tmp.write_bytes(b"data")
        assert remove_stale_temps(tmp_path) == []  # our own, live: kept


def test_out_of_memory_is_one_line_suggesting_tiles(capsys, pair, weights, monkeypatch):
    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't "
                           "allocate memory: you tried to allocate 768000000 bytes.")

    monkeypatch.setattr(critnet.pipeline.single, "fuse_arrays", no_memory)
    out = pair[0].parent / "o.png"
    code, _, err = run_cli(capsys, "fuse", *pair, "-o", out, "--weights", weights)
    assert code == 2 and err.count("\n") == 1 and "--tile" in err and "768 MB" in err, err
    monkeypatch.setattr(critnet.pipeline.single, "fuse_arrays",
                        lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    code, _, err = run_cli(capsys, "fuse", *pair, "-o", out, "--weights", weights)
    assert code == 2 and err.count("\n") == 1 and "not enough memory" in err, err
    assert not out.exists()
