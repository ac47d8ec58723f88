"""Training checkpoints: model, optimizers, position, RNG states; atomic and ``weights_only``-safe.

Everything is stored as tensors and plain Python types so that :func:`load_checkpoint` can use
``torch.load(weights_only=True)`` (no code executed on load). Layout (``FORMAT_VERSION`` 1):

    {"format": "critnet-train", "version": 1, "step": int, "epoch": int, "wall_time": float,
     "config": dict (TrainConfig.to_dict()), "model": state_dict,
     "optimizers": {name: optimizer state_dict}, "rng": rng_state(),
     "sampler": {"seed": int, "epoch": int, "position": int}}

The learning rate is a pure function of the position (see :func:`schedule.lr_factor`), so the
position *is* the scheduler state; the current rates are also inside each optimizer state.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from critnet.errors import ConfigError, InputError
from critnet.io.atomic import atomic_path
from critnet.train.config import TrainConfig

FORMAT = "critnet-train"
FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (and CUDA when available) RNG states as tensors / plain types."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(internal), "gauss": gauss},
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"],
                         npy["has_gauss"], npy["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """``torch.save`` ``payload`` (plus format tags) to ``path`` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "version": FORMAT_VERSION, **payload}, tmp)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` onto the CPU.

    Raises:
        InputError: missing file, or not a critnet training checkpoint of a known version.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{path}: not a critnet training checkpoint")
    if payload.get("version") != FORMAT_VERSION:
        raise InputError(f"{path}: checkpoint version {payload.get('version')} is not "
                         f"{FORMAT_VERSION}")
    return payload


def config_with_defaults(saved: dict[str, Any]) -> dict[str, Any] | None:
    """A checkpoint's config with options added since it was written at their defaults
    (``None`` if it no longer loads)."""
    try:
        return TrainConfig.from_dict(saved).to_dict()
    except ConfigError:
        return None


def check_same_config(path: Path, saved: dict[str, Any], config: TrainConfig) -> None:
    """Refuse to resume the checkpoint ``path`` (written with config ``saved``) under another
    config, naming the keys that differ (``--epochs 30`` on a run of 60: ``schedule.epochs: 60
    -> 30``; at most three, then how many more).

    Raises:
        InputError: the configs differ.
    """
    old, now = config_with_defaults(saved), config.to_dict()
    if old == now:
        return
    changes = _changes(old or saved, now, "")
    shown = "; ".join(changes[:3]) + (f"; {len(changes) - 3} more" if len(changes) > 3 else "")
    raise InputError(f"{path}: written by a different config ({shown}); resume with the same "
                     f"options and config, or start a new --out")


def check_same_data(path: Path, payload: dict[str, Any], data: Any) -> None:
    """Refuse to resume the checkpoint ``path`` on other training pairs than it was written on
    (``data``: the run's :class:`~critnet.train.data.build.TrainingData`, or ``None`` for a
    dataset given in Python, which has no fingerprint).

    Raises:
        InputError: the fingerprints differ.
    """
    saved = payload.get("data", {}).get("fingerprint")
    if data is not None and saved is not None and saved != data.fingerprint:
        raise InputError(f"{path}: its training pairs differ from today's (files added, removed "
                         f"or resized); resume with the same pairs or start a new --out")


def _changes(saved: dict[str, Any], now: dict[str, Any], prefix: str) -> list[str]:
    changes = []
    for key in sorted(set(saved) | set(now), key=str):
        a, b = saved.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changes += _changes(a, b, f"{prefix}{key}.")
        elif a != b:
            changes.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return changes
