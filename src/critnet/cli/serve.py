"""``critnet serve``: a local web page to fuse pairs and inspect the results."""

from __future__ import annotations

from pathlib import Path

import click

from critnet.pipeline.fusion import DEVICES, device_name
from critnet.pipeline.runtime import BACKENDS
from critnet.web import require_web


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the default is reachable from this machine only.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="0 picks a free port.")
@click.option("--weights", metavar="NAME|PATH",
              help="Weights offered first on the page (bundled name or .safetensors file); "
                   "the bundled weights are offered too.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True,
              help="auto = onnxruntime (the bundled weights' shipped graphs; others exported "
                   "once and cached), torch for what it does not do.")
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
def serve(host: str, port: int, weights: str | None, device: str, backend: str,
          folders: tuple[Path, ...], max_upload_mb: float, max_pixels: int,
          temp_dir: Path | None) -> None:
    """Serve a local web page: upload an IR and a visible image (or pick a built-in scene),
    see IR / visible / fused side by side, swipe or blend, zoom, read the metrics and download
    the fused PNG. A second tab fuses several pairs and lists their metrics, sortable.

    Uploads and results live in a temporary folder per browser session and are deleted when
    the server stops; nothing else is written. Needs the extra: pip install 'critnet[web]'.

    \b
    Examples:
      critnet serve                              then open http://127.0.0.1:8000
      critnet serve --port 8080 --weights runs/lite/final.safetensors
      critnet serve --folders /data/tno          the page may fuse folders inside /data/tno
    """
    require_web()
    from critnet.web.run import serve as run_server

    run_server(host=host, port=port, weights=weights, device=device_name(device),
               backend=backend, folders=folders, max_upload_mb=max_upload_mb,
               max_pixels=max_pixels,
               temp_dir=temp_dir, say=lambda line: click.echo(line, err=line.startswith("warn")))
