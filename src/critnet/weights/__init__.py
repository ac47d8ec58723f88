"""Bundled weights and safetensors weight files (loaded without executing code).

A critnet weights file is a ``.safetensors`` state dict whose metadata holds ``format=critnet``
and ``config`` (the JSON of :class:`~critnet.model.CRITNetConfig`), so a file alone rebuilds its
model. Bundled files live in this folder as ``<name>.safetensors`` with a model card ``<name>.md``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from critnet.atomic import atomic_path
from critnet.errors import WeightsError
from critnet.model import CRITNet, CRITNetConfig

WEIGHTS_DIR = Path(__file__).resolve().parent
FORMAT = "critnet"


def bundled_weights() -> dict[str, Path]:
    """Names of the weights shipped inside the package, mapped to their files."""
    return {p.stem: p for p in sorted(WEIGHTS_DIR.glob("*.safetensors"))}


def default_weights_name() -> str | None:
    """The bundled weights used when none are named: ``lite`` if shipped, else the first one."""
    names = bundled_weights()
    if not names:
        return None
    return "lite" if "lite" in names else next(iter(names))


def save_weights(model: CRITNet, path: str | os.PathLike, **metadata: str) -> Path:
    """Write ``model``'s weights (fp32) and config to ``path`` atomically."""
    state = {k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype)
             .contiguous() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "config": json.dumps(model.config.to_dict()), **metadata}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return path


def resolve_weights(name_or_path: str | os.PathLike) -> Path:
    """A bundled name (``lite``, ``paper``) or a path to a ``.safetensors`` file."""
    text = str(name_or_path)
    bundled = bundled_weights()
    if text in bundled:
        return bundled[text]
    path = Path(text).expanduser()
    if path.suffix == ".safetensors" or path.exists() or os.sep in text or "/" in text:
        if not path.is_file():
            raise WeightsError(f"{path}: weights file not found")
        return path
    shipped = ", ".join(bundled) or "none yet"
    raise WeightsError(f"unknown weights name {text!r} (bundled: {shipped}; or pass a "
                       f".safetensors path)")


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a ``.safetensors`` file (header only; no tensors are read).

    Raises:
        WeightsError: missing or unreadable file.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise WeightsError(f"{path}: not a readable safetensors weights file ({error})") from None


def load_weights(
    name_or_path: str | os.PathLike,
    *,
    preset: str | None = None,
    device: str | torch.device = "cpu",
) -> CRITNet:
    """Build the model a weights file describes and load its tensors (no code executed).

    Raises:
        WeightsError: unknown name, missing/corrupted file, not a critnet file, or a file whose
            preset differs from ``preset`` (when given) or whose tensors do not fit its config.
    """
    path = resolve_weights(name_or_path)
    metadata = read_metadata(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise WeightsError(f"{path}: not a readable safetensors weights file ({error})") from None
    if metadata.get("format") != FORMAT or "config" not in metadata:
        raise WeightsError(f"{path}: not a critnet weights file (no critnet config in metadata)")
    try:
        config = CRITNetConfig.from_dict(json.loads(metadata["config"]))
    except (ValueError, TypeError) as error:
        raise WeightsError(f"{path}: invalid model config in metadata ({error})") from None
    if preset is not None and config.preset != preset:
        raise WeightsError(f"{path}: weights are for preset {config.preset!r}, not {preset!r}")
    model = CRITNet(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise WeightsError(f"{path}: tensors do not match preset {config.preset!r} ({detail})") \
            from None
    model = model.to(device).eval()
    if torch.device(device).type == "cpu":
        # Same results, ~15% faster CPU inference (oneDNN convolutions prefer NHWC).
        model = model.to(memory_format=torch.channels_last)
    return model
