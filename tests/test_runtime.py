"""Fusing with the bundled weights never imports torch (issue 31): ``critnet --help``, ``fuse``
on a pair, a folder and a video, ``demo``, ``evaluate`` and ``serve`` each run in a fresh process
and report whether torch was imported; commands that need torch say in one line which extra.

These tests import no torch themselves: they are what ``.ci/run``'s second venv (the runtime-only
install, ``pytest -m runtime``) runs. Here torch is hidden from the child process
(``sys.modules["torch"] = None``, which makes both ``import torch`` and ``find_spec`` fail as in
an install without it) where a test is about its absence, so they mean the same in both venvs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.runtime

TESTS = Path(__file__).resolve().parent

#: Runs ``critnet ARGS`` (argv[2:]) in this interpreter; prints, last, on stderr, a JSON line
#: with the modules of interest that ended up imported. argv[1] = "hide" hides torch.
CHILD = """
import atexit, json, sys
if sys.argv[1] == "hide":
    for name in ("torch", "safetensors", "kornia"):
        sys.modules[name] = None
atexit.register(lambda: print(json.dumps({"torch": sys.modules.get("torch") is not None}),
                              file=sys.stderr))
from critnet.cli import main
main(sys.argv[2:])
"""


def critnet(*args: object, hide_torch: bool = False, cwd: Path | None = None
            ) -> tuple[int, str, str, bool]:
    """``critnet ARGS`` in a fresh process: ``(exit code, stdout, stderr, torch imported)``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", CHILD, "hide" if hide_torch else "keep",
                          *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd,
                         timeout=300)
    *lines, last = run.stderr.rstrip("\n").split("\n")
    return run.returncode, run.stdout, "\n".join(lines), json.loads(last)["torch"]


def _pair(folder: Path, stem: str = "a", size: tuple[int, int] = (96, 64)) -> tuple[Path, Path]:
    rng = np.random.default_rng(len(stem))
    (folder / "ir").mkdir(parents=True, exist_ok=True)
    (folder / "vi").mkdir(parents=True, exist_ok=True)
    ir, vis = folder / "ir" / f"{stem}.png", folder / "vi" / f"{stem}.png"
    width, height = size
    Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8)).save(ir)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(vis)
    return ir, vis


def test_help_imports_no_command_and_no_torch():
    code, out, err, torch = critnet("--help")
    assert code == 0, err
    assert not torch
    for name in ("fuse", "demo", "evaluate", "serve", "train", "export"):
        assert f"\n  {name} " in out


@pytest.mark.parametrize("weights", ["tiny", None])  # None: the bundled default (steep)
def test_fuse_a_pair_imports_no_torch_and_exports_nothing(tmp_path, monkeypatch, weights):
    monkeypatch.setenv("CRITNET_CACHE", str(tmp_path / "cache"))
    ir, vis = _pair(tmp_path)
    out = tmp_path / "fused.png"
    extra = ["--weights", weights] if weights else []
    code, stdout, err, torch = critnet("fuse", ir, vis, "-o", out, *extra)
    assert code == 0, err
    assert not torch
    assert "shipped graph" in stdout
    with Image.open(out) as image:
        fused = np.asarray(image)
    assert fused.shape == (64, 96, 3) and fused.dtype == np.uint8
    assert fused.std() > 0
    assert not (tmp_path / "cache").exists()  # the first run exported nothing


def test_runtime_fuse_equals_the_api_without_torch(tmp_path):
    """The CLI's file and the Python API's array (both without torch) are the same pixels."""
    ir, vis = _pair(tmp_path, size=(40, 30))
    out = tmp_path / "fused.png"
    assert critnet("fuse", ir, vis, "-o", out, "--weights", "tiny", "--gray",
                   hide_torch=True)[0] == 0
    code = ("import sys\nsys.modules['torch'] = None\nimport numpy as np, critnet\n"
            "from critnet.io import to_uint\n"
            f"model = critnet.load_model('tiny', backend='auto')\n"
            f"a = to_uint(critnet.fuse({str(ir)!r}, {str(vis)!r}, model, gray=True))\n"
            f"np.save({str(tmp_path / 'api.npy')!r}, a)\n"
            "print(type(model).__name__)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "BundledRuntime"
    with Image.open(out) as image:
        np.testing.assert_array_equal(np.load(tmp_path / "api.npy"), np.asarray(image))


@pytest.mark.parametrize("weights", ["tiny", "steep"])
def test_tiles_and_the_raw_output_without_torch(tmp_path, weights):
    """Exact tiling and ``--normalize minmax`` (the raw decoder output) run on the shipped
    tiling graphs: 64-px tiles give the whole-frame pixels (to 8-bit rounding of ≤1e-5), and
    minmax stretches the raw output to the full range."""
    ir, vis = _pair(tmp_path, size=(150, 100))
    images = {}
    for name, extra in (("whole", ["--tile", "off"]), ("tiled", ["--tile", "64"]),
                        ("minmax", ["--normalize", "minmax"]),
                        ("minmax_tiled", ["--normalize", "minmax", "--tile", "64"])):
        out = tmp_path / f"{name}.png"
        code, stdout, err, torch = critnet("fuse", ir, vis, "-o", out, "--weights", weights,
                                           "--gray", *extra, hide_torch=True)
        assert code == 0, err
        assert not torch
        with Image.open(out) as image:
            images[name] = np.asarray(image, dtype=np.int16)
    assert np.abs(images["tiled"] - images["whole"]).max() <= 1
    assert np.abs(images["minmax_tiled"] - images["minmax"]).max() <= 1
    assert images["minmax"].min() == 0 and images["minmax"].max() == 255
    assert np.abs(images["minmax"] - images["whole"]).max() > 1  # stretched, not the same


def test_fuse_a_folder_without_torch(tmp_path):
    for stem in ("a", "bb", "ccc"):
        _pair(tmp_path, stem)
    code, out, err, torch = critnet("fuse", "--ir", tmp_path / "ir", "--vis", tmp_path / "vi",
                                    "-o", tmp_path / "out", "--weights", "tiny",
                                    hide_torch=True)
    assert code == 0, err
    assert not torch
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "bb.png",
                                                                     "ccc.png"]
    assert "fused 3, skipped 0, failed 0" in out


def test_fuse_a_camera_file_without_torch(tmp_path):
    """A DJI R-JPEG (its raw 16-bit counts; FLIR files need only the [thermal] extra)."""
    dji = TESTS / "fixtures" / "cameras" / "DJI_0002_T.JPG"
    with Image.open(dji) as image:
        width, height = image.size
    vis = tmp_path / "vis.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(vis)
    code, out, err, torch = critnet("fuse", dji, vis, "-o", tmp_path / "fused.png", "--weights",
                                    "tiny", hide_torch=True)
    assert code == 0, err
    assert not torch
    with Image.open(tmp_path / "fused.png") as image:
        assert image.size == (width, height)


def test_fuse_video_without_torch(tmp_path):
    av = pytest.importorskip("av", reason="critnet[video] not installed")
    rng = np.random.default_rng(0)
    paths = tmp_path / "ir.mp4", tmp_path / "vis.mp4"
    for path, channels, fmt in ((paths[0], 1, "gray"), (paths[1], 3, "rgb24")):
        with av.open(str(path), "w") as container:
            stream = container.add_stream("mpeg4", rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for _ in range(6):
                frame = rng.integers(0, 256, (48, 64, channels)[:3 if channels == 3 else 2],
                                     dtype=np.uint8)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format=fmt)))
            container.mux(stream.encode())
    out = tmp_path / "fused.mp4"
    code, stdout, err, torch = critnet("fuse", *paths, "-o", out, "--weights", "tiny",
                                       hide_torch=True)
    assert code == 0, err
    assert not torch
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6


def test_demo_without_torch(tmp_path):
    code, out, err, torch = critnet("demo", "-o", tmp_path / "demo", hide_torch=True)
    assert code == 0, err
    assert not torch
    with Image.open(tmp_path / "demo" / "panel.png") as panel:
        assert panel.width > 3 * 320


def test_evaluate_without_torch(tmp_path):
    for stem in ("a", "bb"):
        _pair(tmp_path, stem)
    assert critnet("fuse", "--ir", tmp_path / "ir", "--vis", tmp_path / "vi", "-o",
                   tmp_path / "fused", "--weights", "tiny", hide_torch=True)[0] == 0
    code, out, err, torch = critnet("evaluate", "--ir", tmp_path / "ir", "--vis",
                                    tmp_path / "vi", "--fused", tmp_path / "fused",
                                    hide_torch=True)
    assert code == 0, err
    assert not torch
    assert "EN" in out


def test_serve_fuses_without_torch(tmp_path):
    pytest.importorskip("starlette", reason="critnet[web] not installed")
    pytest.importorskip("uvicorn", reason="critnet[web] not installed")
    ir, vis = _pair(tmp_path, size=(64, 48))
    code = f"""
import sys
sys.modules["torch"] = None
sys.path.insert(0, {str(TESTS)!r})
from pathlib import Path
from web_helpers import Client, running
from critnet.web.app import Limits, Server
from critnet.web.pipeline import Models
from critnet.web.sessions import SessionStore
server = Server(models=Models(), sessions=SessionStore(Path({str(tmp_path / 's')!r})),
                limits=Limits(), folders=[])
with running(server) as url:
    status, answer = Client(url).fuse_files(Path({str(ir)!r}), Path({str(vis)!r}))
assert status == 200, answer
print(sorted(answer["metrics"]), "torch" in sys.modules and sys.modules["torch"] is not None)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("False")


@pytest.mark.parametrize("args, what", [
    (["fuse", "IR", "VIS", "-o", "OUT", "--backend", "torch"], "--backend torch"),
    (["fuse", "IR", "VIS", "-o", "OUT", "--weights", "MINE"], "your own weights"),
    (["train", "--config", "x.yaml"], "critnet train"),
    (["export", "--onnx", "OUT"], "critnet export"),
])
def test_what_needs_torch_names_the_extra_in_one_line(tmp_path, args, what):
    ir, vis = _pair(tmp_path)
    mine = tmp_path / "mine.safetensors"
    mine.write_bytes(b"x")
    names = {"IR": ir, "VIS": vis, "OUT": tmp_path / "out.png", "MINE": mine}
    code, out, err, torch = critnet(*(names.get(a, a) for a in args), hide_torch=True)
    assert code == 2
    assert not torch
    assert err.count("\n") == 0 and what in err
    assert "pip install 'critnet[torch]'" in err
    assert not (tmp_path / "out.png").exists()
