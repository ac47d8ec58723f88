"""Pair discovery: infrared and visible files matched by file stem (``ir/X.png`` ↔ ``vi/X.jpg``).

DJI's naming is understood too (:mod:`critnet.io.camera.naming`): ``DJI_0001_T.JPG`` (or
``_R``) pairs with
``DJI_0001_W.JPG`` (else ``_V``, else ``_Z``) under the stem ``DJI_0001``, also when both lie in
one folder (``--ir flight/ --vis flight/``); a DJI visible frame is never taken as IR nor a
``_T`` frame as visible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from critnet.errors import InputError
from critnet.io.camera.naming import dji_role, visible_rank
from critnet.io.paths import broken_link

T = TypeVar("T")

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})


class StemClashError(InputError):
    """Two images of one folder share a stem (``x.png`` and ``x.jpg``): which to pair is
    ambiguous."""


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
        raise InputError(f"{folder}: {broken_link(folder) or 'folder not found'}")
    return images_by_stem(folder, [(path.name, path) for path in sorted(folder.iterdir())
                                   if path.is_file()])


def images_by_stem(folder: object, files: list[tuple[str, T]]) -> dict[str, T]:
    """The images among ``files`` (``(file name, reference)`` of one folder's files, e.g. paths
    or URLs), keyed by stem; :func:`list_images` for any listing.

    Raises:
        StemClashError: two images with one stem (``folder`` names the folder).
        InputError: no image.
    """
    found: dict[str, T] = {}
    names: dict[str, str] = {}
    for name, ref in sorted(files, key=lambda item: item[0]):
        stem, suffix = os.path.splitext(name)
        if suffix.lower() in IMAGE_SUFFIXES and not name.startswith("."):
            if stem in found:
                raise StemClashError(f"{folder}: two images share the stem {stem!r} "
                                     f"({names[stem]}, {name})")
            found[stem], names[stem] = ref, name
    if not found:
        raise InputError(f"{folder}: no images found (looked for "
                         f"{', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


def match_pairs(ir_dir: str | os.PathLike, vis_dir: str | os.PathLike) -> PairMatch:
    """Match the images of ``ir_dir`` and ``vis_dir`` by stem.

    Raises:
        InputError: a folder is missing or empty, or no stem is shared.
    """
    return match_listed(list_images(ir_dir), list_images(vis_dir), ir_dir, vis_dir)


def match_listed(ir_files: dict[str, T], vis_files: dict[str, T], ir_dir: object,
                 vis_dir: object) -> PairMatch:
    """:func:`match_pairs` for listings made elsewhere (:func:`images_by_stem`: e.g. URLs of
    an object store); ``ir_dir`` and ``vis_dir`` name the folders in the error.

    Raises:
        InputError: no stem is shared.
    """
    ir = _by_shot(ir_files, "ir")
    vis, extra_vis = _by_shot_visible(vis_files)
    common = sorted(ir.keys() & vis.keys())
    if not common:
        raise InputError(f"{ir_dir} and {vis_dir}: no file stems in common "
                         f"({len(ir)} IR and {len(vis)} visible images)")
    return PairMatch(
        pairs=[(stem, ir[stem], vis[stem]) for stem in common],
        unmatched_ir=[ir[s] for s in sorted(ir.keys() - vis.keys())],
        unmatched_vis=sorted([vis[s] for s in vis.keys() - ir.keys()] + extra_vis),
    )


def _by_shot(files: dict[str, Path], role: str) -> dict[str, Path]:
    """``files`` keyed by shot stem: DJI stems of ``role`` lose their suffix, DJI stems of the
    other role are dropped, other stems are kept."""
    keyed = {}
    for stem, path in files.items():
        dji = dji_role(stem)
        if dji is None:
            keyed[stem] = path
        elif dji[1] == role:
            keyed[dji[0]] = path
    return keyed


def _by_shot_visible(files: dict[str, Path]) -> tuple[dict[str, Path], list[Path]]:
    """Visible files by shot stem (the preferred DJI frame of each shot) and the DJI visible
    frames not chosen (``_Z`` beside ``_W``), which are reported as without a partner."""
    chosen: dict[str, Path] = {}
    left: list[Path] = []
    for stem, path in sorted(files.items(), key=lambda item: visible_rank(item[0])):
        dji = dji_role(stem)
        key = stem if dji is None else dji[0] if dji[1] == "vis" else None
        if key is None:
            continue
        if key in chosen:
            left.append(path)
        else:
            chosen[key] = path
    return chosen, left
