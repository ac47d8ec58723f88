"""The exported ONNX graphs, cached on disk: one export per weights, onnxruntime and critnet.

Exporting ``lite`` takes a second or two, longer than fusing one pair with onnxruntime; doing it
in every process made ``--backend onnxruntime`` slower than torch for one pair. The graph is
therefore written once to the user cache directory (``platformdirs.user_cache_dir("critnet")``,
or ``$CRITNET_CACHE``) under ``graphs/``:

- ``<weights>-<key>.onnx``: the graph (``<weights>-<kind>-<key>.onnx`` for the other graphs
  of a model, :mod:`critnet.pipeline.tiled_onnx`); ``<weights>`` is the start of the weights'
  SHA-256,
  ``<key>`` the start of the SHA-256 of everything the graph depends on (:func:`cache_key`:
  the weights' SHA-256, the onnxruntime, torch and critnet versions, a hash of the network's
  and the exporter's source, the opset and the export options);
- ``<weights>-<key>.json``: that key in full and the SHA-256 of the ``.onnx`` file.

Both are written atomically (:func:`critnet.io.atomic.atomic_path`), the ``.json`` last, so an
entry without it is unfinished. On load the key and the graph's hash are checked; a missing,
stale (another key) or corrupted entry is exported again and replaces the old one, and other
entries of the same weights (older versions) are removed. A cache that cannot be written
(read-only home, full disk) costs only the export: the graph is used from memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from critnet.errors import OutputError
from critnet.io.atomic import atomic_path
from critnet.model import CRITNet
from critnet.weights.integrity import tensors_sha256

CACHE_ENV = "CRITNET_CACHE"
_PREFIX = 16  # hex digits of each hash in a file name


def cache_dir() -> Path:
    """Where the graphs go: ``$CRITNET_CACHE/graphs``, else the user cache directory's."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("critnet", appauthor=False)
    return Path(root) / "graphs"


def code_sha256() -> str:
    """SHA-256 of the source the graph is traced from (``critnet/model/`` and the export
    modules): a changed network or export form invalidates the cache without a version bump."""
    package = Path(__file__).resolve().parents[1]
    files = sorted((package / "model").glob("*.py"))
    files += [package / "pipeline" / "export.py", package / "pipeline" / "export_form.py",
              package / "pipeline" / "export_split.py", package / "pipeline" / "export_affine.py"]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def critnet_version() -> str:
    """The installed critnet distribution's version (``unknown`` when not installed)."""
    from importlib import metadata

    try:
        return metadata.version("critnet")
    except metadata.PackageNotFoundError:
        return "unknown"


def cache_key(weights_sha256: str, *, rewrite: bool = True, kind: str = "fuse"
              ) -> dict[str, str]:
    """Everything an exported graph depends on, as strings (compared field by field on load)."""
    import onnxruntime
    import torch

    from critnet.pipeline.export import OPSET

    return {"weights_sha256": weights_sha256, "onnxruntime": onnxruntime.__version__,
            "torch": torch.__version__, "critnet": critnet_version(), "code": code_sha256(),
            "opset": str(OPSET), "rewrite": str(bool(rewrite)), "graph": kind}


def model_sha256(model: CRITNet) -> str:
    """A stand-in for the weights file's SHA-256 when there is no file: the tensors and config."""
    digest = hashlib.sha256(tensors_sha256(model.state_dict()).encode())
    digest.update(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    return "tensors:" + digest.hexdigest()


def entry_paths(key: dict[str, str]) -> tuple[Path, Path]:
    """The ``.onnx`` and ``.json`` paths of the cache entry for ``key``."""
    weights = key["weights_sha256"].removeprefix("tensors:")[:_PREFIX]
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:_PREFIX]
    kind = "" if key.get("graph", "fuse") == "fuse" else f"{key['graph']}-"
    stem = cache_dir() / f"{weights}-{kind}{digest}"
    return stem.with_suffix(".onnx"), stem.with_suffix(".json")


def load_cached(key: dict[str, str]) -> bytes | None:
    """The cached graph for ``key``, or ``None`` when missing, stale or corrupted."""
    graph_path, record_path = entry_paths(key)
    try:
        record = json.loads(record_path.read_text())
        data = graph_path.read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != key:
        return None
    if record.get("graph_sha256") != hashlib.sha256(data).hexdigest():
        return None
    return data


def store(key: dict[str, str], data: bytes) -> Path | None:
    """Write ``data`` as the entry for ``key`` and drop older entries of the same weights.

    Returns:
        The ``.onnx`` path, or ``None`` when the cache cannot be written (nothing is left).
    """
    graph_path, record_path = entry_paths(key)
    record = {"key": key, "graph_sha256": hashlib.sha256(data).hexdigest()}
    try:
        with atomic_path(graph_path) as tmp:
            tmp.write_bytes(data)
        with atomic_path(record_path) as tmp:
            tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    except (OSError, OutputError):  # OutputError: atomic_path could not create its file
        with contextlib.suppress(OSError):
            graph_path.unlink(missing_ok=True)
        return None
    prefix = graph_path.stem.rsplit("-", 1)[0]  # the weights (and the graph kind)
    for old in graph_path.parent.glob(f"{prefix}-*"):
        if (old.stem != graph_path.stem and old.stem.rsplit("-", 1)[0] == prefix
                and old.suffix in (".onnx", ".json")):
            with contextlib.suppress(OSError):
                old.unlink()
    return graph_path


def cached_graph(
    model: CRITNet,
    weights_sha256: str | None = None,
    *,
    rewrite: bool = True,
    note: Callable[[str], None] | None = None,
    kind: str = "fuse",
    build: Callable[[], bytes] | None = None,
) -> bytes:
    """``model``'s ONNX graph (:func:`critnet.pipeline.export.onnx_bytes`), from the cache when
    a valid entry exists, else exported now and stored.

    Args:
        weights_sha256: SHA-256 of the ``.safetensors`` file the model came from (it also goes
            into the graph's metadata); ``None``: a hash of the model's tensors and config.
        rewrite: the export option of :func:`~critnet.pipeline.export.onnx_bytes`.
        note: called with one line when the graph is exported (not on a cache hit).
        kind, build: another graph of the model than ``fuse`` (its whole forward), made by
            ``build()`` (e.g. the two passes of tiled inference,
            :mod:`critnet.pipeline.tiled_onnx`).

    Raises:
        CritnetError: onnx or onnxruntime is not installed.
        InputError: the model cannot be exported (``sqrt_d`` attention).
    """
    from critnet.pipeline import export

    digest = weights_sha256 or model_sha256(model)
    key = cache_key(digest, rewrite=rewrite, kind=kind)
    data = load_cached(key)
    if data is not None:
        return data
    if note is not None:
        what = "network" if kind == "fuse" else f"{kind} graph"
        note(f"critnet: exporting the {model.config.preset} {what} for onnxruntime once "
             f"(cached in {cache_dir()})")
    if build is not None:
        data = build()
    else:
        metadata = {} if weights_sha256 is None else {"weights_sha256": weights_sha256}
        data = export.onnx_bytes(model, metadata, rewrite=rewrite)
    store(key, data)
    return data


__all__ = ["CACHE_ENV", "cache_dir", "cache_key", "cached_graph", "entry_paths", "load_cached",
           "model_sha256", "store"]
