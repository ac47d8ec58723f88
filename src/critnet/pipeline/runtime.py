"""onnxruntime without torch: the lowest layer of fusion, imported by the numpy pipeline
(:mod:`critnet.pipeline.fusion`, :mod:`critnet.pipeline.bundled`) and by the torch side
(:mod:`critnet.pipeline.backends`, :mod:`critnet.pipeline.export`) alike, importing neither.

- :class:`GraphSession`: one exported graph on onnxruntime's CPU provider, numpy in and out (what
  :class:`~critnet.pipeline.bundled.BundledRuntime` and
  :class:`~critnet.pipeline.backends.OnnxRuntimeBackend` run);
- :func:`check_whole_fits`: the one-line refusal of tiles where only whole frames run;
- :func:`for_streams`: one thread per frame, two frames at once, for video and cameras;
- the backend and precision names, the graphs' input names, :func:`require_torch`.
"""

from __future__ import annotations

import json
import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from critnet.errors import CritnetError, InputError
from critnet.model import tiled
from critnet.model.config import CRITNetConfig

#: ``backend=`` and ``precision=`` of :func:`critnet.load_model` (:mod:`critnet.pipeline.backends`).
BACKENDS = ("auto", "torch", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "fp16")
#: The graphs' input names (:mod:`critnet.pipeline.export`).
INPUT_NAMES = ("ir", "vis")
#: Metadata key of a shipped graph: the output halo of exact tiling (``critnet.model.tiled``).
HALO_KEY = "output_halo"
#: Metadata key of a graph whose form runs faster without onnxruntime's NCHWc layout transforms
#: (value ``extended``: ``ORT_ENABLE_EXTENDED`` instead of ``ORT_ENABLE_ALL``; written by the
#: exporter, :func:`critnet.pipeline.export.optimization_metadata`).
OPTIMIZATION_KEY = "ort_optimization"
#: What ``pip install`` needs for torch's side (training, export, ``--backend torch``, your
#: own weights, tiles, bench).
TORCH_EXTRA = "pip install 'critnet[torch]'"


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require_torch(what: str) -> None:
    """Raise a one-line :class:`CritnetError` naming the extra when torch is not installed."""
    if not installed("torch"):
        raise CritnetError(f"{what} needs torch, which this install lacks: {TORCH_EXTRA}")


def require_onnxruntime() -> Any:
    """``import onnxruntime``, or a one-line error."""
    try:
        import onnxruntime
    except ImportError:
        raise CritnetError("onnxruntime is not installed: pip install onnxruntime") from None
    return onnxruntime


def check_whole_fits(config: CRITNetConfig | None, tile: int | str | None,
                     shape: tuple[int, ...]) -> None:
    """Exact tiling runs on the torch fp32 path only (docs/inference.md): a backend wrapper
    given a tile size, or an image whose whole-frame forward would not fit in memory under
    ``auto``, is refused in one line rather than ignored or left to run out of memory."""
    if not isinstance(config, CRITNetConfig) or tile is None or tile == "off":
        return
    if tile != "auto":
        raise InputError(f"tile {tile}: tiled inference runs on the torch backend in fp32 "
                         f"only; use --backend torch --precision fp32, or --tile off")
    need = tiled.untiled_bytes_per_pixel(config) * shape[0] * shape[-2] * shape[-1]
    free = tiled.available_bytes()
    if need > tiled.AUTO_SHARE * free:
        raise InputError(f"{shape[-1]}×{shape[-2]}: too large to fuse whole here (about "
                         f"{need / 2**30:.1f} GB needed, {free / 2**30:.1f} GB free), and tiled "
                         f"inference runs on the torch backend in fp32 only: use --backend "
                         f"torch --precision fp32")


def image_feeds(ir: np.ndarray, vis: np.ndarray) -> dict[str, np.ndarray]:
    """A graph's image inputs: ``ir`` and ``vis`` as contiguous float32 arrays by name."""
    return {name: np.ascontiguousarray(image, dtype=np.float32)
            for name, image in zip(INPUT_NAMES, (ir, vis), strict=True)}


def graph_metadata(graph: bytes) -> dict[str, str]:
    """The ``metadata_props`` of a serialised ONNX model, read before any session is made (with
    protobuf, onnxruntime's own dependency: field 14 of ``ModelProto``, each entry a key (1) and
    a value (2)); ``{}`` for bytes that are not a protobuf message."""
    from google.protobuf import empty_pb2, unknown_fields
    from google.protobuf.message import DecodeError

    def fields(data: bytes) -> list:
        message = empty_pb2.Empty()
        message.ParseFromString(data)
        return list(unknown_fields.UnknownFieldSet(message))

    try:
        metadata = {}
        for field in fields(graph):
            if field.field_number == 14 and isinstance(field.data, bytes):
                entry = {f.field_number: f.data for f in fields(field.data)}
                metadata[entry.get(1, b"").decode()] = entry.get(2, b"").decode()
        return metadata
    except (DecodeError, UnicodeDecodeError, RuntimeError):
        return {}


class GraphSession:
    """An exported C-RITNet graph on onnxruntime's CPU execution provider, numpy in and out.

    Args:
        graph: the serialised ONNX model or a ``.onnx`` path.
        threads: intra-op threads; ``None``: all cores (``os.cpu_count()``).
    """

    def __init__(self, graph: bytes | str | os.PathLike, threads: int | None = None) -> None:
        ort = require_onnxruntime()
        name = "ONNX graph" if isinstance(graph, bytes) else os.fspath(graph)
        if not isinstance(graph, bytes):
            try:
                graph = Path(graph).read_bytes()
            except OSError as error:
                raise InputError(f"{name}: cannot read the ONNX graph ({error})") from None
        self.metadata = graph_metadata(graph)
        options = ort.SessionOptions()
        # ORT_ENABLE_ALL's NCHWc transforms make the dense-block forms 1.4× faster (steep: 162 vs
        # 225 ms per 640×480 pair on 2 threads) but slow the affine form of tiny, whose per-pixel
        # products then reorder every tensor back (30 vs 40–49 ms; docs/inference.md).
        level = ("ORT_ENABLE_EXTENDED" if self.metadata.get(OPTIMIZATION_KEY) == "extended"
                 else "ORT_ENABLE_ALL")
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        # Worker threads sleep instead of spin-waiting between operators: on a busy machine
        # spinning burns the time slices the other thread needs (1.13–1.24× faster without it at
        # load 7-14, 1.09× at load 3-4); idle, the two were within noise (docs/inference.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.graph, self.threads = graph, threads
        try:
            self.session = ort.InferenceSession(graph, options,
                                                providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise InputError(f"{name}: not a loadable ONNX model ({error})") from None
        self.config: CRITNetConfig | None = (
            CRITNetConfig.from_dict(json.loads(self.metadata["config"]))
            if self.metadata.get("format") == "critnet" else None)

    def with_threads(self, threads: int) -> GraphSession:
        """The same graph in a new session with ``threads`` intra-op threads."""
        return GraphSession(self.graph, threads)

    def run(self, ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
        """B×1×H×W float32 ``ir`` and ``vis`` in [0, 1] → the fused B×1×H×W in [0, 1]."""
        (fused,) = self.session.run(None, image_feeds(ir, vis))
        return fused

    def run_arrays(self, ir: np.ndarray, vis: np.ndarray, *, tile: Any = "auto",
                   raw: bool = False) -> np.ndarray:
        """The network step of :func:`critnet.pipeline.fusion.fuse_batch`: whole frames only."""
        if raw:
            raise InputError("normalize 'minmax' reads the raw decoder output, which the "
                             "onnxruntime graph does not give; use --backend torch or auto")
        check_whole_fits(self.config, tile, vis.shape)
        return self.run(ir, vis)


#: Frames of a stream fused at once on onnxruntime, each session on one intra-op thread
#: (:func:`for_streams`); bounded so that large frames do not multiply the memory.
STREAM_WORKERS = 2


def for_streams(model: Any) -> tuple[Any, int]:
    """``(model to use, frames to fuse at once)`` for a stream of frames (video, camera):
    an onnxruntime model (one with ``with_threads``) becomes a copy with one intra-op thread per
    session and ``min(STREAM_WORKERS, CPU count)`` frames in flight; anything else (torch, whose
    thread pool is process-wide) is returned as it is, one frame at a time.

    Measured on 2 cores (tiny, 640×480, docs/inference.md "Streams"): two one-thread frames at
    once fused 1.35× (idle) to 2.0× (under load) as many frames per second as one two-thread
    frame after another."""
    workers = min(STREAM_WORKERS, os.cpu_count() or 1)
    if workers > 1 and hasattr(model, "with_threads"):
        return model.with_threads(1), workers
    return model, 1


__all__ = ["BACKENDS", "HALO_KEY", "INPUT_NAMES", "OPTIMIZATION_KEY", "PRECISIONS",
           "STREAM_WORKERS", "TORCH_EXTRA", "GraphSession", "check_whole_fits", "for_streams",
           "graph_metadata", "image_feeds", "installed", "require_torch"]
