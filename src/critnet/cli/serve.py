"""``critnet serve``: a local web page to fuse pairs and inspect the results."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import click

from critnet.errors import InputError
from critnet.fusion import DEVICES, resolve_device
from critnet.web import require_web

LOOPBACK = ("127.0.0.1", "localhost", "::1")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")  # Host headers accepted on loopback

@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the default is reachable from this machine only.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--weights", metavar="NAME|PATH",
              help="Weights offered first on the page (bundled name or .safetensors file); "
                   "the bundled weights are offered too.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--folders", multiple=True, type=click.Path(path_type=Path, file_okay=False),
              help="A folder the page may read pairs from (repeatable; read-only; "
                   "default: none, uploads only).")
@click.option("--max-upload-mb", type=click.FloatRange(min=0.001), default=50.0,
              show_default=True, help="Largest file accepted.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=25_000_000,
              show_default=True, help="Largest image accepted (width × height).")
@click.option("--temp-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the session folders go [default: the system temporary folder]; "
                   "they are removed when the server stops.")
def serve(host: str, port: int, weights: str | None, device: str, folders: tuple[Path, ...],
          max_upload_mb: float, max_pixels: int, temp_dir: Path | None) -> None:
    """Serve a local web page: upload an IR and a visible image (or pick a built-in scene),
    see IR / visible / fused side by side, swipe or blend, zoom, read the metrics and download
    the fused PNG. A second tab fuses several pairs and lists their metrics, sortable.

    Uploads and results live in a temporary folder per browser session and are deleted when
    the server stops; nothing else is written.

    \b
    Examples:
      critnet serve                              then open http://127.0.0.1:8000
      critnet serve --port 8080 --weights runs/lite/final.safetensors
      critnet serve --folders /data/tno          the page may fuse folders inside /data/tno
    """
    require_web()
    import uvicorn

    from critnet.web.app import MB, Limits, Server, create_app
    from critnet.web.pipeline import Models
    from critnet.web.sessions import SessionStore

    for folder in folders:
        if not folder.is_dir():
            raise InputError(f"{folder}: --folders must name an existing folder")
    models = Models(weights, device=str(resolve_device(device)))
    models.get("")  # fail now, in one line, if the weights cannot be loaded
    sock = _listen(host, port)
    port = sock.getsockname()[1]
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="critnet-serve-", dir=temp_dir))
    local = host in LOOPBACK
    server = Server(models=models, sessions=SessionStore(root),
                    limits=Limits(max_upload_bytes=int(max_upload_mb * MB), max_pixels=max_pixels),
                    folders=[f.resolve() for f in folders],
                    hosts=list(LOCAL_HOSTS) if local else ["*"])
    if not local:
        click.secho(f"warning: listening on {host}: other machines can reach this page",
                    err=True, fg="yellow")
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"critnet serve: http://{shown}:{port} (weights: {models.default}; "
               f"temporary files in {root}; Ctrl+C stops)")
    try:
        config = uvicorn.Config(create_app(server), log_level="warning")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        server.sessions.close()


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (0: a free port), or one line saying why not."""
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
