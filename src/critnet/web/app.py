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
refused with 400. JSON bodies over ``Limits.max_json_bytes`` are refused with 413 before and
while reading; a field of the wrong type is a 400 naming the field. A file the server cannot
write (a full disk) is a 507 with a JSON error, and nothing half-written stays behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import re
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from critnet.errors import CritnetError, InputError, OutputError
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
        token = request.cookies.get(COOKIE) or ""
        try:
            token, session = server.sessions.get(token)
            payload = await receive_upload(request, server, session)
        except Exception as error:  # noqa: BLE001  (every failure is one line of JSON)
            return _failed(error, token)
        return _json(payload, token)

    async def fuse(request: Request) -> Response:
        return await _answer_async(request, server, fuse_one)

    async def batch(request: Request) -> Response:
        return await _answer_async(request, server, fuse_batch)

    async def result(request: Request) -> Response:
        try:
            token, session = server.sessions.get(request.cookies.get(COOKIE))
        except Exception as error:  # noqa: BLE001
            return _failed(error, request.cookies.get(COOKIE) or "")
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
    async def unexpected(_request: Request, error: Exception) -> Response:
        return JSONResponse(_failure(error)[0], status_code=500)

    async def not_found(request: Request, _error: Exception) -> Response:
        """A path no route matches: under ``/api/`` a JSON error like every other answer of
        the API (a result path with a slash or an empty part lands here, not in ``result``)."""
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "no such API path, or no such result in this session"},
                                status_code=404)
        return PlainTextResponse("Not Found", status_code=404)

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers={404: not_found, Exception: unexpected})

async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    """The request's JSON object, read up to ``limit`` bytes (413 beyond, before and while
    reading)."""
    too_big = HTTPError(f"request body larger than this server's limit of {limit:,} bytes for "
                        f"JSON", 413)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise too_big
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    return body

def _answer(request: Request, server: Server,
            work: Callable[[Session], dict[str, Any]]) -> Response:
    token = request.cookies.get(COOKIE) or ""
    try:
        token, session = server.sessions.get(token)
        return _json(work(session), token)
    except Exception as error:  # noqa: BLE001
        return _failed(error, token)

async def _answer_async(
    request: Request, server: Server,
    work: Callable[[Server, Session, dict[str, Any]], dict[str, Any]],
) -> Response:
    """Run ``work(server, session, json_body)`` off the event loop; user errors become one-line
    JSON."""
    token = request.cookies.get(COOKIE) or ""
    try:
        token, session = server.sessions.get(token)
        body = await _json_body(request, server.limits.max_json_bytes)
        return _json(await run_in_threadpool(work, server, session, body), token)
    except Exception as error:  # noqa: BLE001
        return _failed(error, token)

#: errno values of a disk that takes no more files: full, over quota, a size limit, read-only.
_CANNOT_STORE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


def _failure(error: Exception) -> tuple[dict[str, str], int]:
    """``({"error": one line}, status)`` for any failure: a user error keeps its status (400,
    404, 413); a file the server cannot write (full disk, ...) is 507; anything else is a bug,
    logged with its traceback and answered 500."""
    if isinstance(error, OutputError) or (isinstance(error, OSError)
                                          and error.errno in _CANNOT_STORE):
        reason = error.strerror
        if not reason:
            found = re.search(r"\(([^()]*)\)\s*$", str(error))
            reason = found.group(1) if found else str(error)
        log.error("cannot write a file: %s", error)
        return {"error": f"the server cannot store files right now ({reason}); try again "
                         f"later"}, 507
    if isinstance(error, CritnetError):
        return _error(error), getattr(error, "status", 400)
    log.error("%s", "".join(traceback.format_exception(error)))
    return {"error": f"internal error ({type(error).__name__}); see the server log"}, 500

def _error(error: Exception) -> dict[str, str]:
    return {"error": " ".join(str(error).split())}

def _json(payload: dict[str, Any], token: str, status: int = 200) -> Response:
    response = JSONResponse(payload, status_code=status)
    if token:
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
    return response

def _failed(error: Exception, token: str) -> Response:
    """The one-line JSON answer to ``error`` (:func:`_failure`)."""
    payload, status = _failure(error)
    return _json(payload, token, status)


__all__ = ["MB", "HTTPError", "Limits", "Server", "create_app"]
