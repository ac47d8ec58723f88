"""Fusion on onnxruntime without torch: the graphs shipped with the bundled weights.

The bundled weights (``steep``, ``lite``, ``tiny``) come with their exported graphs
(``critnet/weights/<name>.onnx``, made by ``scripts/export_bundled_graphs.py`` with critnet's own
exporter, checked against :data:`critnet.weights.BUNDLED_GRAPH_SHA256`), so fusing with them
needs numpy, Pillow and onnxruntime only: nothing is exported, and torch is not imported. What the
graph does not do (exact tiled inference, the raw decoder output of ``normalize="minmax"``) goes
to the torch path of :mod:`critnet.pipeline.backends`, imported then; in an install without torch
that says which extra to add.

- :class:`GraphSession`: one graph on onnxruntime's CPU provider, numpy in and out (also what
  :class:`~critnet.pipeline.backends.OnnxRuntimeBackend` runs);
- :class:`BundledRuntime`: a bundled network, what :func:`critnet.load_model` gives for
  ``backend="auto"`` or ``"onnxruntime"`` on the CPU;
- :func:`for_streams`: one thread per frame, two frames at once, for video and cameras.
"""

from __future__ import annotations

import json
import os
from importlib.util import find_spec
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
#: What ``pip install`` needs for torch's side (training, export, ``--backend torch``, your
#: own weights, tiles, bench).
TORCH_EXTRA = "pip install 'critnet[torch]'"


def require_torch(what: str) -> None:
    """Raise a one-line :class:`CritnetError` naming the extra when torch is not installed."""
    if find_spec("torch") is None:
        raise CritnetError(f"{what} needs torch, which this install lacks: {TORCH_EXTRA}")


def require_onnxruntime() -> Any:
    """``import onnxruntime``, or a one-line error."""
    try:
        import onnxruntime
    except ImportError:
        raise CritnetError("onnxruntime is not installed: pip install onnxruntime") from None
    return onnxruntime


class GraphSession:
    """An exported C-RITNet graph on onnxruntime's CPU execution provider, numpy in and out.

    Args:
        graph: the serialised ONNX model or a ``.onnx`` path.
        threads: intra-op threads; ``None``: all cores (``os.cpu_count()``).
    """

    def __init__(self, graph: bytes | str | os.PathLike, threads: int | None = None) -> None:
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        # Worker threads sleep instead of spin-waiting between operators: on a busy machine
        # spinning burns the time slices the other thread needs (1.13–1.24× faster without it at
        # load 7-14, 1.09× at load 3-4); idle, the two were within noise (docs/inference.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        source = graph if isinstance(graph, bytes) else os.fspath(graph)
        self.graph, self.threads = graph, threads
        try:
            self.session = ort.InferenceSession(source, options,
                                                providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            name = "ONNX graph" if isinstance(graph, bytes) else str(graph)
            raise InputError(f"{name}: not a loadable ONNX model ({error})") from None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.config: CRITNetConfig | None = (
            CRITNetConfig.from_dict(json.loads(self.metadata["config"]))
            if self.metadata.get("format") == "critnet" else None)

    def with_threads(self, threads: int) -> GraphSession:
        """The same graph in a new session with ``threads`` intra-op threads."""
        return GraphSession(self.graph, threads)

    def run(self, ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
        """B×1×H×W float32 ``ir`` and ``vis`` in [0, 1] → the fused B×1×H×W in [0, 1]."""
        feeds = {name: np.ascontiguousarray(image, dtype=np.float32)
                 for name, image in zip(INPUT_NAMES, (ir, vis), strict=True)}
        (fused,) = self.session.run(None, feeds)
        return fused

    def run_arrays(self, ir: np.ndarray, vis: np.ndarray, *, tile: Any = "auto",
                   raw: bool = False) -> np.ndarray:
        """The network step of :func:`critnet.pipeline.fusion.fuse_batch`: whole frames only."""
        from critnet.pipeline.fusion import check_whole_fits

        if raw:
            raise InputError("normalize 'minmax' reads the raw decoder output, which the "
                             "onnxruntime graph does not give; use --backend torch or auto")
        check_whole_fits(self.config, tile, vis.shape)
        return self.run(ir, vis)


class BundledRuntime:
    """A bundled network on its shipped graph; torch only for tiles and the raw output.

    Args:
        name: a bundled weights name with a shipped graph (:func:`critnet.weights.bundled_graph`).
        threads: intra-op threads (``None``: all cores).
        torch_fallback: tiles and ``normalize="minmax"`` on torch (``backend="auto"``); ``False``
            (``backend="onnxruntime"``): refused in one line, as for any onnxruntime backend.

    Raises:
        WeightsError: the shipped graph is missing or does not match its SHA-256.
    """

    device = "cpu"

    def __init__(self, name: str, threads: int | None = None, *, torch_fallback: bool = True,
                 session: GraphSession | None = None) -> None:
        from critnet.weights import read_bundled_graph, resolve_weights

        self.name = name
        self.weights_path = resolve_weights(name)
        self.session = session or GraphSession(read_bundled_graph(name), threads)
        self.config = self.session.config
        self.halo = int(self.session.metadata[HALO_KEY])
        self.threads = threads
        self.torch_fallback = torch_fallback
        self._torch: Any = None

    def with_threads(self, threads: int) -> BundledRuntime:
        """The same network in a new session with ``threads`` intra-op threads."""
        return BundledRuntime(self.name, threads, torch_fallback=self.torch_fallback,
                              session=self.session.with_threads(threads))

    def describe(self) -> str:
        """``onnxruntime fp32 (auto, shipped graph)`` (``auto`` only with the torch fallback)."""
        return f"onnxruntime fp32 ({'auto, ' if self.torch_fallback else ''}shipped graph)"

    def __call__(self, ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
        return self.session.run(ir, vis)

    def run_arrays(self, ir: np.ndarray, vis: np.ndarray, *, tile: Any = "auto",
                   raw: bool = False) -> np.ndarray:
        """The network step of :func:`critnet.pipeline.fusion.fuse_batch`: the whole frame on
        the shipped graph, or tiles / the raw output on the torch side."""
        if not self.torch_fallback:
            return self.session.run_arrays(ir, vis, tile=tile, raw=raw)
        try:
            size = tiled.resolve_tile(tile, self.config, vis.shape, halo=self.halo)
        except ValueError as error:
            raise InputError(str(error)) from None
        if size is None and not raw:
            return self.session.run(ir, vis)
        what = f"tiled inference ({size}-px tiles)" if size is not None else "normalize 'minmax'"
        backend = self.torch_backend(what)
        from critnet.pipeline.backends import torch_forward

        return torch_forward(backend, ir, vis, tile=size or "off", raw=raw)

    def torch_backend(self, what: str = "this") -> Any:
        """The ``auto`` backend of the same weights on torch (loaded once, on first need)."""
        if self._torch is None:
            require_torch(what)
            from critnet.pipeline.backends import AutoBackend
            from critnet.weights import BUNDLED_SHA256, load_weights

            self._torch = AutoBackend(load_weights(self.weights_path),
                                      BUNDLED_SHA256[self.name], self.threads)
        return self._torch


def bundled_runtime(name: str | os.PathLike, *, device: Any = "cpu", preset: str | None = None,
                    backend: str = "auto", precision: str = "fp32") -> BundledRuntime | None:
    """The :class:`BundledRuntime` :func:`critnet.load_model` returns for these arguments, or
    ``None`` where the torch path is needed (not a bundled name, another precision or device,
    ``backend="torch"``, onnxruntime not installed).

    Raises:
        WeightsError: ``preset`` differs from the bundled network's.
    """
    from critnet.errors import WeightsError
    from critnet.pipeline.fusion import device_name
    from critnet.weights import bundled_graph

    if (backend not in ("auto", "onnxruntime") or precision != "fp32"
            or not isinstance(name, str) or bundled_graph(name) is None
            or find_spec("onnxruntime") is None or device_name(device) != "cpu"):
        return None
    model = BundledRuntime(name, torch_fallback=backend == "auto")
    if preset is not None and model.config.preset != preset:
        raise WeightsError(f"{model.weights_path}: weights are for preset "
                           f"{model.config.preset!r}, not {preset!r}")
    return model


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


def describe_model(model: Any) -> str:
    """Where and how ``model`` fuses, for the CLI's line: ``cpu``, ``cuda:0, torch bf16``,
    ``cpu, onnxruntime fp32 (auto, shipped graph)``, …"""
    if isinstance(model, BundledRuntime):
        return f"{model.device}, {model.describe()}"
    from critnet.pipeline.backends import describe_backend, model_device

    backend = describe_backend(model)
    return str(model_device(model)) + ("" if backend == "torch fp32" else f", {backend}")


__all__ = ["BACKENDS", "HALO_KEY", "INPUT_NAMES", "PRECISIONS", "STREAM_WORKERS", "TORCH_EXTRA",
           "BundledRuntime", "GraphSession", "bundled_runtime", "describe_model", "for_streams",
           "require_torch"]
