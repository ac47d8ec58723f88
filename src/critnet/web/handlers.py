"""What each API request does (``critnet serve``): receive an upload, fuse one pair, fuse a
batch matched by file stem or read from a served folder. Plain functions of the server state and
the request's JSON body; :mod:`critnet.web.app` routes requests to them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from starlette.requests import Request

from critnet.errors import CritnetError, InputError
from critnet.io import NORMALIZATIONS
from critnet.io.pairs import match_pairs
from critnet.metrics import METRICS, PAPER_METRICS
from critnet.web.pipeline import IMAGE_NAMES, SCENES, FuseOptions, Source, fuse_pair, write_scene
from critnet.web.server import MB, HTTPError, Server
from critnet.web.sessions import Session, Upload


def server_info(server: Server) -> dict[str, Any]:
    return {
        "weights": list(server.models.choices),
        "scenes": list(SCENES),
        "paper_metrics": list(PAPER_METRICS),
        "metrics": {name: {"lower_better": m.lower_better, "description": m.description}
                    for name, m in METRICS.items()},
        "ir_normalizations": list(NORMALIZATIONS),
        "max_upload_bytes": server.limits.max_upload_bytes,
        "max_pixels": server.limits.max_pixels,
        "folders": [str(f) for f in server.folders],
    }

async def receive_upload(request: Request, server: Server, session: Session) -> dict[str, str]:
    """Stream the body into the session folder, refusing it past the size limit."""
    name = Path(request.query_params.get("name", "upload")).name or "upload"
    limit = server.limits.max_upload_bytes
    too_big = HTTPError(f"{name}: larger than this server's upload limit of {limit / MB:g} MB "
                        f"(--max-upload-mb)", 413)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    while len(session.uploads) >= 2 * server.limits.max_batch:  # forget the oldest pending
        session.uploads.pop(next(iter(session.uploads))).path.unlink(missing_ok=True)
    upload_id = server.sessions.new_id()
    suffix = re.sub(r"[^a-z0-9]", "", Path(name).suffix.lower())[:5]
    path = session.folder / "uploads" / f"{upload_id}.{suffix or 'bin'}"
    path.parent.mkdir(exist_ok=True)
    size = 0
    try:
        with open(path, "wb") as file:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_big
                file.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink()
        raise InputError(f"{name}: empty file")
    session.uploads[upload_id] = Upload(path=path, name=name)
    return {"id": upload_id, "name": name}

def typed_field(body: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str,
          prefix: str = "") -> Any:
    """``body[key]`` (``None`` when absent or null) if it is a ``kind``, else a 400 naming the
    field and what it must be."""
    value = body.get(key)
    allowed = kind if isinstance(kind, tuple) else (kind,)
    wrong = not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)
    if value is not None and wrong:
        raise InputError(f"field '{prefix}{key}' must be {what}, got {_json_type(value)}")
    return value

def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)

def _id_list(body: dict[str, Any], key: str) -> list[str]:
    ids = typed_field(body, key, list, "a list of upload ids (strings)") or []
    if not all(isinstance(i, str) for i in ids):
        raise InputError(f"field {key!r} must be a list of upload ids (strings)")
    return ids

def options_of(body: dict[str, Any]) -> FuseOptions:
    raw = typed_field(body, "options", dict, "an object") or {}
    for key in ("weights", "ir_normalize", "normalize", "metrics"):
        typed_field(raw, key, str, "a string", "options.")
    for key in ("gray", "resize_ir"):
        typed_field(raw, key, bool, "true or false", "options.")
    ir_normalize = raw.get("ir_normalize") or None
    if ir_normalize not in (None, *NORMALIZATIONS):
        raise InputError(f"unknown IR normalisation {ir_normalize!r}; use "
                         f"{', '.join(NORMALIZATIONS)}")
    normalize = raw.get("normalize") or "none"
    if normalize not in ("none", "minmax"):
        raise InputError(f"unknown output normalisation {normalize!r}; use none or minmax")
    return FuseOptions(weights=str(raw.get("weights") or ""), gray=bool(raw.get("gray")),
                       resize_ir=bool(raw.get("resize_ir")), ir_normalize=ir_normalize,
                       normalize=normalize, metrics=str(raw.get("metrics") or "paper"))

def _take_upload(session: Session, upload_id: Any, role: str) -> Source:
    upload = session.uploads.pop(str(upload_id), None)
    if upload is None:
        raise InputError(f"no {role} image uploaded in this session (choose a file first)")
    return Source(upload.path, upload.name)

def _own_photo(ir: Source) -> Source:
    """The visible input of an IR-only fusion: the upload itself when it is a radiometric JPEG
    with an embedded photo (read as that photo), else one line saying what to upload."""
    from critnet.io.camera import camera_family, camera_photo

    if camera_family(ir.path) is not None:
        try:
            if camera_photo(ir.path) is not None:
                return ir
        except InputError as error:
            raise InputError(str(error).replace(str(ir.path), ir.name)) from None
    raise InputError(f"{ir.name}: no visible image uploaded; choose one, or upload a "
                     f"radiometric JPEG with an embedded photo (FLIR MSX / FLIR One) alone")

def fuse_one(server: Server, session: Session, body: dict[str, Any]) -> dict[str, Any]:
    options = options_of(body)
    for key in ("scene", "ir", "vis"):
        typed_field(body, key, str, "a string" if key == "scene" else "an upload id (a string)")
    result_id = server.sessions.new_id()
    folder = session.folder / "results" / result_id
    if body.get("scene"):
        ir, vis = write_scene(str(body["scene"]), session.folder / "scenes" / result_id)
        owned: list[Source] = [ir, vis]
    else:
        ir = _take_upload(session, body.get("ir"), "IR")
        try:
            vis = (_take_upload(session, body["vis"], "visible") if body.get("vis") is not None
                   else _own_photo(ir))
        except InputError:
            ir.path.unlink(missing_ok=True)
            raise
        owned = [ir, vis]
    try:
        return _fuse_into(server, session, ir, vis, options, result_id, folder,
                          name=str(body.get("scene") or Path(vis.name).stem))
    finally:
        for source in owned:
            source.path.unlink(missing_ok=True)
        if body.get("scene"):
            shutil.rmtree(session.folder / "scenes" / result_id, ignore_errors=True)

def _fuse_into(server: Server, session: Session, ir: Source, vis: Source, options: FuseOptions,
               result_id: str, folder: Path, *, name: str) -> dict[str, Any]:
    model = server.models.get(options.weights)
    try:
        with server.models.run_lock:
            metrics = fuse_pair(ir, vis, model, options, folder,
                                max_pixels=server.limits.max_pixels)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    server.sessions.add_result(session, result_id, folder)
    return {"id": result_id, "name": name, "ir_name": ir.name, "vis_name": vis.name,
            "weights": options.weights or server.models.default,
            "metrics": {k: (None if v != v else v) for k, v in metrics.items()},
            "images": {n: f"/api/result/{result_id}/{n}.png" for n in IMAGE_NAMES}}

def fuse_batch(server: Server, session: Session, body: dict[str, Any]) -> dict[str, Any]:
    options = options_of(body)
    for key in ("ir_dir", "vis_dir"):
        typed_field(body, key, str, "a folder path (a string)")
    for key in ("ir", "vis"):
        _id_list(body, key)
    if body.get("ir_dir") or body.get("vis_dir"):
        return _fuse_pairs(server, session, _folder_pairs(server, body), [], options)
    taken = _take_uploads(session, body)
    try:
        pairs, unmatched = _pair_by_stem(taken["ir"], taken["vis"])
        return _fuse_pairs(server, session, pairs, unmatched, options)
    finally:
        for source in taken["ir"] + taken["vis"]:
            source.path.unlink(missing_ok=True)

def _fuse_pairs(server: Server, session: Session, pairs: list[tuple[Source, Source]],
                unmatched: list[str], options: FuseOptions) -> dict[str, Any]:
    """Fuse each pair; one that fails is listed in ``errors`` and the others go on."""
    if not pairs:
        raise InputError("no pairs: IR and visible files are matched by file name (stem)")
    if len(pairs) > server.limits.max_batch:
        raise InputError(f"{len(pairs)} pairs is more than this server's limit of "
                         f"{server.limits.max_batch} per batch")
    results, errors = [], []
    for ir, vis in pairs:
        result_id = server.sessions.new_id()
        try:
            results.append(_fuse_into(server, session, ir, vis, options, result_id,
                                      session.folder / "results" / result_id,
                                      name=Path(vis.name).stem))
        except CritnetError as error:
            errors.append({"name": Path(vis.name).stem, "error": str(error)})
    return {"results": results, "errors": errors, "unmatched": unmatched}

def _take_uploads(session: Session, body: dict[str, Any]) -> dict[str, list[Source]]:
    """The uploads named by ``body["ir"]`` and ``body["vis"]`` (all, or none and an error)."""
    ids = {role: _id_list(body, role) for role in ("ir", "vis")}
    missing = [i for role in ids for i in ids[role] if i not in session.uploads]
    if missing:
        raise InputError(f"{len(missing)} of the files are not uploaded in this session "
                         f"(choose them again)")
    return {role: [_take_upload(session, i, role) for i in ids[role]] for role in ids}

def _pair_by_stem(irs: list[Source], viss: list[Source]
                  ) -> tuple[list[tuple[Source, Source]], list[str]]:
    """Pairs of equal file stem, and the names left without a partner (or repeated)."""
    tables: list[dict[str, Source]] = [{}, {}]
    leftovers = []
    for sources, table in zip((irs, viss), tables, strict=True):
        for source in sources:
            stem = Path(source.name).stem
            if stem in table:
                leftovers.append(source.name)
            else:
                table[stem] = source
    by_ir, by_vis = tables
    stems = sorted(by_ir.keys() & by_vis.keys())
    leftovers += [s.name for table in tables for stem, s in table.items() if stem not in stems]
    return [(by_ir[stem], by_vis[stem]) for stem in stems], sorted(leftovers)

def _folder_pairs(server: Server, body: dict[str, Any]) -> list[tuple[Source, Source]]:
    if not server.folders:
        raise InputError("this server reads no folders; start it with --folders DIR")
    dirs = []
    for key, role in (("ir_dir", "IR"), ("vis_dir", "visible")):
        folder = Path(str(body.get(key) or "")).expanduser().resolve()
        if not any(folder == root or root in folder.parents for root in server.folders):
            raise InputError(f"{folder}: {role} folder is not inside a folder given with "
                             f"--folders ({', '.join(map(str, server.folders))})")
        dirs.append(folder)
    match = match_pairs(dirs[0], dirs[1])
    return [(Source(ir, ir.name), Source(vis, vis.name)) for _, ir, vis in match.pairs]
