"""Pair discovery: infrared and visible files matched by file stem (``ir/X.png`` ↔ ``vi/X.jpg``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from critnet.errors import InputError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})


@dataclass
class PairMatch:
    """Result of matching two folders by stem.

    Attributes:
        pairs: ``(stem, ir_path, vis_path)`` sorted by stem.
        unmatched_ir: IR files with no visible partner.
        unmatched_vis: visible files with no IR partner.
    """

    pairs: list[tuple[str, Path, Path]] = field(default_factory=list)
    unmatched_ir: list[Path] = field(default_factory=list)
    unmatched_vis: list[Path] = field(default_factory=list)


def list_images(folder: str | os.PathLike) -> dict[str, Path]:
    """Image files directly in ``folder`` (by suffix, case-insensitive), keyed by stem.

    Raises:
        InputError: the folder does not exist, holds no image, or holds two images with one stem.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: folder not found")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        is_image = path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
        if is_image and path.is_file():
            if path.stem in found:
                raise InputError(f"{folder}: two images share the stem {path.stem!r} "
                                 f"({found[path.stem].name}, {path.name})")
            found[path.stem] = path
    if not found:
        raise InputError(f"{folder}: no images found (looked for "
                         f"{', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


def match_pairs(ir_dir: str | os.PathLike, vis_dir: str | os.PathLike) -> PairMatch:
    """Match the images of ``ir_dir`` and ``vis_dir`` by stem.

    Raises:
        InputError: a folder is missing or empty, or no stem is shared.
    """
    ir = list_images(ir_dir)
    vis = list_images(vis_dir)
    common = sorted(ir.keys() & vis.keys())
    if not common:
        raise InputError(f"{ir_dir} and {vis_dir}: no file stems in common "
                         f"({len(ir)} IR and {len(vis)} visible images)")
    return PairMatch(
        pairs=[(stem, ir[stem], vis[stem]) for stem in common],
        unmatched_ir=[ir[s] for s in sorted(ir.keys() - vis.keys())],
        unmatched_vis=[vis[s] for s in sorted(vis.keys() - ir.keys())],
    )
