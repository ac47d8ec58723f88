"""The HTTP side of ``critnet serve``: one static page and a small JSON API.

Routes (every ``/api`` answer is JSON; a user error is ``{"error": "one line"}`` with status
400, 404 or 413, never a traceback):

- ``GET /``: the page; ``GET /static/...``: its script and style.
- ``GET /api/info``: weights, scenes, metric names and the server's limits.
- ``POST /api/upload?name=FILE``: the raw file as the body; kept in the session folder until
  fused. Bodies over the size limit are refused before and while reading.
- ``POST /api/fuse``: ``{"ir": id, "vis": id}``, ``{"ir": id}`` alone for a radiometric JPEG
  with an embedded photo (FLIR MSX / FLIR One: it fuses with its own photo), or
  ``{"scene": name}``, plus ``"options"``.
- ``POST /api/batch``: ``{"ir": [ids], "vis": [ids]}`` matched by file stem, or
  ``{"ir_dir": path, "vis_dir": path}`` inside a folder given with ``--folders``.
- ``GET /api/result/{id}/{ir|vis|fused}.png``: a result image, only for the session that made it.

Requests whose ``Host`` is not one the server listens as (127.0.0.1, localhost on loopback) are
refused with 400.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from critnet.errors import CritnetError, InputError
from critnet.web.handlers import fuse_batch, fuse_one, receive_upload, server_info
from critnet.web.pipeline import IMAGE_NAMES
from critnet.web.server import MB, HTTPError, Limits, Server
from critnet.web.sessions import Session

STATIC = Path(__file__).parent / "static"

COOKIE = "critnet_session"

log = logging.getLogger("critnet.serve")


def create_app(server: Server) -> Starlette:
    """The Starlette app for ``server``; its session folders are removed when the app stops."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            server.sessions.close()

    async def page(_request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def info(request: Request) -> Response:
        return _answer(request, server, lambda _session: server_info(server))

    async def upload(request: Request) -> Response:
        token, session = server.sessions.get(request.cookies.get(COOKIE))
        try:
            payload = await receive_upload(request, server, session)
        except CritnetError as error:
            return _json(_error(error), token, getattr(error, "status", 400))
        return _json(payload, token)

    async def fuse(request: Request) -> Response:
        return await _answer_async(request, server, fuse_one)

    async def batch(request: Request) -> Response:
        return await _answer_async(request, server, fuse_batch)

    async def result(request: Request) -> Response:
        token, session = server.sessions.get(request.cookies.get(COOKIE))
        folder = session.results.get(request.path_params["rid"])
        name = request.path_params["name"]
        if folder is None or name not in IMAGE_NAMES or not (folder / f"{name}.png").is_file():
            return _json({"error": "no such result in this session (it may have expired)"},
                         token, 404)
        response = FileResponse(folder / f"{name}.png", media_type="image/png")
        response.headers["Cache-Control"] = "private, no-store"
        return response

    routes = [
        Route("/", page),
        Route("/api/info", info),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/fuse", fuse, methods=["POST"]),
        Route("/api/batch", batch, methods=["POST"]),
        Route("/api/result/{rid:str}/{name:str}.png", result),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    # Only the Host names the server is meant to be reached by (no DNS-rebinding tricks).
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=server.hosts)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)

async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    return body

def _answer(request: Request, server: Server,
            work: Callable[[Session], dict[str, Any]]) -> Response:
    token, session = server.sessions.get(request.cookies.get(COOKIE))
    return _json(work(session), token)

async def _answer_async(
    request: Request, server: Server,
    work: Callable[[Server, Session, dict[str, Any]], dict[str, Any]],
) -> Response:
    """Run ``work(server, session, json_body)`` off the event loop; user errors become one-line
    JSON."""
    token, session = server.sessions.get(request.cookies.get(COOKIE))
    try:
        body = await _json_body(request)
        return _json(await run_in_threadpool(work, server, session, body), token)
    except CritnetError as error:
        return _json(_error(error), token, getattr(error, "status", 400))
    except Exception as error:  # a bug: log it, show one line
        log.error("%s", traceback.format_exc())
        return _json({"error": f"internal error ({type(error).__name__}); see the server log"},
                     token, 500)

def _error(error: Exception) -> dict[str, str]:
    return {"error": " ".join(str(error).split())}

def _json(payload: dict[str, Any], token: str, status: int = 200) -> Response:
    response = JSONResponse(payload, status_code=status)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
    return response


__all__ = ["MB", "HTTPError", "Limits", "Server", "create_app"]
