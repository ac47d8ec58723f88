"""``critnet data fetch``: downloads checked by SHA-256, refused and removed on a mismatch,
assembled out of sight and renamed when complete, resumed after a failure.

GitHub is out of reach here, so a local HTTP server on 127.0.0.1 serves the files at the paths
``raw.githubusercontent.com`` would (``/<repo>/<commit>/<upstream path>``): small fixture files
made in the tests, and, when the shared data is present, the real RoadScene and TNO files,
fetched through the package's own registries.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import http.server
import shutil
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import need
from fusing_helpers import run_cli
from PIL import Image

from critnet.errors import InputError
from critnet.evaluation.bench.datasets import load_dataset
from critnet.io import datasets_fetch
from critnet.io.datasets_fetch import (
    REGISTRY_COLUMNS,
    DownloadError,
    fetch_dataset,
    missing_dataset_message,
    pixels_sha256,
    read_registry,
    verify_folder,
)

pytest.importorskip("pooch", reason="the critnet[data] extra (pooch) is not installed")

REPO, COMMIT = "someone/Fixture-Set", "0123456789abcdef0123456789abcdef01234567"


class _Server:
    """Files under ``root`` served on 127.0.0.1; ``requests`` lists the paths asked for."""

    def __init__(self, root: Path) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                outer.requests.append(urllib.parse.unquote(self.path))
                super().do_GET()

            def log_message(self, *_args) -> None:
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[_Server, Path]]:
    root = tmp_path / "served"
    root.mkdir()
    server = _Server(root)
    yield server, root
    server.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _row(file: str, upstream: str, path: Path, **extra: str) -> dict:
    return {"file": file, "repo": REPO, "commit": COMMIT, "upstream": upstream,
            "bytes": path.stat().st_size, "sha256": _sha(path), "convert": "",
            "pixels_sha256": "", **extra}


def _write_registry(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "files.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, REGISTRY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _fixture_set(served_root: Path, registry: Path, name: str = "demo") -> list[dict]:
    """Two PNG pairs upstream, one of them as BMPs (converted), plus a shipped table."""
    upstream = served_root / REPO / COMMIT
    rng = np.random.default_rng(0)
    rows = []
    for kind in ("ir", "vi"):
        png = upstream / "png images" / kind / "01.png"  # a space: the URL must be quoted
        png.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (6, 8), dtype=np.uint8)).save(png)
        rows.append(_row(f"{kind}/a.png", f"png images/{kind}/01.png", png))
        bmp = upstream / "bmp" / f"b_{kind}.bmp"
        bmp.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (5, 7), dtype=np.uint8)).save(bmp)
        rows.append(_row(f"{kind}/b.png", f"bmp/b_{kind}.bmp", bmp, convert="bmp-png",
                         pixels_sha256=pixels_sha256(bmp)))
    table = registry / name / "pairs.csv"
    table.parent.mkdir(parents=True, exist_ok=True)
    table.write_text("stem,note\na,fixture\nb,fixture (BMP upstream)\n")
    rows.append({**_row("pairs.csv", "pairs.csv", table), "repo": "critnet", "commit": ""})
    _write_registry(registry / name, rows)
    return rows


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_fetch_verifies_converts_and_renames_when_complete(served, tmp_path: Path) -> None:
    server, served_root = served
    registry, root = tmp_path / "registry", tmp_path / "data"
    _fixture_set(served_root, registry)
    result = fetch_dataset("demo", root, registry_dir=registry, base_url=server.url,
                           progress=False)
    target = root / "demo"
    assert (result.folder, result.downloaded, result.present) == (target, 5, 0)
    assert _files(root) == ["demo/ir/a.png", "demo/ir/b.png", "demo/pairs.csv", "demo/vi/a.png",
                            "demo/vi/b.png"]  # no .part folder, no temporary or BMP file left
    upstream = served_root / REPO / COMMIT
    assert (target / "ir/a.png").read_bytes() == (upstream / "png images/ir/01.png").read_bytes()
    with Image.open(target / "vi/b.png") as png, Image.open(upstream / "bmp/b_vi.bmp") as bmp:
        assert png.format == "PNG" and png.mode == "L"
        assert np.array_equal(np.asarray(png), np.asarray(bmp))  # lossless
    assert (target / "pairs.csv").read_text().startswith("stem,note\na,fixture")
    assert sorted(server.requests) == [f"/{REPO}/{COMMIT}/bmp/b_ir.bmp",
                                       f"/{REPO}/{COMMIT}/bmp/b_vi.bmp",
                                       f"/{REPO}/{COMMIT}/png images/ir/01.png",
                                       f"/{REPO}/{COMMIT}/png images/vi/01.png"]
    again = fetch_dataset("demo", root, registry_dir=registry, base_url=server.url,
                          progress=False)
    assert again.already_complete and again.present == 5 and len(server.requests) == 4


def test_wrong_checksum_is_refused_removed_and_the_rest_resumes(served, tmp_path: Path) -> None:
    server, served_root = served
    registry, root = tmp_path / "registry", tmp_path / "data"
    rows = _fixture_set(served_root, registry)
    good = rows[2]["sha256"]  # vi/a.png
    rows[2]["sha256"] = hashlib.sha256(b"not this file").hexdigest()
    _write_registry(registry / "demo", rows)
    lines: list[str] = []
    with pytest.raises(DownloadError, match=r"demo: 1 of 5 files failed .*4 verified files are "
                                            r"kept in .*\.demo\.part; run the same command "
                                            r"again to resume from them$"):
        fetch_dataset("demo", root, registry_dir=registry, base_url=server.url, progress=False,
                      log=lines.append, retries=0)
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith(f"{server.url}/{REPO}/{COMMIT}/png%20images/vi/01.png: refused")
    assert not (root / "demo").exists()  # the folder critnet reads never exists half-done
    assert _files(root / ".demo.part") == ["ir/a.png", "ir/b.png", "pairs.csv", "vi/b.png"]

    rows[2]["sha256"] = good  # e.g. the network glitch is over: run again
    _write_registry(registry / "demo", rows)
    server.requests.clear()
    result = fetch_dataset("demo", root, registry_dir=registry, base_url=server.url,
                           progress=False)
    assert (result.downloaded, result.present) == (1, 4)
    assert server.requests == [f"/{REPO}/{COMMIT}/png images/vi/01.png"]
    assert not (root / ".demo.part").exists() and len(_files(root / "demo")) == 5


def test_resume_drops_leftovers_of_a_killed_run(served, tmp_path: Path) -> None:
    server, served_root = served
    registry, root = tmp_path / "registry", tmp_path / "data"
    _fixture_set(served_root, registry)
    staging = root / ".demo.part"
    (staging / "ir").mkdir(parents=True)
    (staging / "ir" / "tmpk1l2m3").write_bytes(b"half a download")  # pooch's temp name
    (staging / "ir" / "a.png").write_bytes(b"truncated")  # right name, wrong content
    result = fetch_dataset("demo", root, registry_dir=registry, base_url=server.url,
                           progress=False)
    assert result.downloaded == 5 and _files(root) == [
        "demo/ir/a.png", "demo/ir/b.png", "demo/pairs.csv", "demo/vi/a.png", "demo/vi/b.png"]


def test_an_existing_folder_is_verified_never_written(served, tmp_path: Path) -> None:
    server, served_root = served
    registry, root = tmp_path / "registry", tmp_path / "data"
    _fixture_set(served_root, registry)
    fetch_dataset("demo", root, registry_dir=registry, base_url=server.url, progress=False)
    (root / "demo" / "vi" / "b.png").write_bytes(b"edited by the user")
    before = len(server.requests)
    with pytest.raises(InputError, match=r"demo: exists, but 1 of 5 files are missing or not "
                                         r"the published ones \(first: vi/b.png\); move it"):
        fetch_dataset("demo", root, registry_dir=registry, base_url=server.url, progress=False)
    assert (root / "demo/vi/b.png").read_bytes() == b"edited by the user"
    assert len(server.requests) == before


def test_unreachable_server_stops_at_the_first_file(served, tmp_path: Path) -> None:
    _, served_root = served
    registry, root = tmp_path / "registry", tmp_path / "data"
    _fixture_set(served_root, registry)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    lines: list[str] = []
    with pytest.raises(DownloadError,
                       match="1 of 5 files failed .*, 4 not tried; nothing was kept; the "
                             "server could not be reached \\(offline\\?\\); run the same "
                             "command again once it can be$"):
        fetch_dataset("demo", root, registry_dir=registry, base_url=closed, progress=False,
                      log=lines.append, retries=0)
    assert len(lines) == 1 and "the server did not answer (ConnectionError)" in lines[0]


def test_cli_one_line_per_refused_file_then_exit_2(served, tmp_path: Path, capsys,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    server, served_root = served
    registry, root = tmp_path / "registry", tmp_path / "data"
    rows = _fixture_set(served_root, registry, name="tno")  # fixture registries under real names
    shutil.copytree(registry / "tno", registry / "roadscene")
    rows[0]["sha256"] = "0" * 64
    _write_registry(registry / "tno", rows)
    monkeypatch.setattr(datasets_fetch, "REGISTRY_DIR", registry)
    monkeypatch.setenv("CRITNET_FETCH_URL", server.url)
    monkeypatch.setenv("CRITNET_DATA", str(root))
    code, out, err = run_cli(capsys, "data", "fetch", "tno", "--no-progress")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 2 and "Traceback" not in err and out == ""
    assert lines[0].startswith("critnet: http://127.0.0.1:") and "ir/01.png: refused" in lines[0]
    assert lines[1].startswith("critnet: error: tno: 1 of 5 files failed")
    code, out, err = run_cli(capsys, "data", "fetch", "roadscene", "--no-progress")
    assert code == 0 and err == ""
    assert out == (f"wrote {root / 'roadscene'}: 5 files verified by SHA-256 (5 fetched, 0 kept "
                   f"from an earlier run)\n")
    code, out, err = run_cli(capsys, "data", "fetch", "roadscene", "--dir", tmp_path / "else",
                             "--no-progress")
    assert code == 0 and f"export CRITNET_DATA={tmp_path / 'else'}" in err


def test_missing_extra_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pooch", None)
    with pytest.raises(DownloadError, match=r"^downloading datasets needs the extra: "
                                            r"pip install 'critnet\[data\]'$"):
        fetch_dataset("tno", tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_bench_names_the_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_dataset("tno42", tmp_path)
    assert str(caught.value) == (f"{tmp_path / 'tno'}: dataset folder not found; download it "
                                 f"with: critnet data fetch tno --dir {tmp_path} (or set "
                                 f"CRITNET_DATA to a data root holding it)")
    assert "critnet cannot download it" in missing_dataset_message("vifb", tmp_path)


def test_package_registries_match_the_shared_copy(data_dir: Path) -> None:
    """The shared copy is the upstream bytes (MANIFEST.md), so every registry row must hold."""
    for name, files, pairs in (("roadscene", 443, 221), ("tno", 89, 44)):
        entries = read_registry(name)
        assert len(entries) == files and len({e.file for e in entries}) == files
        assert verify_folder(need(data_dir, name), entries) == []
        assert sum(e.file.startswith("ir/") for e in entries) == pairs
    converted = [e for e in read_registry("tno") if e.convert]
    extras = ("x1_soldier_behind_smoke_2", "x2_Tree_4901")
    assert [e.file for e in converted] == [f"{k}/{s}.png" for k in ("ir", "vi") for s in extras]
    assert all(e.upstream.endswith(".bmp") for e in converted)


def _serve_shared(data_dir: Path, served_root: Path, name: str) -> None:
    """Put the shared copy of ``name`` at its upstream URLs. The two TNO extras are stored as
    PNG, so their BMPs are re-made from the pixels; PIL writes other header fields than the
    upstream files (resolution, palette count), hence other bytes: the caller registers them."""
    for entry in read_registry(name):
        if entry.shipped:
            continue
        path = served_root / entry.repo / entry.commit / entry.upstream
        path.parent.mkdir(parents=True, exist_ok=True)
        if entry.convert:
            Image.open(data_dir / name / entry.file).save(path, format="BMP")
        else:
            shutil.copyfile(data_dir / name / entry.file, path)


@pytest.mark.parametrize(("name", "dataset", "pairs"), [("roadscene", "roadscene50", 50),
                                                        ("tno", "tno42", 42)])
def test_real_registry_end_to_end(data_dir: Path, served, tmp_path: Path, capsys,
                                  monkeypatch: pytest.MonkeyPatch, name: str, dataset: str,
                                  pairs: int) -> None:
    server, served_root = served
    need(data_dir, name)
    _serve_shared(data_dir, served_root, name)
    real, registry = datasets_fetch.REGISTRY_DIR, tmp_path / "registry"
    shutil.copytree(real, registry)
    rows = [{**vars(e), "sha256": _sha(served_root / e.repo / e.commit / e.upstream),
             "bytes": (served_root / e.repo / e.commit / e.upstream).stat().st_size}
            if e.convert else vars(e) for e in read_registry(name)]
    _write_registry(registry / name, rows)  # only the re-made BMPs' byte hashes change
    monkeypatch.setattr(datasets_fetch, "REGISTRY_DIR", registry)
    monkeypatch.setenv("CRITNET_FETCH_URL", server.url)
    code, out, err = run_cli(capsys, "data", "fetch", name, "--dir", tmp_path / "data",
                             "--no-progress")
    assert code == 0, err
    assert len(server.requests) == len(rows) - 1  # everything but the shipped table
    assert verify_folder(tmp_path / "data" / name, read_registry(name, real)) == []
    assert len(load_dataset(dataset, tmp_path / "data").pairs) == pairs
