"""Helpers for the ``critnet serve`` tests: a server on a free local port and a small client."""

from __future__ import annotations

import http.cookiejar
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def write_pair(folder: Path, stem: str, size: tuple[int, int] = (64, 48), seed: int = 0,
               vis_size: tuple[int, int] | None = None) -> tuple[Path, Path]:
    """A small random grey IR PNG and colour visible PNG (W×H ``size``) named ``stem``."""
    rng = np.random.default_rng(seed)
    w, h = size
    vw, vh = vis_size or size
    (folder / "ir").mkdir(parents=True, exist_ok=True)
    (folder / "vi").mkdir(parents=True, exist_ok=True)
    ir, vis = folder / "ir" / f"{stem}.png", folder / "vi" / f"{stem}.png"
    Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(ir)
    Image.fromarray(rng.integers(0, 256, (vh, vw, 3), dtype=np.uint8)).save(vis)
    return ir, vis


@contextmanager
def running(server: Any) -> Iterator[str]:
    """Serve ``create_app(server)`` with uvicorn in a thread on a free port; yield its URL."""
    import uvicorn

    from critnet.web.app import create_app

    config = uvicorn.Config(create_app(server), host="127.0.0.1", port=0, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = instance.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=30)


class Client:
    """One browser: its own cookie jar, so its own session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    @property
    def token(self) -> str:
        """The session cookie the server gave this client."""
        return next(c.value for c in self.cookies if c.name == "critnet_session")

    def request(self, path: str, data: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """``(status, body)``; error statuses are returned, not raised."""
        req = urllib.request.Request(self.url + path, data=data, headers=headers or {},
                                     method="POST" if data is not None else "GET")
        try:
            with self.opener.open(req, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        data = None if body is None else json.dumps(body).encode()
        status, raw = self.request(path, data, {"Content-Type": "application/json"})
        return status, json.loads(raw)

    def upload(self, name: str, content: bytes) -> tuple[int, dict[str, Any]]:
        status, raw = self.request(f"/api/upload?name={name}", content,
                                   {"Content-Type": "application/octet-stream"})
        return status, json.loads(raw)

    def fuse_files(self, ir: Path, vis: Path, **options: Any) -> tuple[int, dict[str, Any]]:
        """Upload both files and fuse them; the fuse answer."""
        ids = []
        for path in (ir, vis):
            status, answer = self.upload(path.name, path.read_bytes())
            if status != 200:
                return status, answer
            ids.append(answer["id"])
        return self.json("/api/fuse", {"ir": ids[0], "vis": ids[1], "options": options})


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
