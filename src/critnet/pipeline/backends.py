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

Each backend carries its network's :class:`~critnet.model.config.CRITNetConfig` as ``config``
(``None`` for a graph without critnet's metadata). Tiled inference runs on the torch fp32 path
only: :func:`critnet.pipeline.fusion.fuse_tensors` refuses ``tile=N`` for a backend, and a frame
whose
whole-frame forward ``config`` says would not fit.
"""

from __future__ import annotations

import json
import os
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from critnet.errors import InputError
from critnet.model import CRITNet
from critnet.model.config import CRITNetConfig
from critnet.pipeline.export import INPUT_NAMES, onnx_bytes, require

BACKENDS = ("torch", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "fp16")
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
    """An exported C-RITNet graph on onnxruntime's CPU execution provider.

    Args:
        graph: the serialised ONNX model (:func:`critnet.pipeline.export.onnx_bytes`) or a
            ``.onnx`` path.
        threads: intra-op threads; ``None``: all cores (``os.cpu_count()``).
    """

    def __init__(self, graph: bytes | str | os.PathLike, threads: int | None = None) -> None:
        super().__init__()
        ort = require("onnxruntime")
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

    @classmethod
    def from_model(cls, model: CRITNet, threads: int | None = None) -> OnnxRuntimeBackend:
        """Export ``model`` in memory and open it (a second or two for ``lite``)."""
        return cls(onnx_bytes(model), threads)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        feeds = {name: np.ascontiguousarray(image.detach().cpu().numpy(), dtype=np.float32)
                 for name, image in zip(INPUT_NAMES, (ir, vis), strict=True)}
        (fused,) = self.session.run(None, feeds)
        return torch.from_numpy(fused).to(vis.device)


def make_backend(
    model: CRITNet,
    backend: str = "torch",
    precision: str = "fp32",
    threads: int | None = None,
) -> nn.Module:
    """Wrap ``model`` for ``backend`` (``torch``, ``onnxruntime``) at ``precision``.

    Raises:
        InputError: unknown backend or precision, or a precision other than fp32 on onnxruntime.
        CritnetError: onnxruntime requested but the ``critnet[onnx]`` extra is not installed.
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if backend == "onnxruntime":
        if precision != "fp32":
            raise InputError(f"precision {precision!r} needs the torch backend (onnxruntime "
                             f"runs fp32)")
        return OnnxRuntimeBackend.from_model(model, threads)
    return TorchBackend(model, precision)  # type: ignore[arg-type]


def model_device(model: nn.Module) -> torch.device:
    """Where ``model`` (a CRITNet or a backend) computes: its parameters' device, else CPU."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")
