"""``critnet serve`` over HTTP (no browser): results equal the public API, bad uploads give one
line, sessions are isolated, files stay in the server's temporary folder and are removed."""

from __future__ import annotations

import http.client
import io
import json
import socket
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="critnet[web] not installed")
pytest.importorskip("uvicorn", reason="critnet[web] not installed")

from fusing_helpers import run_cli  # noqa: E402
from web_helpers import Client, running, write_pair  # noqa: E402

import critnet  # noqa: E402
from critnet.errors import CritnetError, InputError  # noqa: E402
from critnet.io import to_uint  # noqa: E402
from critnet.metrics import compute_metrics  # noqa: E402
from critnet.web import require_web  # noqa: E402
from critnet.web.app import Limits, Server  # noqa: E402
from critnet.web.pipeline import Models  # noqa: E402
from critnet.web.sessions import SessionStore  # noqa: E402
from critnet.weights import bundled_weights, default_weights_name  # noqa: E402

UPLOAD_LIMIT = 200_000
PIXEL_LIMIT = 100_000


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ir/`` + ``vi/`` with pairs a, b (64×48), an unmatched c, and a 48×40 IR 'odd'."""
    root = tmp_path_factory.mktemp("pairs")
    write_pair(root, "a", seed=1)
    write_pair(root, "b", seed=2)
    write_pair(root, "odd", size=(48, 40), vis_size=(64, 48), seed=3)
    Image.new("L", (64, 48)).save(root / "ir" / "c.png")
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pairs: Path) -> Server:
    root = tmp_path_factory.mktemp("serve") / "sessions"
    return Server(models=Models(), sessions=SessionStore(root),
                  limits=Limits(max_upload_bytes=UPLOAD_LIMIT, max_pixels=PIXEL_LIMIT,
                                max_batch=5),
                  folders=[pairs.resolve()])


@pytest.fixture(scope="module")
def url(server: Server):
    with running(server) as address:
        yield address


def _png(client: Client, path: str) -> np.ndarray:
    status, raw = client.request(path)
    assert status == 200, raw[:200]
    return np.asarray(Image.open(io.BytesIO(raw)))


def _session_folder(server: Server, client: Client) -> Path:
    token, session = server.sessions.get(client.token)
    assert token == client.token
    return session.folder


def _bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width``×``height`` with (almost) no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


def test_fused_image_and_metrics_equal_the_python_api(url: str, pairs: Path, server: Server):
    client = Client(url)
    ir, vis = pairs / "ir" / "a.png", pairs / "vi" / "a.png"
    status, answer = client.fuse_files(ir, vis)
    assert status == 200, answer
    fused = _png(client, answer["images"]["fused"])
    # the server's backend is auto (the shipped graph): pixel for pixel what critnet.fuse gives
    # with the same weights and backend (torch differs by ≤ 1e-5, so a level here and there)
    expected = to_uint(critnet.fuse(ir, vis, critnet.load_model(backend="auto")))
    np.testing.assert_array_equal(fused, expected)
    reference = compute_metrics(np.asarray(Image.open(ir)), np.asarray(Image.open(vis)),
                                expected, "paper")
    assert list(answer["metrics"]) == list(reference)
    for name, value in reference.items():
        assert answer["metrics"][name] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    np.testing.assert_array_equal(_png(client, answer["images"]["ir"]),
                                  np.asarray(Image.open(ir)))
    # the uploads are gone once fused; the results are in the session's temporary folder
    folder = _session_folder(server, client)
    assert server.sessions.root in folder.parents
    assert not any(p.is_file() for p in folder.rglob("uploads/*"))
    assert sorted(p.name for p in folder.rglob("*.png")) == ["fused.png", "ir.png", "vis.png"]


def test_options_reach_the_fusion(url: str, pairs: Path):
    client = Client(url)
    ir, vis = pairs / "ir" / "b.png", pairs / "vi" / "b.png"
    status, answer = client.fuse_files(ir, vis, gray=True, metrics="all")
    assert status == 200, answer
    fused = _png(client, answer["images"]["fused"])
    np.testing.assert_array_equal(fused, to_uint(critnet.fuse(ir, vis, gray=True)))
    assert len(answer["metrics"]) == 21


@pytest.mark.parametrize(("ir_bytes", "vis_name", "status", "words"), [
    (b"this is not an image", "a.png", 400, ["ir.png", "not an image"]),
    (_bomb_png(30000, 30000), "a.png", 400, ["ir.png", "too many pixels"]),
    (_bomb_png(1000, 1000), "a.png", 400, ["ir.png", "1,000,000 pixels", "--max-pixels"]),
    (None, "odd.png", 400, ["sizes must match", "--resize-ir"]),
    (b"\0" * (UPLOAD_LIMIT + 1), "a.png", 413, ["ir.png", "upload limit", "--max-upload-mb"]),
    (b"", "a.png", 400, ["ir.png", "empty file"]),
])
def test_bad_uploads_get_one_clear_line(url: str, pairs: Path, ir_bytes: bytes | None,
                                        vis_name: str, status: int, words: list[str]):
    client = Client(url)
    if ir_bytes is None:
        ir_bytes = (pairs / "ir" / vis_name).read_bytes()
    got, answer = client.upload("ir.png", ir_bytes)
    if got == 200:
        _, vis = client.upload(vis_name, (pairs / "vi" / vis_name).read_bytes())
        got, answer = client.json("/api/fuse", {"ir": answer["id"], "vis": vis["id"]})
    assert got == status, answer
    message = answer["error"]
    assert "\n" not in message and "Traceback" not in message
    for word in words:
        assert word in message, message


def test_resize_ir_fuses_mismatched_sizes(url: str, pairs: Path):
    client = Client(url)
    ir, vis = pairs / "ir" / "odd.png", pairs / "vi" / "odd.png"
    status, answer = client.fuse_files(ir, vis, resize_ir=True)
    assert status == 200, answer
    np.testing.assert_array_equal(_png(client, answer["images"]["fused"]),
                                  to_uint(critnet.fuse(ir, vis, critnet.load_model(backend="auto"),
                                                       resize_ir=True)))
    assert _png(client, answer["images"]["ir"]).shape == (48, 64)


def test_sessions_do_not_see_each_other(url: str, pairs: Path):
    first, second = Client(url), Client(url)
    status, answer = first.fuse_files(pairs / "ir" / "a.png", pairs / "vi" / "a.png")
    assert status == 200
    assert first.request(answer["images"]["fused"])[0] == 200
    assert second.request(answer["images"]["fused"])[0] == 404
    _, upload = first.upload("a.png", (pairs / "ir" / "a.png").read_bytes())
    status, stolen = second.json("/api/fuse", {"ir": upload["id"], "vis": upload["id"]})
    assert status == 400 and "no IR image uploaded in this session" in stolen["error"]


def test_scene_needs_no_upload(url: str):
    client = Client(url)
    status, answer = client.json("/api/fuse", {"scene": "night-road"})
    assert status == 200, answer
    assert _png(client, answer["images"]["fused"]).shape == (240, 320, 3)
    status, answer = client.json("/api/fuse", {"scene": "nowhere"})
    assert status == 400 and "unknown scene 'nowhere'" in answer["error"]


def test_batch_of_uploads_matches_by_stem(url: str, pairs: Path):
    client = Client(url)
    ids: dict[str, list[str]] = {"ir": [], "vis": []}
    for role, folder, stems in (("ir", "ir", "abc"), ("vis", "vi", "ab")):
        for stem in stems:
            ids[role].append(client.upload(f"{stem}.png",
                                           (pairs / folder / f"{stem}.png").read_bytes())[1]["id"])
    status, answer = client.json("/api/batch", ids)
    assert status == 200, answer
    assert [r["name"] for r in answer["results"]] == ["a", "b"]
    assert answer["unmatched"] == ["c.png"] and answer["errors"] == []
    first = _png(client, answer["results"][0]["images"]["fused"])
    np.testing.assert_array_equal(first, to_uint(critnet.fuse(pairs / "ir" / "a.png",
                                                              pairs / "vi" / "a.png")))


def test_batch_from_folders_only_inside_allowed_roots(url: str, pairs: Path, tmp_path: Path):
    client = Client(url)
    status, answer = client.json("/api/batch", {"ir_dir": str(pairs / "ir"),
                                                "vis_dir": str(pairs / "vi")})
    assert status == 200, answer
    assert [r["name"] for r in answer["results"]] == ["a", "b"]
    assert [e["name"] for e in answer["errors"]] == ["odd"]
    assert "sizes must match" in answer["errors"][0]["error"]
    assert (pairs / "ir" / "a.png").is_file()  # inputs in folders are read, never removed
    status, answer = client.json("/api/batch", {"ir_dir": str(tmp_path),
                                                "vis_dir": str(pairs / "vi")})
    assert status == 400 and "not inside a folder given with --folders" in answer["error"]


def test_closing_the_store_removes_every_session_folder(tmp_path: Path):
    store = SessionStore(tmp_path / "root")
    token, session = store.get(None)
    (session.folder / "x.png").write_bytes(b"x")
    assert store.get(token)[1] is session
    other_token, other = store.get("guessed-token")  # unknown tokens get a new session
    assert other_token not in (token, "guessed-token") and other.folder != session.folder
    store.close()
    assert not (tmp_path / "root").exists()


def test_expired_sessions_and_old_results_are_removed(tmp_path: Path):
    store = SessionStore(tmp_path / "root", ttl_s=0.0, max_results=1)
    token, session = store.get(None)
    for name in ("r1", "r2"):
        (session.folder / name).mkdir()
        store.add_result(session, name, session.folder / name)
    assert list(session.results) == ["r2"] and not (session.folder / "r1").exists()
    store.get(None)  # any later request expires idle sessions (ttl 0 s)
    assert not session.folder.exists()


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("critnet.web.WEB_PACKAGES", ("no_such_module_for_critnet",))
    with pytest.raises(CritnetError, match=r"pip install 'critnet\[web\]'"):
        require_web()


def test_a_chunked_upload_is_cut_at_the_limit(url: str):
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    chunks = (b"\0" * 50_000 for _ in range(UPLOAD_LIMIT // 50_000 + 2))  # no Content-Length
    connection.request("POST", "/api/upload?name=big.png", body=chunks, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 413
    assert "big.png: larger than this server's upload limit" in json.loads(response.read())["error"]
    connection.close()


def test_requests_for_another_host_name_are_refused(url: str):
    client = Client(url)
    status, body = client.request("/api/info", headers={"Host": "attacker.example"})
    assert status == 400 and b"Invalid host header" in body
    assert client.request("/api/info")[0] == 200


def test_extra_weights_are_offered_first():
    path = bundled_weights()["lite"]
    models = Models(path)
    default = default_weights_name()  # extra first, then critnet fuse's default, then the rest
    others = [n for n in bundled_weights() if n != default]
    assert list(models.choices) == ["lite.safetensors", default, *others]
    assert models.get("") is models.get("lite.safetensors")
    assert Models().default == default  # without an extra the page fuses as critnet fuse does
    with pytest.raises(InputError, match="unknown weights 'nope'"):
        models.get("nope")


def test_cli_serve_refuses_a_busy_port_and_a_missing_folder(capsys, tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run_cli(capsys, "serve", "--port", port, "--temp-dir", tmp_path)
    assert code == 2 and f"127.0.0.1:{port}: cannot listen" in err and "--port" in err
    assert list(tmp_path.iterdir()) == []  # nothing created before the port was ours
    code, _, err = run_cli(capsys, "serve", "--folders", tmp_path / "missing")
    assert code == 2 and "missing: --folders must name an existing folder" in err
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "serve" in out


def test_a_body_that_is_not_json_gets_one_line(url: str):
    status, raw = Client(url).request("/api/fuse", b"{not json", {"Content-Type": "text/plain"})
    assert status == 400 and json.loads(raw) == {"error": "the request body must be a JSON object"}


def test_pending_uploads_per_session_are_capped(url: str, pairs: Path, server: Server):
    client = Client(url)
    content = (pairs / "ir" / "a.png").read_bytes()
    ids = [client.upload("a.png", content)[1]["id"] for _ in range(2 * server.limits.max_batch + 1)]
    status, answer = client.json("/api/fuse", {"ir": ids[0], "vis": ids[-1]})
    assert status == 400 and "no IR image uploaded" in answer["error"]
    status, answer = client.json("/api/fuse", {"ir": ids[1], "vis": ids[-1]})
    assert status == 200, answer


def test_a_failed_batch_leaves_no_uploads_behind(url: str, pairs: Path, server: Server):
    client = Client(url)
    good = client.upload("a.png", (pairs / "ir" / "a.png").read_bytes())[1]["id"]
    status, answer = client.json("/api/batch", {"ir": [good], "vis": ["not-an-upload"]})
    assert status == 400 and "1 of the files are not uploaded" in answer["error"]
    ids = [client.upload(name, (pairs / folder / "a.png").read_bytes())[1]["id"]
           for name, folder in (("a.bmp", "ir"), ("a.png", "vi"))]
    # the refused batch took nothing: its good upload is still there to use
    status, answer = client.json("/api/batch", {"ir": [good, ids[0]], "vis": ids[1:]})
    assert status == 200 and answer["unmatched"] == ["a.bmp"]  # a repeated stem is not fused
    assert not any(p.is_file() for p in _session_folder(server, client).rglob("uploads/*"))


CAMERAS = Path(__file__).parent / "fixtures" / "cameras"


def test_a_radiometric_jpeg_with_a_photo_fuses_alone_as_the_cli_does(tmp_path: Path):
    pytest.importorskip("flyr", reason="critnet[thermal] not installed")
    path = CAMERAS / "flir_ax8.jpg"  # 80×60 thermal + 640×480 photo (tests/fixtures/cameras)
    server = Server(models=Models(), sessions=SessionStore(tmp_path / "sessions"),
                    limits=Limits(max_upload_bytes=1 << 20, max_pixels=1 << 20, max_batch=2))
    with running(server) as address:
        client = Client(address)
        status, upload = client.upload(path.name, path.read_bytes())
        assert status == 200, upload
        status, answer = client.json("/api/fuse", {"ir": upload["id"], "options": {}})
        assert status == 200, answer
        fused = _png(client, answer["images"]["fused"])
    expected = to_uint(critnet.fuse(path, path, critnet.load_model()))  # radiometric + its photo
    np.testing.assert_array_equal(fused, expected)
    assert answer["ir_name"] == answer["vis_name"] == "flir_ax8.jpg"


def test_an_ir_upload_alone_needs_an_embedded_photo(url: str, pairs: Path):
    pytest.importorskip("flyr", reason="critnet[thermal] not installed")
    client = Client(url)
    for path, says in ((pairs / "ir" / "a.png", "a.png: no visible image uploaded"),
                       (CAMERAS / "flir_e40.jpg", "flir_e40.jpg: FLIR E40 radiometric JPEG holds "
                                                  "no visible photo")):
        status, upload = client.upload(path.name, path.read_bytes())
        assert status == 200, upload
        status, answer = client.json("/api/fuse", {"ir": upload["id"], "options": {}})
        assert status == 400 and answer["error"].startswith(says), answer
        assert "\n" not in answer["error"] and "/tmp" not in answer["error"]


def test_a_radiometric_jpeg_is_the_ir_upload_with_its_temperatures(url: str, pairs: Path):
    pytest.importorskip("flyr", reason="critnet[thermal] not installed")
    client = Client(url)
    ir, vis = CAMERAS / "flir_e40.jpg", pairs / "vi" / "a.png"  # 160×120 thermal, 64×48 visible
    status, answer = client.fuse_files(ir, vis, resize_ir=True)
    assert status == 200, answer
    expected = to_uint(critnet.fuse(ir, vis, critnet.load_model(), resize_ir=True))
    np.testing.assert_array_equal(_png(client, answer["images"]["fused"]), expected)


def test_unmatched_api_paths_answer_json_404(url: str):
    """Found by benchmarks/fuzz_web.py: a result path with an empty part or an encoded slash
    matches no route; under /api/ the answer is still one line of JSON, elsewhere plain."""
    client = Client(url)
    for path in ("/api/result//fused.png", "/api/result/..%2F..%2Fetc%2Fpasswd/fused.png",
                 "/api/nothing"):
        status, raw = client.request(path)
        assert status == 404, path
        assert "no such API path" in json.loads(raw)["error"], path
    status, raw = client.request("/nothing")
    assert status == 404 and raw == b"Not Found"
