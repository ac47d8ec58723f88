"""Per-browser sessions, each with its own temporary folder.

A session is named by a random cookie token; its uploads and results live in a folder of the
server's temporary root and are reachable only with that token, so one user's files never
appear in another's page. Idle sessions are removed after ``ttl_s``; a session keeps at most
``max_results`` results (the oldest are deleted first).
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

TOKEN_BYTES = 24


@dataclass
class Upload:
    """An uploaded file kept until it is fused: ``path`` in the session folder, the user's
    file ``name`` (used in messages instead of the temporary path)."""

    path: Path
    name: str


@dataclass
class Session:
    """One browser's state: its folder, pending uploads and result folders by id."""

    folder: Path
    uploads: dict[str, Upload] = field(default_factory=dict)
    results: OrderedDict[str, Path] = field(default_factory=OrderedDict)
    last_seen: float = field(default_factory=time.monotonic)


class SessionStore:
    """Sessions under ``root`` (created if needed; everything in it belongs to the store)."""

    def __init__(self, root: Path, *, ttl_s: float = 2 * 3600, max_results: int = 200) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.ttl_s = ttl_s
        self.max_results = max_results
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, token: str | None) -> tuple[str, Session]:
        """The session for ``token``, or a new one (with a new token) when it is unknown."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(token or "")
            if session is None:
                token = secrets.token_urlsafe(TOKEN_BYTES)
                folder = self.root / secrets.token_hex(8)
                folder.mkdir()
                session = self._sessions[token] = Session(folder=folder)
            session.last_seen = now
            return token, session

    def new_id(self) -> str:
        """A fresh random id for an upload or a result (safe as a file name)."""
        return secrets.token_hex(8)

    def add_result(self, session: Session, result_id: str, folder: Path) -> None:
        """Record a result folder, deleting the oldest beyond ``max_results``."""
        with self._lock:
            session.results[result_id] = folder
            while len(session.results) > self.max_results:
                _, old = session.results.popitem(last=False)
                shutil.rmtree(old, ignore_errors=True)

    def close(self) -> None:
        """Remove every session folder and the root."""
        with self._lock:
            self._sessions.clear()
            shutil.rmtree(self.root, ignore_errors=True)

    def _expire(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if now - s.last_seen > self.ttl_s]:
            shutil.rmtree(self._sessions.pop(token).folder, ignore_errors=True)
