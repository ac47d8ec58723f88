"""Inference backends: the same ``(ir, vis) -> fused`` call on torch (any precision) or onnxruntime.

A backend is an ``nn.Module`` whose ``forward(ir, vis)`` takes B×1×H×W float32 images in [0, 1]
and returns the B×1×H×W float32 fused image in [0, 1], like :class:`~critnet.model.CRITNet` with
its default decoder. The fusion functions (:func:`critnet.fuse`, ``fuse_file``, ``fuse_folder``,
:func:`critnet.pipeline.fusion.fuse_tensors`) accept one wherever they accept a model;
:func:`critnet.load_model` builds them (``backend=``, ``precision=``).

- ``torch``: the model itself, optionally under bf16/fp16 autocast. The attention statistics
  (norms, ``Q Kᵀ``, softmax) and the fusion decoder stay fp32 (see
  :func:`critnet.model.attention.channel_attention_map`), so the output stays within 1/255 of
  fp32. Half precision is meant for CUDA; on the CPU bf16 works (it is slower) and is what the
  tests check.
- ``onnxruntime``: the exported graph (:mod:`critnet.pipeline.export`, traced from the rewritten
  form of
  :mod:`critnet.pipeline.export_form`) on onnxruntime's CPU provider at ``ORT_ENABLE_ALL`` (its
  blocked
  NCHWc layout transforms are what make it fast), fp32 only.

- ``auto`` (the CLI's and the web page's default): :class:`AutoBackend` when onnxruntime is
  installed and the network can run on it (CPU, fp32, cosine attention), the torch model
  otherwise; it keeps the torch model for what the graph does not do (tiles, the raw decoder
  output) and loads the graph from :mod:`critnet.pipeline.graph_cache`.

Each backend carries its network's :class:`~critnet.model.config.CRITNetConfig` as ``config``
(``None`` for a graph without critnet's metadata). Tiled inference runs on the torch fp32 path,
on ``auto``'s three tiling graphs (:mod:`critnet.pipeline.tiled_onnx`; its torch model for
ablated networks) and on those shipped with the bundled weights
(:class:`~critnet.pipeline.bundled.BundledRuntime`): :func:`critnet.pipeline.fusion.fuse_tensors`
refuses ``tile=N`` for an explicit onnxruntime backend of a user's graph, and a frame whose
whole-frame forward ``config`` says would not fit.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from critnet.errors import CritnetError, InputError
from critnet.model import CRITNet
from critnet.model.config import CRITNetConfig
from critnet.model.tiled import resolve_tile, tiled_forward
from critnet.pipeline.export import onnx_bytes, require
from critnet.pipeline.graph_cache import cached_graph
from critnet.pipeline.runtime import (
    BACKENDS,
    PRECISIONS,
    STREAM_WORKERS,
    GraphSession,
    check_whole_fits,
    for_streams,
)

__all__ = ["BACKENDS", "PRECISIONS", "STREAM_WORKERS", "AutoBackend", "OnnxRuntimeBackend",
           "TorchBackend", "auto_backend", "describe_backend", "for_streams", "make_backend",
           "model_device", "torch_forward"]

Precision = Literal["fp32", "bf16", "fp16"]
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class TorchBackend(nn.Module):
    """``model`` run in ``precision``: fp32 as is, bf16/fp16 under autocast (weights stay fp32)."""

    def __init__(self, model: CRITNet, precision: Precision = "fp32") -> None:
        super().__init__()
        if precision not in PRECISIONS:
            raise InputError(f"unknown precision {precision!r}; choose one of "
                             f"{', '.join(PRECISIONS)}")
        self.model = model
        self.precision = precision
        self.config: CRITNetConfig | None = model.config

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        if self.precision == "fp32":
            return self.model(ir, vis)
        device = ir.device.type
        with torch.autocast(device, dtype=_DTYPES[self.precision]):
            return self.model(ir, vis).float()


class OnnxRuntimeBackend(nn.Module):
    """An exported C-RITNet graph on onnxruntime's CPU execution provider, as a torch module:
    tensors in and out around a :class:`~critnet.pipeline.runtime.GraphSession` (which the
    numpy pipeline runs directly, through :meth:`run_arrays`).

    Args:
        graph: the serialised ONNX model (:func:`critnet.pipeline.export.onnx_bytes`) or a
            ``.onnx`` path.
        threads: intra-op threads; ``None``: all cores (``os.cpu_count()``).
    """

    def __init__(self, graph: bytes | str | os.PathLike, threads: int | None = None) -> None:
        super().__init__()
        require("onnxruntime")
        self.runtime = GraphSession(graph, threads)
        self.graph, self.threads = graph, threads
        self.session, self.metadata = self.runtime.session, self.runtime.metadata
        self.config: CRITNetConfig | None = self.runtime.config

    def with_threads(self, threads: int) -> OnnxRuntimeBackend:
        """The same graph in a new session with ``threads`` intra-op threads."""
        return OnnxRuntimeBackend(self.graph, threads)

    @classmethod
    def from_model(cls, model: CRITNet, threads: int | None = None) -> OnnxRuntimeBackend:
        """Export ``model`` in memory and open it (a second or two for ``lite``)."""
        return cls(onnx_bytes(model), threads)

    def run_arrays(self, ir: np.ndarray, vis: np.ndarray, **kwargs) -> np.ndarray:
        """:meth:`critnet.pipeline.runtime.GraphSession.run_arrays` (numpy, no tensors)."""
        return self.runtime.run_arrays(ir, vis, **kwargs)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        fused = self.runtime.run(ir.detach().cpu().numpy(), vis.detach().cpu().numpy())
        return torch.from_numpy(fused).to(vis.device)


def stderr_note(line: str) -> None:
    """Print ``line`` on stderr when it is a terminal (a note for a person, not for logs)."""
    if sys.stderr is not None and sys.stderr.isatty():
        print(line, file=sys.stderr, flush=True)


class AutoBackend(nn.Module):
    """Whole frames on onnxruntime, everything else on the torch ``model`` it wraps.

    Tiled inference runs on onnxruntime too (:meth:`tiled_forward`, three more graphs), the raw
    decoder output (``aux=True``, used by ``normalize="minmax"``) on :attr:`torch_model`.
    The graph comes from :func:`~critnet.pipeline.graph_cache.cached_graph` on the first
    whole-frame call; if it cannot be built (``onnx`` missing on a cache miss), the torch model
    is used from then on, after a note.

    Args:
        weights_sha256: of the weights file, the cache key; ``None``: a hash of the tensors.
        note: where one-line notes go (first export, fallback); ``None``: nowhere.
    """

    def __init__(self, model: CRITNet, weights_sha256: str | None = None,
                 threads: int | None = None,
                 note: Callable[[str], None] | None = stderr_note) -> None:
        super().__init__()
        self.model = model
        self.config: CRITNetConfig | None = model.config
        self.weights_sha256 = weights_sha256
        self.threads = threads
        self.note = note
        self._runtime: list[OnnxRuntimeBackend | None] = []  # [] until tried; [None]: failed
        self._tiled: list | None = None  # the same for the tiling graphs
        self._lock = threading.Lock()  # frames of a stream may arrive from two threads at once

    def with_threads(self, threads: int) -> AutoBackend:
        """The same model and graph cache with ``threads`` intra-op threads per session."""
        return AutoBackend(self.model, self.weights_sha256, threads, self.note)

    @property
    def torch_model(self) -> CRITNet:
        """The wrapped model (tiles and raw output run on it)."""
        return self.model

    def runtime(self) -> OnnxRuntimeBackend | None:
        """The onnxruntime session (loaded or exported on first use), ``None`` if unavailable."""
        with self._lock:
            return self._load_runtime()

    def _load_runtime(self) -> OnnxRuntimeBackend | None:
        if not self._runtime:
            try:
                graph = cached_graph(self.model, self.weights_sha256, note=self.note)
                self._runtime.append(OnnxRuntimeBackend(graph, self.threads))
            except CritnetError as error:
                if self.note is not None:
                    self.note(f"critnet: onnxruntime unavailable ({error}); fusing with torch")
                self._runtime.append(None)
        return self._runtime[0]

    def tiled_forward(self, ir: Tensor, vis: Tensor, tile: int, *, raw: bool = False) -> Tensor:
        """Exact tiled inference: on onnxruntime's three tiling graphs
        (:mod:`critnet.pipeline.tiled_onnx`) for the full network, else on the torch model."""
        with self._lock:
            self._load_tiled()
        if self._tiled[0] is None:  # type: ignore[index]
            return tiled_forward(self.model, ir, vis, tile, raw=raw)
        from critnet.pipeline.tiled_onnx import tiled_tensors

        return tiled_tensors(self._tiled[0], ir, vis, tile, raw=raw)  # type: ignore[index]

    def _load_tiled(self) -> None:
        from critnet.pipeline.tiled_onnx import exportable, tiled_runtime

        if self._tiled is None:
            self._tiled = [None]
            if exportable(self.model):
                try:
                    self._tiled = [tiled_runtime(self.model, self.threads, self.weights_sha256,
                                                 self.note)]
                except CritnetError as error:
                    if self.note is not None:
                        self.note(f"critnet: tiling with torch ({error})")

    def forward(self, ir: Tensor, vis: Tensor, *, aux: bool = False):
        runtime = None if aux else self.runtime()
        if runtime is None:
            return self.model(ir, vis, aux=aux)
        return runtime(ir, vis)


def onnxruntime_installed() -> bool:
    """Whether ``import onnxruntime`` works."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def auto_backend(
    model: CRITNet, precision: str = "fp32", *, weights_sha256: str | None = None,
    threads: int | None = None,
) -> nn.Module:
    """The ``auto`` choice for ``model``: an :class:`AutoBackend` when onnxruntime is installed
    and can run it (fp32, CPU, cosine attention), else the torch path (``model`` itself in
    fp32, a :class:`TorchBackend` in bf16/fp16). Never refuses what torch can do.

    Raises:
        InputError: an unknown precision.
    """
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    usable = (precision == "fp32" and model_device(model).type == "cpu"
              and model.config.attention_norm == "cosine" and onnxruntime_installed())
    if usable:
        return AutoBackend(model, weights_sha256, threads)
    return model if precision == "fp32" else TorchBackend(model, precision)  # type: ignore


def make_backend(
    model: CRITNet,
    backend: str = "torch",
    precision: str = "fp32",
    threads: int | None = None,
    *,
    weights_sha256: str | None = None,
) -> nn.Module:
    """Wrap ``model`` for ``backend`` (``auto``, ``torch``, ``onnxruntime``) at ``precision``.

    onnxruntime's graph comes from :func:`~critnet.pipeline.graph_cache.cached_graph`, keyed by
    ``weights_sha256`` (of the weights file; ``None``: a hash of the model's tensors).

    Raises:
        InputError: unknown backend or precision, or a precision other than fp32 on onnxruntime.
        CritnetError: onnxruntime requested but the ``critnet[onnx]`` extra is not installed.
    """
    if backend == "auto":
        return auto_backend(model, precision, weights_sha256=weights_sha256, threads=threads)
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if backend == "onnxruntime":
        if precision != "fp32":
            raise InputError(f"precision {precision!r} needs the torch backend (onnxruntime "
                             f"runs fp32)")
        graph = cached_graph(model, weights_sha256, note=stderr_note)
        return OnnxRuntimeBackend(graph, threads)
    return TorchBackend(model, precision)  # type: ignore[arg-type]


def describe_backend(model: nn.Module) -> str:
    """``torch fp32``, ``torch bf16``, ``onnxruntime fp32`` or ``onnxruntime fp32 (auto)``."""
    if isinstance(model, AutoBackend):
        return "onnxruntime fp32 (auto)"
    if isinstance(model, OnnxRuntimeBackend):
        return "onnxruntime fp32"
    return f"torch {getattr(model, 'precision', 'fp32')}"


def model_device(model: nn.Module) -> torch.device:
    """Where ``model`` (a CRITNet or a backend) computes: its parameters' device, else CPU."""
    if not isinstance(model, nn.Module):  # a critnet.pipeline.bundled.BundledRuntime
        return torch.device("cpu")
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def torch_forward(model: nn.Module, ir: np.ndarray, vis: np.ndarray, *,
                  tile: int | str | None = "auto", raw: bool = False) -> np.ndarray:
    """The network step of :func:`critnet.pipeline.fusion.fuse_batch` for a torch module (a
    :class:`CRITNet` or a backend of this module): B×1×H×W numpy planes in, out, on the
    model's device under inference mode; tiled per ``tile`` (:mod:`critnet.model.tiled`; the
    ``auto`` backend on its onnxruntime tiling graphs), ``raw`` the unclamped decoder output."""
    # The auto backend tiles with its torch model; other modules (explicit backends,
    # baselines) are fused whole.
    tiler = getattr(model, "torch_model", model)
    try:
        if isinstance(tiler, CRITNet):
            tile_size = resolve_tile(tile, tiler, vis.shape)
        else:
            tile_size = None
            check_whole_fits(getattr(model, "config", None), tile, vis.shape)
    except ValueError as error:
        raise InputError(str(error)) from None
    device = model_device(model)
    with torch.inference_mode():
        ir_t, vis_t = (torch.from_numpy(a).to(device) for a in (ir, vis))
        if tile_size is not None and hasattr(model, "tiled_forward"):  # the auto backend
            fused = model.tiled_forward(ir_t, vis_t, tile_size, raw=raw)
        elif tile_size is not None:
            fused = tiled_forward(tiler, ir_t, vis_t, tile_size, raw=raw)
        elif raw:
            fused = model(ir_t, vis_t, aux=True).fused
        else:
            fused = model(ir_t, vis_t)
        return fused.to("cpu", torch.float32).numpy()
