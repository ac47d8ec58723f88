"""Bundled weights and safetensors weight files (loaded without executing code).

A critnet weights file is a ``.safetensors`` state dict whose metadata holds ``format=critnet``,
``config`` (the JSON of :class:`~critnet.model.CRITNetConfig`), so a file alone rebuilds its
model, ``tensors_sha256`` (checked on load; see :mod:`critnet.weights.integrity`) and
``decoder``, the trained decoder that fuses by default (``fuse0`` for a snapshot taken before the
first phaseM stage-2 block, whose ``D_fuse`` is untrained; docs/design.md §3). Bundled files
live in this folder as ``<name>.safetensors`` with a model card ``<name>.md`` and a SHA-256 in
:data:`BUNDLED_SHA256`, and with their exported ONNX graph ``<name>.onnx`` (SHA-256 in
:data:`BUNDLED_GRAPH_SHA256`; made by ``scripts/export_bundled_graphs.py``), which fuses without
torch (:mod:`critnet.pipeline.runtime`). Torch and safetensors are imported only to load or save
tensors.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from critnet.errors import WeightsError, WeightsWarning
from critnet.io.atomic import atomic_path
from critnet.model.config import CRITNetConfig
from critnet.weights.integrity import (
    CHECKSUM_KEY,
    file_sha256,
    first_non_finite,
    tensors_sha256,
)

if TYPE_CHECKING:
    import torch

    from critnet.model import CRITNet
    from critnet.model.critnet import Decoder

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR  # where bundled names are looked up
FORMAT = "critnet"
DECODER_KEY = "decoder"

#: SHA-256 of each weights file shipped in :data:`PACKAGE_DIR`, checked whenever one is loaded.
BUNDLED_SHA256 = {
    "paper": "f44c611f1c1ea1b19adbd66f10522938fe64ddf7959ab0c8545f3f54e87f6f08",
    "lite": "96478bff1836981108f12fe350bcd84294592d30d6ab93676a36013417b842b6",
    "steep": "f5ec0b9004aea0366878b199c30de31d7e2bc9b1694051758a34b5b0a5c5a343",
    "tiny": "8a3ab1e82e31301a5703d8663ccd4e2fb3daba684356fc6de63eb4249d2ffb5b",
}


#: SHA-256 of each bundled network's shipped ONNX graphs (``<name>.onnx``, the whole forward, and
#: ``<name>.<kind>.onnx``, the three graphs of tiled inference), checked whenever one is loaded;
#: written by ``scripts/export_bundled_graphs.py``.
BUNDLED_GRAPH_SHA256 = {
    "lite": "1ca27c18f6ca0e24d3f5fa3b127f4f1402a36850b9a46b060c812cce3895e928",
    "lite.maps": "e9720107d5ab4fd72d71c4b53717925e0557e03462ba94a0b24e73c28bf512c9",
    "lite.moments": "950969f68fb725ee38a8ab874277511e993d30fd2d57de87abf7a05758fbb121",
    "lite.tile": "5f9643ecd87134252a1e8d3d3c39b67d34bb5a1ac9df43e2ac057444d3de616a",
    "paper": "d5a373eb0ecf416ee1bc41d69c5fb96dec93084412a2a73209a15929bbcb205f",
    "paper.maps": "cb3791f25d9a397fa1418ac68fda1a2d3403841b7bcb24361442079af10f7b98",
    "paper.moments": "6008fb911af2dd6abf8d36304055fec805070fcefd1d1dcb01887bb6e115bba3",
    "paper.tile": "4ad8e872884a3c6218f970180dcfc177a158b5b8945056f00761c5ac4f984f63",
    "steep": "673583948a8a3c8af0b114b786c632219a9ec3e347f677765ee6a6f9e2841293",
    "steep.maps": "83a38e6db5d96db5dd70a8b5f0d0f43fa7bf97d6c477006e5b35e52c140e23ca",
    "steep.moments": "a2136d778ed619e67d8dc9f4fbdc0873fa115c6a67b1ff14ce58bbae447aca29",
    "steep.tile": "b22e02e231cfeb08bdea71743c20c29eedff14fc5dfe0018240c4a227bcba6ef",
    "tiny": "6ed1d583a35f6f1b98771c39a76a47bd723f458cfee14b9d6a14b0eae6638fef",
    "tiny.maps": "86b09f01226b7991ccf88da71a09847d6c5909058d1b4c68ca892815138b03ef",
    "tiny.moments": "a36c101fa552e431d6b631afe760859f0a6e7691e5884eb3569ee22ce1ca3168",
    "tiny.tile": "a56546c9b04f600a556970fa8eff11d00d92d582bc499df27141a6268ccf0b93",
}


def __getattr__(name: str):
    if name == "StageOneModel":  # the torch network, imported when asked for
        from critnet.weights.stage_one import StageOneModel

        return StageOneModel
    raise AttributeError(f"module 'critnet.weights' has no attribute {name!r}")


def bundled_weights() -> dict[str, Path]:
    """Names of the weights shipped inside the package, mapped to their files."""
    return {p.stem: p for p in sorted(WEIGHTS_DIR.glob("*.safetensors"))}


#: The bundled weights used when none are named (``critnet fuse``, ``demo``, ``serve``,
#: ``load_model()``). ``steep`` since issue 23: against ``lite`` on the held-out sets it wins 7 of
#: the 12 (set × paper metric) comparisons and raises TNO-42 target retention 0.80 → 0.91 (the
#: rule: retention not below lite's, more wins than losses; src/critnet/weights/steep.md).
DEFAULT_WEIGHTS = ("steep", "lite")


def _graph_key(name: str, kind: str) -> str:
    return name if kind == "fuse" else f"{name}.{kind}"


def bundled_graph(name: str, kind: str = "fuse") -> Path | None:
    """The shipped ONNX graph of bundled weights ``name``, ``None`` when there is none (not a
    bundled name, or no graph shipped for it): ``<name>.onnx`` (``fuse``, the whole forward) or
    ``<name>.<kind>.onnx``, one of the three graphs of tiled inference
    (:mod:`critnet.pipeline.tiled_runtime`)."""
    key = _graph_key(name, kind)
    if key not in BUNDLED_GRAPH_SHA256 or name not in bundled_weights():
        return None
    path = WEIGHTS_DIR / f"{key}.onnx"
    return path if path.is_file() else None


def read_bundled_graph(name: str, kind: str = "fuse") -> bytes:
    """The bytes of :func:`bundled_graph`, checked against :data:`BUNDLED_GRAPH_SHA256`.

    Raises:
        WeightsError: no graph shipped for ``name``, or it does not match its SHA-256.
    """
    import hashlib

    path = bundled_graph(name, kind)
    if path is None:
        what = "ONNX graph" if kind == "fuse" else f"{kind} graph of tiled inference"
        raise WeightsError(f"no {what} is shipped for weights {name!r}")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != BUNDLED_GRAPH_SHA256[_graph_key(name, kind)]:
        raise WeightsError(f"{path}: bundled ONNX graph does not match its shipped SHA-256 "
                           f"(corrupted install; reinstall critnet)")
    return data


def default_weights_name() -> str | None:
    """The bundled weights used when none are named: the first of :data:`DEFAULT_WEIGHTS`
    shipped, else the first bundled file."""
    names = bundled_weights()
    if not names:
        return None
    return next((n for n in DEFAULT_WEIGHTS if n in names), next(iter(names)))


def save_weights(model: CRITNet, path: str | os.PathLike, *, decoder: Decoder | None = None,
                 **metadata: str) -> Path:
    """Write ``model``'s weights (fp32), config, tensor checksum and trained decoder (default:
    the model's ``default_decoder``) to ``path`` atomically."""
    import torch
    from safetensors.torch import save_file

    state = {k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype)
             .contiguous() for k, v in model.state_dict().items()}
    meta = {**metadata, "format": FORMAT, "config": json.dumps(model.config.to_dict()),
            DECODER_KEY: decoder or model.default_decoder, CHECKSUM_KEY: tensors_sha256(state)}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return path


#: Presets whose weights are being trained and not shipped yet, with where to read about it.
NOT_YET_TRAINED: dict[str, str] = {}


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
    if text in NOT_YET_TRAINED:
        raise WeightsError(f"weights {text!r} are not bundled yet: {NOT_YET_TRAINED[text]} "
                           f"(bundled: {shipped})")
    raise WeightsError(f"unknown weights name {text!r} (bundled: {shipped}; or pass a "
                       f".safetensors path)")


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of a ``.safetensors`` file (header only; no tensors are read).

    Raises:
        WeightsError: missing or unreadable file.
    """
    from safetensors import SafetensorError, safe_open

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

    The model is a :class:`StageOneModel` (fusing with ``D_fuse0``) when the file records
    ``decoder=fuse0`` for a config with SIPRIA. A file without a tensor checksum (written by an
    older critnet) loads with a warning.

    Raises:
        WeightsError: unknown name, missing/corrupted file (tensor data not matching its
            checksum, a bundled file not matching its shipped SHA-256), not a critnet file,
            NaN/Inf tensors, or a file whose preset differs from ``preset`` (when given) or whose
            tensors do not fit its config.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from critnet.model import CRITNet

    path = resolve_weights(name_or_path)
    _check_bundled(path)
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
    model = _model_class(path, config, metadata.get(DECODER_KEY), CRITNet)(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise WeightsError(f"{path}: tensors do not match preset {config.preset!r} ({detail})") \
            from None
    _check_tensors(path, state, metadata.get(CHECKSUM_KEY))
    model = model.to(device).eval()
    if torch.device(device).type == "cpu":
        # Same results, ~15% faster CPU inference (oneDNN convolutions prefer NHWC).
        model = model.to(memory_format=torch.channels_last)
    return model


def _check_bundled(path: Path) -> None:
    """A file shipped in the package must match its SHA-256 in :data:`BUNDLED_SHA256`."""
    expected = BUNDLED_SHA256.get(path.stem) if path.resolve().parent == PACKAGE_DIR else None
    if expected is not None and file_sha256(path) != expected:
        raise WeightsError(f"{path}: bundled weights file does not match its shipped SHA-256 "
                           f"(corrupted install; reinstall critnet)")


def _check_tensors(path: Path, state: dict[str, torch.Tensor], checksum: str | None) -> None:
    """Tensor data must match the stored checksum (warn when there is none) and be finite."""
    if checksum is None:
        warnings.warn(f"{path}: no tensor checksum in its metadata (written by an older "
                      f"critnet); corruption cannot be detected", WeightsWarning, stacklevel=3)
    elif tensors_sha256(state) != checksum:
        raise WeightsError(f"{path}: tensor data does not match its checksum (corrupted file)")
    bad = first_non_finite(state)
    if bad is not None:
        raise WeightsError(f"{path}: tensor {bad!r} holds NaN or Inf values")


def _model_class(path: Path, config: CRITNetConfig, decoder: str | None,
                 network: type[CRITNet]) -> type[CRITNet]:
    """:class:`StageOneModel` for ``decoder=fuse0`` with SIPRIA; no key: today's default."""
    if decoder is None:
        return network
    if decoder not in ("fuse", "fuse0") or (decoder == "fuse" and not config.sipria):
        raise WeightsError(f"{path}: invalid decoder {decoder!r} in metadata for a config "
                           f"with sipria={config.sipria}")
    if decoder == "fuse0" and config.sipria:
        from critnet.weights.stage_one import StageOneModel

        return StageOneModel
    return network
