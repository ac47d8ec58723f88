"""Pair sources: where training pairs come from (the ``data.sources`` list of a config).

A source lists :class:`PairRef` s (one per matched pair) and reads one of them into a
:class:`~critnet.train.data.roadscene.GrayPair`:

* :class:`FolderSource` (``{ir: DIR, vis: DIR, resize_ir: false, ir_normalize: null}``): the
  images of two folders matched by stem exactly as ``critnet fuse --ir/--vis`` matches them
  (:func:`critnet.io.pairs.match_pairs`), read as fusing reads them
  (:mod:`critnet.train.data.reading`); files without a partner are reported.
* :class:`RoadSceneSource` (``{name: roadscene, split: train}``): RoadScene's 171 training pairs
  under the data root, read as the RoadScene configs always have (MATLAB gray, uint8). Only
  ``train``: the 50 test pairs are never trained on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from critnet.io.pairs import match_pairs
from critnet.train.data.reading import ReadOptions, read_pair_images, read_training_pair
from critnet.train.data.roadscene import GrayPair, load_gray_pair, roadscene_split


@dataclass(frozen=True)
class PairRef:
    """One matched pair of a source (``source``: its index in the source list)."""

    source: int
    stem: str
    ir: Path
    vis: Path


@dataclass
class Listing:
    """What a source holds: its pairs and the files without a partner."""

    refs: list[PairRef] = field(default_factory=list)
    unmatched: list[tuple[Path, str]] = field(default_factory=list)


@dataclass(frozen=True)
class FolderSource:
    """IR and visible folders matched by file stem."""

    ir_dir: Path
    vis_dir: Path
    options: ReadOptions = field(default_factory=ReadOptions)

    def describe(self) -> dict[str, Any]:
        return {"kind": "folder", "ir": str(self.ir_dir), "vis": str(self.vis_dir),
                "resize_ir": self.options.resize_ir, "ir_normalize": self.options.ir_normalize}

    def list(self, index: int) -> Listing:
        """The matched pairs (raises :class:`InputError` for a missing folder or no match)."""
        match = match_pairs(self.ir_dir, self.vis_dir)
        return Listing([PairRef(index, stem, ir, vis) for stem, ir, vis in match.pairs],
                       [(p, "IR file without a visible partner") for p in match.unmatched_ir]
                       + [(p, "visible file without an IR partner") for p in match.unmatched_vis])

    def read(self, ref: PairRef) -> GrayPair:
        return read_training_pair(ref.stem, ref.ir, ref.vis, self.options)

    def images(self, ref: PairRef) -> tuple[np.ndarray, np.ndarray]:
        """The pair's two float32 images in [0, 1] at their size (validation)."""
        return read_pair_images(ref.stem, ref.ir, ref.vis, self.options)


@dataclass(frozen=True)
class RoadSceneSource:
    """RoadScene's training split under ``root`` (the ``roadscene/`` folder)."""

    root: Path
    split: str = "train"

    def describe(self) -> dict[str, Any]:
        return {"kind": "roadscene", "root": str(self.root), "split": self.split}

    def list(self, index: int) -> Listing:
        return Listing([PairRef(index, stem, self.root / "ir" / f"{stem}.jpg",
                                self.root / "vi" / f"{stem}.jpg")
                        for stem in roadscene_split(self.root, self.split)])

    def read(self, ref: PairRef) -> GrayPair:
        return load_gray_pair(self.root, ref.stem)

    def images(self, ref: PairRef) -> tuple[np.ndarray, np.ndarray]:
        pair = load_gray_pair(self.root, ref.stem)
        return pair.ir.astype(np.float32) / 255.0, pair.vis.astype(np.float32) / 255.0


Source = FolderSource | RoadSceneSource


def make_source(entry: dict[str, Any], data_root: Path, crop: int) -> Source:
    """The source a checked config entry describes (RoadScene under ``data_root/roadscene``)."""
    if "name" in entry:
        return RoadSceneSource(data_root / "roadscene", entry.get("split", "train"))
    options = ReadOptions(resize_ir=entry.get("resize_ir", False),
                          ir_normalize=entry.get("ir_normalize"), crop=crop)
    return FolderSource(Path(os.path.expanduser(entry["ir"])),
                        Path(os.path.expanduser(entry["vis"])), options)


def input_folders(entries: list[dict[str, Any]], prefix: str = "") -> dict[str, Path]:
    """Role (after ``prefix``) → folder of every folder source in ``entries``
    (``data.sources`` / ``data.val_sources``), for the refusal of an output folder among
    them."""
    folders = {}
    for number, entry in enumerate(entries):
        for key, role in (("ir", "IR"), ("vis", "visible")):
            if key in entry:
                label = f"{role} input" if len(entries) == 1 else f"{role} input {number + 1}"
                folders[prefix + label] = Path(os.path.expanduser(entry[key]))
    return folders
