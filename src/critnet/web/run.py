"""Run the web page's server: bind the socket, build the shared state, serve until stopped,
then remove every session folder."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from critnet.errors import InputError
from critnet.web import require_web

LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")  # Host headers accepted on loopback


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (all of 127.0.0.0/8, ``::1``) or ``localhost``:
    reachable from this machine only."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port).

    Raises:
        InputError: the address cannot be used (port taken, unknown host), in one line.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as error:
        raise InputError(f"--host {host}: cannot listen there ({error.strerror or error})"
                         ) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise InputError(f"{host}:{port}: cannot listen ({error.strerror or error}); choose "
                         f"another --port") from None
    return sock


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    weights: str | os.PathLike | None = None,
    device: str = "cpu",
    backend: str = "auto",
    folders: Sequence[Path] = (),
    max_upload_mb: float = 50.0,
    max_pixels: int = 25_000_000,
    temp_dir: Path | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Serve the page until interrupted; session folders live in a new folder of ``temp_dir``
    (the system temporary folder by default) and are removed on the way out.

    Args:
        weights: offered first on the page (the bundled weights are offered too).
        backend: ``auto``, ``torch`` or ``onnxruntime`` (see :func:`critnet.load_model`).
        folders: folders the page may read pairs from (read-only).
        say: receives the address line and, for a non-loopback ``host``, a warning.

    Raises:
        InputError: a missing folder, an unusable address.
        WeightsError: ``weights`` cannot be loaded.
    """
    require_web()
    import uvicorn

    from critnet.web.app import MB, Limits, Server, create_app
    from critnet.web.pipeline import Models
    from critnet.web.sessions import SessionStore

    for folder in folders:
        if not Path(folder).is_dir():
            raise InputError(f"{folder}: --folders must name an existing folder")
    models = Models(weights, device=device, backend=backend)
    models.get("")  # fail now, in one line, if the weights cannot be loaded
    sock = listen(host, port)
    port = sock.getsockname()[1]
    if temp_dir is not None:
        Path(temp_dir).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="critnet-serve-", dir=temp_dir))
    local = is_loopback(host)
    shown = f"[{host}]" if ":" in host else host
    server = Server(models=models, sessions=SessionStore(root),
                    limits=Limits(max_upload_bytes=int(max_upload_mb * MB), max_pixels=max_pixels),
                    folders=[Path(f).resolve() for f in folders],
                    hosts=list(dict.fromkeys([*LOCAL_HOSTS, shown])) if local else ["*"])
    if not local:
        say(f"warning: listening on {host}: other machines can reach this page")
    say(f"critnet serve: http://{shown}:{port} (weights: {models.default}; temporary files in "
        f"{root}; Ctrl+C stops)")
    try:
        config = uvicorn.Config(create_app(server), log_level="warning")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        server.sessions.close()
