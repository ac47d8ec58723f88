"""What the web server's routes share: its models, sessions, limits and readable folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from critnet.errors import CritnetError
from critnet.web.pipeline import Models
from critnet.web.sessions import SessionStore

MB = 1024 * 1024


class HTTPError(CritnetError):
    """A user error with its HTTP status (413 too large, 404 not found)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status

@dataclass
class Limits:
    """What one request may ask of the server."""

    max_upload_bytes: int = 50 * MB
    max_json_bytes: int = 1 * MB
    max_pixels: int = 25_000_000
    max_batch: int = 100

@dataclass
class Server:
    """Everything the routes share."""

    models: Models
    sessions: SessionStore
    limits: Limits = field(default_factory=Limits)
    folders: list[Path] = field(default_factory=list)
    hosts: list[str] = field(default_factory=lambda: ["127.0.0.1", "localhost", "[::1]"])
