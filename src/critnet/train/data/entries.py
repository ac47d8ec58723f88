"""The form of a ``data.sources`` / ``data.val_sources`` entry, checked when a config loads
(light: no image or torch import)."""

from __future__ import annotations

from typing import Any

from critnet.errors import ConfigError

FOLDER_KEYS = frozenset({"ir", "vis", "resize_ir", "ir_normalize"})
ROADSCENE_KEYS = frozenset({"name", "split"})


def check_source_entry(entry: Any, key: str) -> None:
    """Refuse a ``data.sources`` / ``data.val_sources`` entry of the wrong form (one line)."""
    if not isinstance(entry, dict):
        raise ConfigError(f"config key {key} must be a mapping such as {{ir: DIR, vis: DIR}} "
                          f"or {{name: roadscene, split: train}}, got {entry!r}")
    if "name" in entry:
        unknown = sorted(set(entry) - ROADSCENE_KEYS)
        if entry["name"] != "roadscene" or unknown:
            raise ConfigError(f"config key {key}: the only named source is roadscene "
                              f"(keys name, split), got {entry!r}")
        if entry.get("split", "train") != "train":
            raise ConfigError(f"config key {key}: roadscene split must be 'train' (its 50 test "
                              f"pairs are never trained or validated on), got "
                              f"{entry.get('split')!r}")
        return
    unknown = sorted(set(entry) - FOLDER_KEYS)
    missing = sorted({"ir", "vis"} - set(entry))
    if unknown or missing:
        raise ConfigError(f"config key {key}: a folder source has keys ir, vis (required), "
                          f"resize_ir, ir_normalize; got {sorted(entry)}")
    for name in ("ir", "vis"):
        if not isinstance(entry[name], str):
            raise ConfigError(f"config key {key}.{name} must be a folder path, got "
                              f"{entry[name]!r}")
    if not isinstance(entry.get("resize_ir", False), bool):
        raise ConfigError(f"config key {key}.resize_ir must be true or false")
    if entry.get("ir_normalize") not in (None, "full", "minmax", "percentile"):
        raise ConfigError(f"config key {key}.ir_normalize must be full, minmax, percentile or "
                          f"null, got {entry['ir_normalize']!r}")
