"""Fuzz the web page's API (``critnet serve``): random requests to every endpoint, with valid,
damaged and hostile bodies, against a real server on 127.0.0.1 (issue 33).

Usage: ``python benchmarks/fuzz_web.py [--cases 10000] [--seed 0] [--timeout 60]``

Each case is one request: an upload (a valid small PNG or JPEG, a damaged or empty file, random
bytes, odd names such as ``../x`` or 300 characters), a fuse or batch body (JSON of the right
shape with values of every type, ids that exist or not, folder paths inside, outside and above
the served folder, non-JSON, arrays, deep nesting, a body over the cap) or a result path. A case
passes when the answer comes within ``--timeout`` seconds, its status is not 500 (an internal
error), and every error status carries a JSON body with a one-line ``error``. At the end, the
served input folder must hold exactly the files it started with, and the server's session
folder must be gone once it stops.

Reuses the test suite's server helpers (``tests/web_helpers.py``: uvicorn in a thread, a client
with its own cookie jar).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from web_helpers import Client, running, write_pair  # noqa: E402

from critnet.web.app import Limits, Server  # noqa: E402
from critnet.web.pipeline import Models  # noqa: E402
from critnet.web.sessions import SessionStore  # noqa: E402

#: Bodies above this are over every JSON cap (1 MB): the server may close the connection before
#: the client has sent it all, which is its right.
OVER_CAP = 1_500_000
ODD_VALUES = [None, True, 0, -1, 3.5, float("inf"), "", "x", "../../etc/passwd", "a" * 300,
              [], [1, "a"], {}, {"a": {"b": [None]}}]


def _image_bytes(rng: np.random.Generator) -> tuple[str, bytes]:
    h, w = int(rng.integers(1, 80)), int(rng.integers(1, 80))
    colour = bool(rng.random() < 0.5)
    shape = (h, w, 3) if colour else (h, w)
    img = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
    suffix = str(rng.choice(["png", "jpg"]))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG" if suffix == "png" else "JPEG")
    data = bytearray(buffer.getvalue())
    damage = rng.choice(["none", "none", "truncate", "flip", "empty", "random"])
    if damage == "truncate":
        data = data[: int(rng.integers(1, len(data)))]
    elif damage == "flip":
        for at in rng.integers(0, len(data), 6):
            data[at] ^= 0xFF
    elif damage == "empty":
        data = bytearray()
    elif damage == "random":
        data = bytearray(rng.bytes(int(rng.integers(1, 2000))))
    return f"s{rng.integers(4)}.{suffix}", bytes(data)


def _value(rng: np.random.Generator, good: list) -> object:
    pool = good * 3 + ODD_VALUES
    return pool[int(rng.integers(len(pool)))]


def _options(rng: np.random.Generator) -> object:
    if rng.random() < 0.2:
        return _value(rng, [{}])
    keys = {"weights": ["tiny", "", "nope"], "gray": [True, False],
            "resize_ir": [True, False], "ir_normalize": ["auto", "percentile", "x"],
            "normalize": ["none", "minmax", "y"], "metrics": ["paper", "CC", "zz"]}
    return {k: _value(rng, v) for k, v in keys.items() if rng.random() < 0.4}


def run_case(rng: np.random.Generator, client: Client, ids: list[str], folder: Path
             ) -> tuple[int, bytes, str]:
    """One random request: ``(status, body, what)``."""
    kind = rng.choice(["upload", "upload", "fuse", "fuse", "batch", "result", "raw", "info"])
    if kind == "upload":
        name, data = _image_bytes(rng)
        if rng.random() < 0.1:
            name = str(_value(rng, [name]))
        status, raw = client.request(f"/api/upload?name={quote(name, safe='')}", data,
                                     {"Content-Type": "application/octet-stream"})
        if status == 200:
            ids.append(json.loads(raw)["id"])
        return status, raw, f"upload {name} ({len(data)} bytes)"
    if kind == "fuse":
        pick = ids[-4:] + ["nope"]
        body = {k: _value(rng, v) for k, v in
                (("ir", pick), ("vis", pick), ("scene", ["", "street", "nope"]),
                 ("options", [_options(rng)])) if rng.random() < 0.8}
        return (*client.request("/api/fuse", json.dumps(body).encode(),
                                {"Content-Type": "application/json"}), f"fuse {body}")
    if kind == "batch":
        dirs = [str(folder / "ir"), str(folder / "vi"), str(folder.parent), "/etc", "ir"]
        body = {k: _value(rng, v) for k, v in
                (("ir", [ids[-3:]]), ("vis", [ids[-3:]]), ("ir_dir", dirs), ("vis_dir", dirs),
                 ("options", [_options(rng)])) if rng.random() < 0.6}
        return (*client.request("/api/batch", json.dumps(body).encode(),
                                {"Content-Type": "application/json"}), f"batch {body}")
    if kind == "result":
        rid, name = (quote(str(_value(rng, good)), safe="") for good in (["abc", "0"],
                                                                         ["fused", "ir"]))
        path = f"/api/result/{rid}/{name}.png"
        return (*client.request(path), f"GET {path}")
    if kind == "raw":
        endpoint = str(rng.choice(["/api/fuse", "/api/batch"]))
        data = rng.choice([b"not json", b"[1,2]", b"{" * 5000, b"{\"a\": " + b"1" * 2_000_000 +
                           b"}", b"null", b"\xff\xfe"])
        what = f"raw {endpoint} {bytes(data)[:20]!r} ({len(data)} bytes)"
        try:
            return (*client.request(endpoint, bytes(data), {"Content-Type": "application/json"}),
                    what)
        except OSError:  # urllib's URLError too
            if len(data) > OVER_CAP:  # the server answered 413 and closed before reading it all
                return 413, b'{"error": "closed while the client was still sending"}', what
            raise
    return (*client.request("/api/info"), "info")


def check(status: int, raw: bytes) -> str:
    """``ok`` or what is wrong with one answer."""
    if status >= 500 and status != 507:
        return f"status {status}"
    if status >= 400:
        try:
            error = json.loads(raw)["error"]
        except (ValueError, KeyError, TypeError):
            return f"status {status} without a JSON error"
        if "\n" in error.strip():
            return "multi-line error"
    return "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    counts: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "served"
        for stem in ("a", "b"):
            write_pair(folder, stem, seed=len(stem))
        before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
        sessions = Path(scratch) / "sessions"
        server = Server(models=Models(extra="tiny"), sessions=SessionStore(sessions),
                        limits=Limits(max_upload_bytes=200_000, max_pixels=100_000,
                                      max_batch=5),
                        folders=[folder.resolve()])
        started = time.perf_counter()
        with running(server) as url:
            clients = [Client(url) for _ in range(3)]
            ids: list[str] = []
            for _ in range(args.cases):
                tick = time.perf_counter()
                try:
                    status, raw, what = run_case(rng, clients[int(rng.integers(3))], ids, folder)
                except OSError as error:
                    status, raw, what = 0, str(error).encode(), "connection failed"
                    failures.append(f"connection failed: {error}")
                outcome = check(status, raw)
                if time.perf_counter() - tick > args.timeout:
                    outcome = "over the timeout"
                statuses[status] += 1
                counts[outcome] += 1
                if outcome != "ok":
                    failures.append(f"{outcome}: {what[:200]} -> {raw[:200]!r}")
        seconds = time.perf_counter() - started
        after = sorted(p.relative_to(folder) for p in folder.rglob("*"))
        if after != before:
            failures.append(f"input folder changed: {sorted(set(after) ^ set(before))[:5]}")
        if sessions.exists() and any(sessions.iterdir()):
            failures.append(f"session folder left behind: {list(sessions.iterdir())[:3]}")
    print(f"{args.cases} requests in {seconds:.0f} s: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + "; statuses " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    for line in failures[:15]:
        print(f"- {line}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
