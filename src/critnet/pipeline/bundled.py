"""Fusion with the bundled weights without torch: the ONNX graphs shipped with them.

The bundled weights (``steep``, ``lite``, ``tiny``) come with their exported graphs
(``critnet/weights/<name>.onnx``, made by ``scripts/export_bundled_graphs.py`` with critnet's own
exporter, checked against :data:`critnet.weights.BUNDLED_GRAPH_SHA256`), so fusing with them
needs numpy, Pillow and onnxruntime only: nothing is exported, and torch is not imported. Exact
tiled inference and the raw decoder output of ``normalize="minmax"`` run on the three tiling
graphs shipped beside it (``<name>.<kind>.onnx``, :mod:`critnet.pipeline.tiled_runtime`); only
weights shipped without them would go to the torch side (:mod:`critnet.pipeline.backends`).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from critnet.errors import InputError, WeightsError
from critnet.model import tiled
from critnet.pipeline.fusion import device_name
from critnet.pipeline.runtime import HALO_KEY, GraphSession, installed, require_torch
from critnet.pipeline.tiled_runtime import KINDS, TiledGraphs


class BundledRuntime:
    """A bundled network on its shipped graphs (whole frames, tiles, the raw output).

    Args:
        name: a bundled weights name with a shipped graph (:func:`critnet.weights.bundled_graph`).
        threads: intra-op threads (``None``: all cores).
        torch_fallback: tiles and ``normalize="minmax"`` on torch where no tiling graphs are
            shipped (``backend="auto"``); ``False`` (``backend="onnxruntime"``): refused in one
            line then, as for any onnxruntime backend.

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
        self._tiled: list[TiledGraphs | None] | None = None

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
        the shipped graph; tiles and the raw output on the shipped tiling graphs (the raw
        output of the whole frame as one tile), or on the torch side where none are shipped."""
        try:
            size = tiled.resolve_tile(tile, self.config, vis.shape, halo=self.halo)
        except ValueError as error:
            raise InputError(str(error)) from None
        if size is None and not raw:
            return self.session.run(ir, vis)
        graphs = self.tiled_graphs()
        if graphs is not None:
            return graphs(ir, vis, size, raw=raw)
        if not self.torch_fallback:
            return self.session.run_arrays(ir, vis, tile=tile, raw=raw)
        what = f"tiled inference ({size}-px tiles)" if size is not None else "normalize 'minmax'"
        backend = self.torch_backend(what)
        from critnet.pipeline.backends import torch_forward

        return torch_forward(backend, ir, vis, tile=size or "off", raw=raw)

    def tiled_graphs(self) -> TiledGraphs | None:
        """The shipped graphs of tiled inference (loaded once, on first need), ``None`` when
        none are shipped for these weights."""
        from critnet.weights import bundled_graph, read_bundled_graph

        if self._tiled is None:
            shipped = all(bundled_graph(self.name, kind) for kind in KINDS)
            self._tiled = [TiledGraphs(lambda kind: read_bundled_graph(self.name, kind),
                                       self.threads) if shipped else None]
        return self._tiled[0]

    @property
    def torch_model(self) -> Any:
        """The torch network of the same weights (as :class:`~critnet.pipeline.backends.
        AutoBackend` has it; imports torch)."""
        return self.torch_backend("the torch model").torch_model

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
    from critnet.weights import bundled_graph

    if (backend not in ("auto", "onnxruntime") or precision != "fp32"
            or not isinstance(name, str) or bundled_graph(name) is None
            or not installed("onnxruntime") or device_name(device) != "cpu"):
        return None
    model = BundledRuntime(name, torch_fallback=backend == "auto")
    if preset is not None and model.config.preset != preset:
        raise WeightsError(f"{model.weights_path}: weights are for preset "
                           f"{model.config.preset!r}, not {preset!r}")
    return model


def describe_model(model: Any) -> str:
    """Where and how ``model`` fuses, for the CLI's line: ``cpu``, ``cuda:0, torch bf16``,
    ``cpu, onnxruntime fp32 (auto, shipped graph)``, …"""
    if isinstance(model, BundledRuntime):
        return f"{model.device}, {model.describe()}"
    from critnet.pipeline.backends import describe_backend, model_device

    backend = describe_backend(model)
    return str(model_device(model)) + ("" if backend == "torch fp32" else f", {backend}")


__all__ = ["BundledRuntime", "bundled_runtime", "describe_model"]
