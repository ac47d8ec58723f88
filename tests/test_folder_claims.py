"""Concurrent folder runs into one output folder split the work: each output is claimed before
it is computed; a dead run's claim is taken over (issue 11, item 8)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from fusing_helpers import seeded_lite
from PIL import Image

import critnet.pipeline.single

PAIRS = 16

# Loads everything, waits for the go file, then fuses; prints the number of fusions it did.
WORKER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import torch
    from critnet.pipeline.folder import fuse_folder
    from critnet.model import build_model
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model("lite").eval()
    ir, vis, out, go = map(Path, sys.argv[1:5])
    Path(str(go) + "." + sys.argv[5]).touch()
    while not go.exists():
        time.sleep(0.01)
    report = fuse_folder(ir, vis, out, model)
    print(len(report.fused), len(report.skipped) + len(getattr(report, "claimed", [])))
""")


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(2)
    for name in ("irs", "viss"):
        (tmp_path / name).mkdir()
        for i in range(PAIRS):
            Image.fromarray(rng.integers(0, 256, (24, 32), dtype=np.uint8)).save(
                tmp_path / name / f"{i:02d}.png")
    return tmp_path / "irs", tmp_path / "viss"


def imagesize(path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_two_concurrent_runs_compute_each_output_once(tmp_path, folders):
    out, go = tmp_path / "out", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, *map(str, (*folders, out, go)),
                                 str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env) for n in range(2)]
    try:
        for n in range(2):  # both loaded, then start together
            while not (tmp_path / f"go.{n}").exists():
                assert workers[n].poll() is None, workers[n].communicate()[1]
        go.touch()
        results = [w.communicate(timeout=300) for w in workers]
    finally:
        for w in workers:
            w.kill()
    assert all(w.returncode == 0 for w in workers), [r[1] for r in results]
    fused = [int(r[0].split()[0]) for r in results]
    assert sum(fused) == PAIRS, fused  # every output computed exactly once in total
    outputs = sorted(out.glob("*.png"))
    assert [p.stem for p in outputs] == [f"{i:02d}" for i in range(PAIRS)]
    assert all(imagesize(p) == (32, 24) for p in outputs)
    assert not list(out.glob(".*"))  # no claims or temporary files left


def test_a_dead_runs_claim_is_taken_over_a_live_one_is_respected(tmp_path, folders,
                                                                 monkeypatch):
    from critnet.pipeline.folder import fuse_folder

    out = tmp_path / "out"
    out.mkdir()
    (out / ".00.png.claim").write_text(f"{_dead_pid()}@{socket.gethostname()}\n")
    (out / ".01.png.claim").write_text(f"{os.getppid()}@{socket.gethostname()}\n")
    calls = []
    real = critnet.pipeline.single.fuse_arrays
    monkeypatch.setattr(critnet.pipeline.single, "fuse_arrays",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    report = fuse_folder(*folders, out, seeded_lite())
    assert (out / "00.png").is_file() and not (out / ".00.png.claim").exists()
    assert not (out / "01.png").exists() and (out / ".01.png.claim").exists()
    assert [p.name for p in report.claimed] == ["01.png"]
    assert len(report.fused) == len(calls) == PAIRS - 1
