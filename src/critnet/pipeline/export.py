"""ONNX export of a C-RITNet: one graph for any batch and any H×W, provenance in its metadata.

The graph takes ``ir`` and ``vis`` (B×1×H×W float32 in [0, 1]) and returns ``fused`` (B×1×H×W
in [0, 1]), exactly :meth:`CRITNet.forward` with the model's default decoder. Its metadata
(``onnx.ModelProto.metadata_props``) holds ``format=critnet``, ``preset``, ``config`` (JSON),
``weights_sha256`` (of the ``.safetensors`` file it came from, when known) and the opset.

``onnx`` and ``onnxruntime`` are the optional extra ``critnet[onnx]``; they are imported only here
and in :mod:`critnet.pipeline.backends`, so the rest of critnet works without them.
"""

from __future__ import annotations

import copy
import importlib
import io
import json
import os
import warnings
from pathlib import Path
from types import ModuleType

import torch
from torch import Tensor, nn

from critnet.errors import CritnetError, InputError
from critnet.io.atomic import atomic_path
from critnet.io.checksum import file_sha256
from critnet.io.outputs import check_output_file
from critnet.model import CRITNet
from critnet.pipeline.export_affine import AffineForm, affine_applies
from critnet.pipeline.export_form import InferenceForm
from critnet.pipeline.runtime import INPUT_NAMES, OPTIMIZATION_KEY

OPSET = 17
OUTPUT_NAME = "fused"
_DYNAMIC = {0: "batch", 2: "height", 3: "width"}


def require(module: str) -> ModuleType:
    """Import ``onnx`` or ``onnxruntime``, or fail with one line naming the extra.

    Raises:
        CritnetError: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise CritnetError(f"{module} is not installed; install the ONNX extra: "
                           f"pip install 'critnet[onnx]'") from None


def export_form(model: CRITNet) -> nn.Module:
    """The form of a copy of ``model`` (fp32, CPU, NCHW, eval) that is traced; ``model`` is not
    changed. Same results as ``model(ir, vis)`` to rounding: a model with a 1×1 first ``D_fuse``
    convolution gets :class:`~critnet.pipeline.export_affine.AffineForm`, every other cosine
    model :class:`~critnet.pipeline.export_form.InferenceForm`; models with ``sqrt_d``
    attention are returned as a plain copy (the Gram statistics are written for the cosine
    form only; :func:`onnx_bytes` refuses them)."""
    form = copy.deepcopy(model).float().cpu().to(memory_format=torch.contiguous_format).eval()
    if form.config.attention_norm != "cosine":
        return form
    if affine_applies(form):
        return AffineForm(form).eval()
    return InferenceForm(form).eval()


class _FuseGraph(nn.Module):
    """``(ir, vis) -> fused``: the traced signature (``CRITNet.forward`` has keyword options)."""

    def __init__(self, model: CRITNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        return self.model(ir, vis)


def onnx_bytes(
    model: CRITNet, metadata: dict[str, str] | None = None, *, rewrite: bool = True
) -> bytes:
    """Serialise ``model`` (any device, any memory layout; it is not modified) to ONNX.

    Exported with the TorchScript exporter at opset 17 from an fp32 NCHW copy on the CPU, batch,
    height and width dynamic. ``metadata`` is added to the provenance described above.

    Args:
        rewrite: trace :func:`export_form` (the same function, about
            1.2×
            faster on onnxruntime); ``False`` traces the model as written (for comparison).

    Raises:
        InputError: the model uses ``sqrt_d`` attention: its ``1/sqrt(HW)`` scale is a Python
            number that the tracer freezes at the example's 32×32, so the graph would be wrong
            at every other size (measured: off by 7e-3 at 61×40).
    """
    if model.config.attention_norm != "cosine":
        raise InputError(f"ONNX export supports cosine attention only, not "
                         f"{model.config.attention_norm!r} (its 1/sqrt(HW) scale would be "
                         f"traced as a constant)")
    require("onnx")
    if rewrite:
        graph = _FuseGraph(export_form(model))
    else:
        plain = copy.deepcopy(model).float().cpu()
        graph = _FuseGraph(plain.to(memory_format=torch.contiguous_format))
    example = torch.rand(1, 1, 32, 32)
    data = trace_graph(graph, (example, example), INPUT_NAMES, (OUTPUT_NAME,),
                       {name: _DYNAMIC for name in (*INPUT_NAMES, OUTPUT_NAME)})
    return with_metadata(data, model, {**optimization_metadata(graph.model), **(metadata or {})})


def optimization_metadata(form: nn.Module) -> dict[str, str]:
    """``{OPTIMIZATION_KEY: "extended"}`` for a graph traced from an
    :class:`~critnet.pipeline.export_affine.AffineForm` (``tiny``): its per-pixel products read
    NCHW tensors, so onnxruntime's NCHWc transforms reorder every feature back and cost more
    than they save (tiny, 640×480, 2 threads: 30 ms without, 40–49 ms with); ``{}`` otherwise
    (:class:`~critnet.pipeline.runtime.GraphSession` reads it)."""
    return {OPTIMIZATION_KEY: "extended"} if isinstance(form, AffineForm) else {}


def with_metadata(data: bytes, model: CRITNet, metadata: dict[str, str] | None = None) -> bytes:
    """The serialised graph ``data`` of ``model`` with critnet's provenance (``format``,
    ``preset``, ``config``, ``opset``) and ``metadata`` in its ``metadata_props``."""
    onnx = require("onnx")
    proto = onnx.load_from_string(data)
    values = {"format": "critnet", "preset": model.config.preset,
              "config": json.dumps(model.config.to_dict()), "opset": str(OPSET),
              **(metadata or {})}
    for key, value in values.items():
        proto.metadata_props.add(key=key, value=value)
    return proto.SerializeToString()


def trace_graph(graph: nn.Module, examples: tuple[Tensor, ...], inputs: tuple[str, ...],
                outputs: tuple[str, ...], dynamic: dict[str, dict[int, str]]) -> bytes:
    """``graph`` traced on ``examples`` to serialised ONNX (TorchScript exporter, opset 17).

    Traced with autograd on: the residual dense block then takes its ``torch.cat`` path (its
    in-place inference path would export as ScatterND).
    """
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore")  # tracer warnings about the input-shape check
        torch.onnx.export(graph.eval(), examples, buffer, dynamo=False, opset_version=OPSET,
                          input_names=list(inputs), output_names=list(outputs),
                          dynamic_axes=dynamic)
    return buffer.getvalue()


def export_onnx(
    model: CRITNet,
    path: str | os.PathLike,
    *,
    weights_path: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as an ONNX graph to ``path`` (atomically; nothing is left on failure).

    Args:
        weights_path: the ``.safetensors`` file the model was loaded from; its SHA-256 goes
            into the metadata as ``weights_sha256``.
        overwrite: replace an existing ``path``.

    Raises:
        InputError: ``path`` does not end in ``.onnx``, is a folder, or exists without
            ``overwrite``.
        CritnetError: ``onnx`` is not installed.
    """
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise InputError(f"{path}: an ONNX export needs a .onnx file name")
    check_output_file(path, overwrite=overwrite, example="critnet.onnx")
    metadata = {} if weights_path is None else {"weights_sha256": file_sha256(weights_path),
                                                "weights_file": Path(weights_path).name}
    data = onnx_bytes(model, metadata)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return path


def read_onnx_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file, as a dict.

    Raises:
        InputError: missing or unreadable file.
    """
    onnx = require("onnx")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # OSError, or protobuf's DecodeError for a corrupt file
        raise InputError(f"{path}: not a readable ONNX file ({error})") from None
    return {prop.key: prop.value for prop in proto.metadata_props}
