"""Which network fuses: weights by name or path, the cached bundled default (docs/design.md §5)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from critnet.errors import WeightsError
from critnet.pipeline.bundled import BundledRuntime, bundled_runtime
from critnet.pipeline.fusion import resolve_device
from critnet.pipeline.runtime import installed, require_torch
from critnet.weights import bundled_weights, default_weights_name, load_weights, resolve_weights
from critnet.weights.integrity import file_sha256

if TYPE_CHECKING:
    import torch

    from critnet.model import CRITNet

NO_BUNDLED_WEIGHTS = (
    "no bundled weights exist yet (no .safetensors file in critnet/weights/); pass --weights "
    "PATH to a trained .safetensors file (Python: critnet.load_model(PATH))"
)


def load_model(
    name_or_path: str | os.PathLike | None = None,
    *,
    device: str | torch.device = "cpu",
    preset: str | None = None,
    backend: str = "torch",
    precision: str = "fp32",
) -> CRITNet | torch.nn.Module | BundledRuntime:
    """A C-RITNet with weights, in eval mode.

    Args:
        name_or_path: a bundled weights name (see :func:`critnet.weights.bundled_weights`), a
            ``.safetensors`` path, or ``None`` for the bundled default (``lite`` when shipped).
        device: ``cpu``, ``cuda`` or ``auto``.
        preset: if given, refuse weights of any other preset (``lite``, ``paper``).
        backend, precision: ``torch`` / ``onnxruntime`` / ``auto`` and ``fp32`` / ``bf16`` /
            ``fp16``; other than ``torch``/``fp32`` the model comes wrapped in a backend of
            :mod:`critnet.pipeline.backends`, usable wherever a model is. ``auto`` (the CLI's
            default) is onnxruntime when installed and usable, and torch otherwise. With
            bundled weights on the CPU, ``auto`` and ``onnxruntime`` give a
            :class:`~critnet.pipeline.bundled.BundledRuntime` on the graph shipped with them
            (torch is not imported); other weights' graphs are exported once and cached
            (:mod:`critnet.pipeline.graph_cache`).

    Raises:
        WeightsError: nothing bundled (for ``None``), unknown name, missing or corrupted file,
            wrong preset.
        InputError: an unknown or unavailable device.
    """
    if name_or_path is None:
        name_or_path = default_weights_name()
        if name_or_path is None:
            raise WeightsError(NO_BUNDLED_WEIGHTS)
    runtime = bundled_runtime(name_or_path, device=device, preset=preset, backend=backend,
                              precision=precision)
    if runtime is not None:
        return runtime
    require_torch(_torch_need(name_or_path, backend, precision))
    target = resolve_device(device)
    model = load_weights(name_or_path, preset=preset, device=target)
    if (backend, precision) == ("torch", "fp32"):
        return model
    from critnet.pipeline.backends import make_backend

    digest = None if backend == "torch" else file_sha256(resolve_weights(name_or_path))
    return make_backend(model, backend, precision, weights_sha256=digest)


def _torch_need(name_or_path: Any, backend: str, precision: str) -> str:
    """What asked for torch, for :func:`~critnet.pipeline.runtime.require_torch`'s line."""
    if backend == "torch":
        return "--backend torch"
    if precision != "fp32":
        return f"--precision {precision}"
    if str(name_or_path) not in bundled_weights():
        return f"fusing with your own weights ({name_or_path}; exported to ONNX on first use)"
    return "this device"


def describe_weights(name_or_path: str | os.PathLike | None = None) -> str:
    """One line saying which weights :func:`load_model` would use (for logs and the CLI)."""
    if name_or_path is None:
        name_or_path = default_weights_name()
        if name_or_path is None:
            raise WeightsError(NO_BUNDLED_WEIGHTS)
        return f"bundled weights {name_or_path!r} ({resolve_weights(name_or_path)})"
    path = resolve_weights(name_or_path)
    if str(name_or_path) == path.stem and not Path(str(name_or_path)).exists():
        return f"bundled weights {path.stem!r} ({path})"
    return f"weights file {path}"


def ready_model(model: Any, device: str | torch.device | None) -> Any:
    """``model`` moved to ``device`` (if given), or the bundled default there (cached): the
    torch network, or its shipped graph (:class:`~critnet.pipeline.bundled.BundledRuntime`)
    in an install without torch.

    Raises:
        WeightsError: ``model`` is ``None`` and no weights are bundled.
    """
    if model is None:
        name = default_weights_name()
        if name is None:
            raise WeightsError(NO_BUNDLED_WEIGHTS)
        if not installed("torch"):
            return _cached_runtime(name)
        path = resolve_weights(name)
        target = resolve_device(device or "cpu")
        return _cached_default(str(path), path.stat().st_mtime_ns, str(target))
    if device is not None and not isinstance(model, BundledRuntime):
        model.to(resolve_device(device))
    return model


@functools.lru_cache(maxsize=2)
def _cached_runtime(name: str) -> BundledRuntime:
    return BundledRuntime(name)


@functools.lru_cache(maxsize=2)
def _cached_default(path: str, mtime_ns: int, device: str) -> CRITNet:
    return load_weights(path, device=device)


__all__ = ["NO_BUNDLED_WEIGHTS", "describe_weights", "load_model", "ready_model"]
