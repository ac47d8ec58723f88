"""The ``data:`` section of a training config: which pairs, how they are read, split and loaded
(docs/training.md, "Training on your own pairs")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from critnet.errors import ConfigError


@dataclass(frozen=True)
class DataSection:
    """Training data (docs/training.md, "Training on your own pairs").

    Attributes:
        root: the shared data root (``None`` → :func:`critnet.io.paths.data_root`); RoadScene is
            ``root/roadscene``.
        crop: square crop size; ``flips``: random horizontal/vertical flips.
        sources: pair sources (:mod:`critnet.train.data.sources`): folders
            ``{ir: DIR, vis: DIR, resize_ir: false, ir_normalize: null}`` and/or
            ``{name: roadscene, split: train}``; empty (default) = RoadScene's train split.
        val_fraction: fraction of the stems held out for validation by a hash of the stem
            (:mod:`critnet.train.data.split`); 0 = no validation split.
        val_sources: folder sources used only for validation (instead of ``val_fraction``).
        val_limit: at most this many validation pairs are scored (those with the smallest stem
            hash).
        loading: ``preload`` (every pair in memory), ``stream`` (read from disk by DataLoader
            workers) or ``auto``: preload when the estimate fits ``memory_mb``.
        memory_mb: the preload budget of ``auto``.
        workers: DataLoader worker processes for reading (scan and streaming).
        min_pairs: fewer usable training pairs refuse to train.
        strict: refuse to train when any pair or file is unusable.
    """

    root: str | None = None
    crop: int = 120
    flips: bool = True
    sources: list[dict[str, Any]] = field(default_factory=list)
    val_fraction: float = 0.0
    val_sources: list[dict[str, Any]] = field(default_factory=list)
    val_limit: int = 100
    loading: Literal["auto", "preload", "stream"] = "auto"
    memory_mb: int = 2048
    workers: int = 2
    min_pairs: int = 1
    strict: bool = False

    def __post_init__(self) -> None:
        from critnet.train.data.entries import check_source_entry

        for key in ("sources", "val_sources"):
            entries = getattr(self, key)
            if not isinstance(entries, list):
                raise ConfigError(f"config key data.{key} must be a list, got {entries!r}")
            for index, entry in enumerate(entries):
                check_source_entry(entry, f"data.{key}[{index}]")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"config key data.val_fraction must be in [0, 1), got "
                              f"{self.val_fraction}")
        if self.val_fraction > 0 and self.val_sources:
            raise ConfigError("data.val_fraction and data.val_sources exclude each other: hold "
                              "out a fraction of the training stems or give validation folders")
        if any("name" in entry for entry in self.val_sources):
            raise ConfigError("data.val_sources holds folder sources only")
        for key in ("crop", "val_limit", "memory_mb", "min_pairs"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key data.{key} must be >= 1, got {getattr(self, key)}")
        if self.workers < 0:
            raise ConfigError(f"config key data.workers must be >= 0, got {self.workers}")
