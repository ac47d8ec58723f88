"""Issue 33: no lost message, no traceback, no meaningless success (one test per case)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from fusing_helpers import make_weights, run_cli
from PIL import Image

from critnet.io.quiet import quiet_decoding

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return make_weights(tmp_path_factory.mktemp("weights") / "lite.safetensors")


def _gray(path: Path, seed: int, size: tuple[int, int] = (40, 48)) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)).save(path)
    return path


def _corrupt_tiff(path: Path) -> Path:
    """A TIFF whose deflate stream is zeroed: libtiff complains while Pillow decodes it."""
    image = Image.fromarray(np.arange(480, dtype=np.uint8).reshape(20, 24))
    image.save(path, compression="tiff_adobe_deflate")
    data = bytearray(path.read_bytes())
    data[20:40] = bytes(20)
    path.write_bytes(bytes(data))
    return path


def _cli(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "critnet", *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


# (a) -- quieting a decoder never silences the process's stderr


def test_another_threads_stderr_appears_while_a_decoder_is_quieted(capfd):
    inside, done = threading.Event(), threading.Event()

    def decode():
        with quiet_decoding():
            inside.set()
            done.wait(5)

    reader = threading.Thread(target=decode)
    reader.start()
    assert inside.wait(5)
    os.write(2, b"failed: other thread's line\n")
    done.set()
    reader.join()
    assert "failed: other thread's line" in capfd.readouterr().err


def test_folder_run_prints_every_failure_line_every_time(tmp_path, weights):
    ir, vi = tmp_path / "ir", tmp_path / "vi"
    ir.mkdir()
    vi.mkdir()
    for i in range(6):
        _gray(ir / f"good{i}.png", i)
        _gray(vi / f"good{i}.png", 10 + i)
    for i in range(3):
        _corrupt_tiff(ir / f"bad{i}.tif")
        _gray(vi / f"bad{i}.png", 20 + i)
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        result = _cli("fuse", "-q", "--ir", ir, "--vis", vi, "-o", out, "--weights", weights,
                      "--device", "cpu", "--backend", "torch")
        assert result.returncode == 1, result.stderr
        failures = sorted(line.split(":")[1].strip() for line in result.stderr.splitlines()
                          if line.startswith("failed:"))
        assert failures == ["bad0", "bad1", "bad2"], result.stderr
        assert "Traceback" not in result.stderr


# (b) -- no command writes into an input folder


@pytest.mark.parametrize("inside", [".", "runs/mine"])
def test_train_refuses_an_output_folder_inside_an_input_folder(capsys, tmp_path, inside):
    ir, vi = tmp_path / "ir", tmp_path / "vi"
    ir.mkdir()
    vi.mkdir()
    for i in range(3):
        _gray(ir / f"p{i}.png", i, (64, 64))
        _gray(vi / f"p{i}.png", 10 + i, (64, 64))
    before = sorted(p.name for p in ir.rglob("*"))
    out = ir / inside
    code, stdout, stderr = run_cli(capsys, "train", "--ir", ir, "--vis", vi, "--out", out,
                                   "--device", "cpu", "--no-progress")
    assert code != 0
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "output folder is the IR input folder or inside it" in stderr and "--out" in stderr
    assert sorted(p.name for p in ir.rglob("*")) == before


# (c) -- a rerun removes the hidden temporaries a killed run left beside its output


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _video(path: Path, count: int = 3, gray16: bool = False) -> Path:
    av = pytest.importorskip("av", reason="video needs critnet[video] (PyAV)")
    yy, xx = np.mgrid[0:32, 0:48]
    container = av.open(str(path), "w")
    stream = container.add_stream("ffv1" if gray16 else "libx264", rate=10)
    stream.width, stream.height = 48, 32
    stream.pix_fmt = "gray16le" if gray16 else "yuv420p"
    for i in range(count):
        if gray16:
            frame = av.VideoFrame.from_ndarray((3000 + 10 * xx + 40 * i).astype(np.uint16),
                                               format="gray16le")
        else:
            rgb = np.stack([(xx * 5 + 8 * i) % 256, (yy * 7) % 256, np.full((32, 48), 200)], -1)
            frame = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
    container.close()
    return path


def test_video_rerun_removes_the_temporary_of_a_killed_run(capsys, tmp_path, weights):
    pytest.importorskip("cv2", reason="video needs critnet[video] (OpenCV)")
    ir, vis = _video(tmp_path / "ir.mkv", gray16=True), _video(tmp_path / "vis.mp4")
    out = tmp_path / "out" / "fused.mp4"
    out.parent.mkdir()
    stale = out.parent / f".fused.{_dead_pid()}.k3j_x9ab.tmp.mp4"
    stale.write_bytes(b"half a video")
    alive = out.parent / f".fused.{os.getpid()}.abcdefgh.tmp.mp4"  # a live run's: kept
    alive.write_bytes(b"being written")
    other = out.parent / "notes.txt"
    other.write_text("mine")
    code, _, stderr = run_cli(capsys, "fuse", ir, vis, "-o", out, "--weights", weights,
                              "--backend", "torch", "--pair-by", "index")
    assert code == 0, stderr
    assert "removed 1 temporary file(s)" in stderr
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        [alive.name, "fused.mp4", "notes.txt"])


def test_image_rerun_removes_the_temporary_of_a_killed_run(capsys, tmp_path, weights):
    ir, vis = _gray(tmp_path / "ir.png", 1), _gray(tmp_path / "vis.png", 2)
    stale = tmp_path / f".fused.{_dead_pid()}.k3j_x9ab.tmp.png"
    stale.write_bytes(b"half an image")
    code, _, stderr = run_cli(capsys, "fuse", ir, vis, "-o", tmp_path / "fused.png",
                              "--weights", weights, "--backend", "torch")
    assert code == 0, stderr
    assert not stale.exists() and (tmp_path / "fused.png").is_file()


# (d), (f) -- the web API: a write error is one JSON line with nothing left behind; every field
# is type-checked; every JSON body is capped

JSON_LIMIT = 2_000


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    pytest.importorskip("starlette", reason="critnet[web] not installed")
    pytest.importorskip("uvicorn", reason="critnet[web] not installed")
    from web_helpers import running

    from critnet.web.app import Limits, Server
    from critnet.web.pipeline import Models
    from critnet.web.sessions import SessionStore

    server = Server(models=Models(), limits=Limits(max_json_bytes=JSON_LIMIT),
                    sessions=SessionStore(tmp_path_factory.mktemp("serve") / "sessions"))
    with running(server) as url:
        yield server, url


def _full_disk_save(monkeypatch):
    """Every PNG save writes a few bytes, then fails as a full disk does."""
    import errno

    def save(self, fp, *args, **kwargs):
        with open(fp, "wb") as file:
            file.write(b"\x89PNG\r\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save)


def test_web_full_disk_is_a_json_error_and_leaves_no_file(web, monkeypatch):
    from web_helpers import Client

    server, url = web
    client = Client(url)
    assert client.json("/api/info")[0] == 200
    _full_disk_save(monkeypatch)
    status, answer = client.json("/api/fuse", {"scene": "night-road"})
    assert status == 507 and "No space left on device" in answer["error"], answer
    _, session = server.sessions.get(client.token)
    assert [p for p in session.folder.rglob("*") if p.is_file()] == []


def test_web_upload_write_error_is_a_json_error_and_leaves_no_file(web, monkeypatch):
    import errno

    from web_helpers import Client

    import critnet.web.handlers as handlers

    class Full:
        def __init__(self, path, _mode):
            self.file = open(path, "wb")  # noqa: SIM115

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            self.file.write(data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

    server, url = web
    client = Client(url)
    monkeypatch.setattr(handlers, "open", Full, raising=False)
    status, answer = client.upload("a.png", b"x" * 1000)
    assert status == 507 and "No space left on device" in answer["error"]
    _, session = server.sessions.get(client.token)
    assert [p for p in session.folder.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(("path", "body", "words"), [
    ("/api/batch", {"ir": "abc", "vis": 5}, "field 'ir' must be a list of upload ids"),
    ("/api/batch", {"ir": ["a"], "vis": [5]}, "field 'vis' must be a list of upload ids"),
    ("/api/batch", {"ir_dir": 3, "vis_dir": "x"}, "field 'ir_dir' must be a folder path"),
    ("/api/fuse", {"ir": 5, "vis": "x"}, "field 'ir' must be an upload id (a string), got a"),
    ("/api/fuse", {"scene": ["night-road"]}, "field 'scene' must be a string, got a list"),
    ("/api/fuse", {"scene": "night-road", "options": []}, "field 'options' must be an object"),
    ("/api/fuse", {"scene": "night-road", "options": {"gray": "yes"}},
     "field 'options.gray' must be true or false, got a string"),
    ("/api/fuse", {"scene": "night-road", "options": {"weights": 1}},
     "field 'options.weights' must be a string, got a number"),
])
def test_web_fields_of_the_wrong_type_are_a_400_naming_the_field(web, path, body, words):
    from web_helpers import Client

    status, answer = Client(web[1]).json(path, body)
    assert status == 400 and words in answer["error"], answer


@pytest.mark.parametrize("path", ["/api/fuse", "/api/batch"])
@pytest.mark.parametrize("chunked", [False, True])
def test_web_json_bodies_are_capped(web, path, chunked):
    import http.client
    import json

    host, port = web[1].removeprefix("http://").split(":")
    body = json.dumps({"scene": "night-road", "pad": "x" * (3 * JSON_LIMIT)}).encode()
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    if chunked:  # no Content-Length: cut while reading
        connection.request("POST", path, body=(body[i:i + 500] for i in range(0, len(body), 500)),
                           encode_chunked=True, headers={"Content-Type": "application/json"})
    else:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 413
    assert f"limit of {JSON_LIMIT:,} bytes" in json.loads(response.read())["error"]
    connection.close()


# (e) -- videos: a non-video output, or a video with an image, is one line naming the cause


@pytest.mark.parametrize("name", ["fused.png", "fused", "fused.webm"])
def test_two_videos_into_a_non_video_output_is_one_line(capsys, tmp_path, weights, name):
    pytest.importorskip("cv2", reason="video needs critnet[video] (OpenCV)")
    ir, vis = _video(tmp_path / "ir.mkv", gray16=True), _video(tmp_path / "vis.mp4")
    code, stdout, stderr = run_cli(capsys, "fuse", ir, vis, "-o", tmp_path / name,
                                   "--weights", weights, "--backend", "torch")
    assert code == 2 and "Traceback" not in stderr and stdout == ""
    assert stderr.count("\n") == 1 and f"{name}: two videos fuse into a video file" in stderr
    assert "-o " in stderr and ".mp4" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ir.mkv", "vis.mp4"]


@pytest.mark.parametrize(("ir_name", "vis_name", "out_name", "named"), [
    ("ir.mkv", "vis.png", "fused.mp4", "vis.png"),
    ("audio.mp3", "vis.mp4", "fused.mp4", "audio.mp3"),
    ("audio.mp3", "vis.png", "fused.mp4", "audio.mp3"),
])
def test_a_video_with_a_non_video_names_the_non_video(capsys, tmp_path, weights, ir_name,
                                                      vis_name, out_name, named):
    pytest.importorskip("cv2", reason="video needs critnet[video] (OpenCV)")
    for name in (ir_name, vis_name):
        if name.endswith(".mkv"):
            _video(tmp_path / name, gray16=True)
        elif name.endswith(".mp4"):
            _video(tmp_path / name)
        elif name.endswith(".png"):
            _gray(tmp_path / name, 0, (32, 48))
        else:
            (tmp_path / name).write_bytes(b"ID3\x04" + bytes(200))
    code, _, stderr = run_cli(capsys, "fuse", tmp_path / ir_name, tmp_path / vis_name, "-o",
                              tmp_path / out_name, "--weights", weights)
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert f"{named}: not a video" in stderr and "cannot write" not in stderr
    assert not (tmp_path / out_name).exists()


# (h) -- no meaningless success

CAMERAS = Path(__file__).parent / "fixtures" / "cameras"


def _float_tiff(path: Path, low: float = 33.0, high: float = 188.0) -> Path:
    ramp = np.linspace(low, high, 40 * 48, dtype=np.float32).reshape(40, 48)
    Image.fromarray(ramp, mode="F").save(path)
    return path


@pytest.mark.parametrize(("ir_range", "shade"), [(("500", "600"), "black"),
                                                 (("-20", "0"), "white")])
def test_an_ir_range_outside_the_data_is_refused_saying_what_the_data_spans(
        capsys, tmp_path, weights, ir_range, shade):
    ir, vis = _float_tiff(tmp_path / "temps.tif"), _gray(tmp_path / "vis.png", 1)
    out = tmp_path / "fused.png"
    code, _, stderr = run_cli(capsys, "fuse", ir, vis, "-o", out, "--weights", weights,
                              "--ir-range", *ir_range)
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert "temps.tif: the IR values span 33..188" in stderr and f"uniformly {shade}" in stderr
    assert not out.exists()
    code, _, stderr = run_cli(capsys, "fuse", ir, vis, "-o", out, "--weights", weights,
                              "--ir-range", "100", "600")  # overlapping: fine
    assert code == 0, stderr


def test_full_normalisation_of_temperatures_is_refused(capsys, tmp_path, weights):
    ir, vis = _float_tiff(tmp_path / "temps.tif"), _gray(tmp_path / "vis.png", 1)
    code, _, stderr = run_cli(capsys, "fuse", ir, vis, "-o", tmp_path / "f.png", "--weights",
                              weights, "--ir-normalize", "full")
    assert code == 2 and "float values spanning 33..188, not 0..1" in stderr
    assert "--ir-normalize" in stderr and not (tmp_path / "f.png").exists()
    unit = _float_tiff(tmp_path / "unit.tif", 0.1, 0.9)  # float data in 0..1: full is fine
    code, _, stderr = run_cli(capsys, "fuse", unit, vis, "-o", tmp_path / "g.png", "--weights",
                              weights, "--ir-normalize", "full")
    assert code == 0, stderr


def test_flir_temperatures_refuse_full_and_a_range_outside_them(capsys, tmp_path, weights):
    pytest.importorskip("flyr", reason="needs critnet[thermal]")
    flir = CAMERAS / "flir_one.jpg"
    for extra, words in ((("--ir-normalize", "full"), "temperatures spanning 25.95..62.32 °C"),
                         (("--ir-range", "500", "600"), "span 25.95..62.32 °C, all outside")):
        code, _, stderr = run_cli(capsys, "fuse", flir, "-o", tmp_path / "f.png", "--weights",
                                  weights, *extra)
        assert code == 2 and words in stderr and stderr.count("\n") == 1, stderr


@pytest.mark.parametrize(("extra", "words"), [
    (("--register-method", "ecc"), "--register-method chooses how --register"),
    (("--pair-by", "index"), "--pair-by pairs the frames of two videos"),
    (("--time-tolerance", "0.5"), "--time-tolerance pairs the frames of two videos"),
])
def test_image_options_that_would_do_nothing_are_refused(capsys, tmp_path, weights, extra,
                                                         words):
    ir, vis = _gray(tmp_path / "ir.png", 1), _gray(tmp_path / "vis.png", 2)
    code, _, stderr = run_cli(capsys, "fuse", ir, vis, "-o", tmp_path / "f.png", "--weights",
                              weights, *extra)
    assert code == 2 and words in stderr and not (tmp_path / "f.png").exists()


@pytest.mark.parametrize(("extra", "words"), [
    (("--bit-depth", "16"), "--bit-depth 16 is for grey PNG/TIFF images"),
    (("--pair-by", "index", "--time-tolerance", "1"), "--time-tolerance applies to --pair-by"),
])
def test_video_options_that_would_do_nothing_are_refused(capsys, tmp_path, weights, extra,
                                                         words):
    ir, vis = _video(tmp_path / "ir.mkv", gray16=True), _video(tmp_path / "vis.mp4")
    code, _, stderr = run_cli(capsys, "fuse", ir, vis, "-o", tmp_path / "f.mp4", "--weights",
                              weights, *extra)
    assert code == 2 and words in stderr and not (tmp_path / "f.mp4").exists()


def test_evaluate_refuses_masks_that_are_not_masks(capsys, tmp_path):
    for folder in ("ir", "vi", "fused", "masks"):
        (tmp_path / folder).mkdir()
    for i, stem in enumerate(("a", "b")):
        for folder in ("ir", "vi", "fused"):
            _gray(tmp_path / folder / f"{stem}.png", 10 * i + len(folder), (48, 48))
    _gray(tmp_path / "masks" / "a.png", 99, (48, 48))  # a photo, not a mask
    args = ("evaluate", "--ir", tmp_path / "ir", "--vis", tmp_path / "vi", "--fused",
            tmp_path / "fused", "--masks", tmp_path / "masks", "--no-progress")
    code, stdout, stderr = run_cli(capsys, *args)
    assert code == 2 and "a.png: not a target mask" in stderr, stderr
    mask = np.zeros((48, 48), np.uint8)
    mask[20:28, 20:28] = 255
    Image.fromarray(mask).save(tmp_path / "masks" / "a.png")
    code, stdout, stderr = run_cli(capsys, *args)
    assert code == 0 and "Retention" in stdout, stderr
    Image.fromarray(np.full((48, 48), 255, np.uint8)).save(tmp_path / "masks" / "a.png")
    code, _, stderr = run_cli(capsys, *args)
    assert code == 2 and "covers the whole image" in stderr


# (j) -- training on a small folder just works, the split saying what it did


@pytest.mark.parametrize(("val", "adapted"), [(None, True), ("0.3", False), ("0.6", True)])
def test_train_on_eight_pairs_works_with_the_default_and_a_large_val(data_dir, capsys,
                                                                     tmp_path, val, adapted):
    import yaml
    from train_data_helpers import tiny_config, write_folder

    ir, vi = write_folder(data_dir, tmp_path / "pairs", 8)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(min_pairs=4)))  # as the folder recipe
    out = tmp_path / "run"
    args = ["train", "--config", config, "--ir", ir, "--vis", vi, "--out", out, "--max-steps",
            "1", "--no-progress"] + (["--val", val] if val else [])
    code, stdout, stderr = run_cli(capsys, *args)
    assert code == 0, stderr
    data_line = next(line for line in stderr.splitlines() if line.startswith("data: "))
    assert " 0 validation" not in data_line and "training and " in data_line
    trained = int(data_line.split()[1])
    assert trained >= 4
    split = [line for line in stderr.splitlines() if line.startswith("split: ")]
    assert len(split) == adapted and all("held out the" in line for line in split)
    assert (out / "checkpoint.pt").is_file()


# (i) -- messages that name the real cause


def test_serve_on_any_loopback_address_does_not_warn_and_accepts_its_host(monkeypatch,
                                                                         tmp_path):
    pytest.importorskip("uvicorn", reason="critnet[web] not installed")
    import uvicorn

    from critnet.web.run import is_loopback, serve

    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "127.8.9.10", "::1", "[::1]",
                                 "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.4", "::", "example.org"]))
    seen = {}

    def run(self, sockets):
        seen["hosts"] = self.config.app.user_middleware[0].kwargs["allowed_hosts"]

    monkeypatch.setattr(uvicorn.Server, "run", run)
    lines: list[str] = []
    serve(host="127.0.0.2", port=0, say=lines.append, temp_dir=tmp_path)
    assert not any(line.startswith("warning") for line in lines), lines
    assert "127.0.0.2" in seen["hosts"] and "*" not in seen["hosts"]
    lines.clear()
    serve(host="0.0.0.0", port=0, say=lines.append, temp_dir=tmp_path)
    assert lines[0] == "warning: listening on 0.0.0.0: other machines can reach this page"


def test_cli_messages_name_options_not_python_keywords(capsys, tmp_path, weights):
    ir, vis = _gray(tmp_path / "ir.png", 1, (32, 40)), _gray(tmp_path / "vis.png", 2)
    code, _, stderr = run_cli(capsys, "fuse", ir, vis, "-o", tmp_path / "f.png", "--weights",
                              weights)
    assert code == 2 and "--resize-ir" in stderr and "resize_ir" not in stderr, stderr
    for folder in ("i", "v"):
        (tmp_path / folder).mkdir()
    _gray(tmp_path / "i" / "x.png", 1, (32, 40))
    _gray(tmp_path / "v" / "x.png", 2)
    code, _, stderr = run_cli(capsys, "fuse", "--ir", tmp_path / "i", "--vis", tmp_path / "v",
                              "-o", tmp_path / "out", "--weights", weights)
    failed = [line for line in stderr.splitlines() if line.startswith("failed: x:")]
    assert code == 1 and len(failed) == 1 and "--resize-ir" in failed[0]
    assert "resize_ir" not in stderr


def test_a_weights_warning_is_one_line_without_python_source(capsys, tmp_path):
    from safetensors.torch import load_file, save_file

    from critnet.weights import read_metadata

    path = make_weights(tmp_path / "old.safetensors")
    meta = read_metadata(path)
    del meta["tensors_sha256"]
    save_file(load_file(str(path)), str(path), metadata=meta)
    ir, vis = _gray(tmp_path / "ir.png", 1), _gray(tmp_path / "vis.png", 2)
    code, _, stderr = run_cli(capsys, "fuse", ir, vis, "-o", tmp_path / "f.png", "--weights",
                              path, "--backend", "torch")
    assert code == 0, stderr
    assert stderr.splitlines() == [f"critnet: warning: {path}: no tensor checksum in its "
                                   f"metadata (written by an older critnet); corruption cannot "
                                   f"be detected"]


def test_resume_with_other_epochs_names_the_changed_key(data_dir, capsys, tmp_path):
    import yaml
    from train_data_helpers import tiny_config, write_folder

    ir, vi = write_folder(data_dir, tmp_path / "pairs", 4)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config()))
    args = ["train", "--config", config, "--ir", ir, "--vis", vi, "--out", tmp_path / "run",
            "--val", "0", "--max-steps", "1", "--no-progress"]
    assert run_cli(capsys, *args, "--epochs", "5")[0] == 0
    code, _, stderr = run_cli(capsys, *args, "--epochs", "10", "--resume")
    assert code == 2 and "schedule.epochs: 5 -> 10" in stderr, stderr


@pytest.mark.parametrize("as_folder", [False, True])
def test_a_symlink_loop_is_named_as_such(capsys, tmp_path, weights, as_folder):
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(loop)
    vis = _gray(tmp_path / "vis.png", 1)
    args = ["--ir", loop, "--vis", tmp_path] if as_folder else [loop, vis]
    code, _, stderr = run_cli(capsys, "fuse", *args, "-o", tmp_path / "out.png", "--weights",
                              weights)
    assert code == 2 and f"{loop}: a symbolic link loop" in stderr, stderr
    assert "folders" not in stderr
    dangling = tmp_path / "gone.png"
    dangling.symlink_to(tmp_path / "missing.png")
    code, _, stderr = run_cli(capsys, "fuse", dangling, vis, "-o", tmp_path / "o.png")
    assert code == 2 and f"a symbolic link to {tmp_path / 'missing.png'}, which does not" in stderr


def test_a_stem_clash_is_named_even_beside_an_animated_gif(capsys, tmp_path, weights):
    ir, vi = tmp_path / "ir", tmp_path / "vi"
    ir.mkdir()
    vi.mkdir()
    _gray(ir / "x.png", 1)
    Image.open(ir / "x.png").convert("RGB").save(ir / "x.jpg")
    frames = [Image.new("L", (8, 8), v) for v in (0, 255)]
    frames[0].save(ir / "anim.gif", save_all=True, append_images=frames[1:])
    _gray(vi / "x.png", 2)
    code, _, stderr = run_cli(capsys, "fuse", "--ir", ir, "--vis", vi, "-o", tmp_path / "out",
                              "--weights", weights)
    assert code == 2 and "two images share the stem 'x' (x.jpg, x.png)" in stderr, stderr
    assert "anim.gif" not in stderr


def test_dji_r_suffix_is_the_thermal_frame_of_its_shot(capsys, tmp_path, weights):
    from critnet.io.pairs import match_pairs

    flight = tmp_path / "flight"
    flight.mkdir()
    (flight / "DJI_0001_R.JPG").write_bytes((CAMERAS / "DJI_0002_T.JPG").read_bytes())
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (512, 640, 3), np.uint8)).save(
        flight / "DJI_0001_W.JPG")
    match = match_pairs(flight, flight)
    assert match.pairs == [("DJI_0001", flight / "DJI_0001_R.JPG", flight / "DJI_0001_W.JPG")]
    assert match.unmatched_ir == match.unmatched_vis == []
    code, stdout, stderr = run_cli(capsys, "fuse", "--ir", flight, "--vis", flight, "-o",
                                   tmp_path / "out", "--weights", weights, "--backend", "torch")
    assert code == 0 and "fused 1, skipped 0, failed 0" in stdout, stderr
    assert (tmp_path / "out" / "DJI_0001.png").is_file()


def test_a_truncated_flir_file_is_named_truncated_not_a_key_error(tmp_path):
    pytest.importorskip("flyr", reason="needs critnet[thermal]")
    from critnet.errors import InputError
    from critnet.io import read_ir

    data = (CAMERAS / "flir_one.jpg").read_bytes()
    messages = []
    for percent in range(2, 34, 3):
        path = tmp_path / f"cut{percent}.jpg"
        path.write_bytes(data[:len(data) * percent // 100])
        with pytest.raises(InputError) as error:
            read_ir(path)
        messages.append(str(error.value))
    assert all("truncated" in m and "KeyError" not in m for m in messages), messages


def test_export_on_a_full_disk_names_the_output_and_leaves_nothing(capsys, monkeypatch,
                                                                   tmp_path, weights):
    import errno

    pytest.importorskip("onnx", reason="needs critnet[onnx]")
    real = Path.write_bytes

    def full(self, data):
        real(self, data[:100])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    out = tmp_path / "model.onnx"
    code, _, stderr = run_cli(capsys, "export", "--onnx", out, "--weights", weights)
    assert code == 2, stderr
    assert stderr == f"critnet: error: {out}: cannot write output here (No space left on device)\n"
    assert list(tmp_path.iterdir()) == []


def test_a_failed_estimate_on_an_aligned_pair_blames_the_estimate(monkeypatch):
    pytest.importorskip("cv2", reason="registration needs critnet[video] (OpenCV)")
    from scipy import ndimage

    from critnet.errors import InputError
    from critnet.pipeline.registration import estimate

    noise = ndimage.gaussian_filter(np.random.default_rng(3).random((96, 128)), 3)
    scene = ((noise - noise.min()) / np.ptp(noise)).astype(np.float32)  # no repeating pattern
    far = np.array([[1.0, 0, 60.0], [0, 1.0, 40.0], [0, 0, 1.0]])  # a wildly wrong estimate
    monkeypatch.setattr(estimate, "_estimate", lambda *args: far)
    with pytest.raises(InputError) as error:
        estimate.estimate_transform(scene, scene, method="mattes", strict=True)
    message = str(error.value)
    assert "already look aligned" in message and "the mattes estimate" in message
    assert "do not seem to show the same scene" not in message
    kept = estimate.estimate_transform(scene, scene, method="mattes")
    assert kept.kept_identity and "already look aligned" in kept.describe()


# priority 3 -- the Python API refuses degenerate arrays with a ValueError naming the problem


@pytest.mark.parametrize(("ir", "words"), [
    (np.zeros((0, 0), np.float32), "IR array: 0×0 pixels (W×H) is empty"),
    (np.zeros((0, 8, 3), np.uint8), "IR array: 8×0 pixels (W×H) is empty"),
    (np.zeros((1, 1), np.float32), "IR array: 1×1 pixels (W×H) is too small to fuse"),
    (np.zeros((1, 40), np.uint8), "IR array: 40×1 pixels (W×H) is too small to fuse"),
    (Image.new("L", (1, 1)), "IR image: 1×1 pixels (W×H) is too small to fuse"),
    (np.zeros((8, 8), np.int64), "IR array: unsupported dtype int64"),
    (np.zeros((8, 8), np.complex64), "IR array: unsupported dtype complex64"),
    (np.full((8, 8), np.nan, np.float32), "IR array: contains NaN or infinite values"),
    (np.full((8, 8), np.inf, np.float32), "IR array: contains NaN or infinite values"),
    (np.zeros(8, np.float32), "IR array: expected H×W, H×W×1, H×W×3 or H×W×4, got shape (8,)"),
])
def test_degenerate_arrays_are_a_value_error_naming_the_problem(ir, words):
    from fusing_helpers import seeded_lite

    import critnet

    vis = np.full((8, 8), 0.5, np.float32)
    with pytest.raises(ValueError) as error:
        critnet.fuse(ir, vis, seeded_lite())
    assert words in str(error.value)


def test_a_visible_array_out_of_range_is_not_told_to_use_ir_normalize():
    from fusing_helpers import seeded_lite

    import critnet

    with pytest.raises(ValueError, match=r"visible array: .*-1\.\.2\); scale it to 0\.\.1$"):
        critnet.fuse(np.zeros((8, 8), np.float32),
                     np.linspace(-1, 2, 64, dtype=np.float32).reshape(8, 8), seeded_lite())


def test_a_constant_input_is_fused_with_a_warning():
    from fusing_helpers import seeded_lite

    import critnet
    from critnet.errors import FlatInputWarning

    vis = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    with pytest.warns(FlatInputWarning, match=r"IR array is one value everywhere \(0\.25"):
        fused = critnet.fuse(np.full((16, 16), 0.25, np.float32), vis, seeded_lite())
    assert fused.shape == (16, 16)


def test_cli_warns_in_one_line_about_a_constant_file_and_refuses_an_all_nan_one(
        capsys, tmp_path, weights):
    vis = _gray(tmp_path / "vis.png", 1)
    flat = tmp_path / "flat.png"
    Image.new("L", (48, 40), 90).save(flat)
    code, _, stderr = run_cli(capsys, "fuse", flat, vis, "-o", tmp_path / "f.png", "--weights",
                              weights, "--backend", "torch")
    assert code == 0 and stderr.splitlines() == [
        f"critnet: warning: IR {flat} is one value everywhere (0.3529 of 0..1): it carries no "
        f"detail; the fused image shows the other input's only"]
    nan = tmp_path / "nan.tif"
    Image.fromarray(np.full((40, 48), np.nan, np.float32), mode="F").save(nan)
    code, _, stderr = run_cli(capsys, "fuse", nan, vis, "-o", tmp_path / "g.png", "--weights",
                              weights)
    assert code == 2 and "nan.tif: holds no finite value" in stderr
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize(("args", "words"), [
    (("--time-tolerance", "-1"), "'--time-tolerance': -1.0 is not in the range"),
    (("--time-tolerance", "0"), "'--time-tolerance': 0.0 is not in the range"),
])
def test_numeric_fuse_options_are_validated_where_parsed(capsys, tmp_path, args, words):
    code, _, stderr = run_cli(capsys, "fuse", tmp_path / "a.png", tmp_path / "b.png", "-o",
                              tmp_path / "c.jpg", *args)
    assert code == 2 and words in stderr


def test_a_nan_time_tolerance_is_refused(tmp_path):
    from critnet.errors import InputError
    from critnet.pipeline.video import fuse_video

    ir, vis = _video(tmp_path / "ir.mkv", gray16=True), _video(tmp_path / "vis.mp4")
    with pytest.raises(InputError, match="time tolerance must be a positive number"):
        fuse_video(ir, vis, tmp_path / "o.mp4", time_tolerance=float("nan"))
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize(("args", "words"), [
    (("--ring", "5", "3"), "INNER 5 must be below OUTER 3"),
    (("--jobs", "0"), "0 is not in the range 1<=x<=256"),
    (("--digits", "-1"), "-1 is not in the range 0<=x<=12"),
])
def test_numeric_evaluate_options_are_validated_where_parsed(capsys, tmp_path, args, words):
    code, _, stderr = run_cli(capsys, "evaluate", "--ir", tmp_path, "--vis", tmp_path,
                              "--fused", tmp_path, *args)
    assert code == 2 and words in stderr


def test_idle_option_refusals_are_one_line(capsys, tmp_path, weights):
    ir, vis = _gray(tmp_path / "ir.png", 1), _gray(tmp_path / "vis.png", 2)
    code, _, stderr = run_cli(capsys, "fuse", ir, vis, "-o", tmp_path / "f.png", "--weights",
                              weights, "--register-method", "ecc")
    assert code == 2 and stderr.startswith("critnet: error: --register-method")
    assert stderr.count("\n") == 1
