"""Benchmark datasets resolved on disk (docs/design.md §4): the test pairs of a
:data:`critnet.evaluation.bench.registry.DATASETS` entry and the published methods' fused outputs
found
for them.

Quick use::

    from critnet.evaluation.bench.datasets import load_dataset
    ds = load_dataset("tno42")            # data root from critnet.io.paths.data_root()
    ds.pairs[0]                           # ("01_2_men_in_front_of_house", ir_path, vis_path)
    ds.fused_methods                      # {"LRRNet": {stem: path, ...}, "DenseFuse": ...}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from critnet.errors import InputError
from critnet.evaluation.bench.registry import DATASETS, DatasetSpec
from critnet.io.datasets_fetch import missing_dataset_message
from critnet.io.pairs import list_images, match_pairs
from critnet.io.paths import data_root


@dataclass
class Dataset:
    """A resolved benchmark dataset.

    Attributes:
        spec: its :class:`critnet.evaluation.bench.registry.DatasetSpec`.
        root: the data root it was found under.
        pairs: ``(stem, ir_path, vis_path)`` for the test stems, sorted by stem.
        fused_methods: ``{method: {stem: fused path}}`` for published methods covering every stem.
        skipped: human-readable lines for method folders that were not used (and why).
        masks: ``{stem: target mask path}`` for the test stems with a mask (spec ``masks``).
    """

    spec: DatasetSpec
    root: Path
    pairs: list[tuple[str, Path, Path]]
    fused_methods: dict[str, dict[str, Path]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    masks: dict[str, Path] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def stems(self) -> list[str]:
        return [stem for stem, _, _ in self.pairs]


def load_dataset(key: str, root: str | os.PathLike | None = None) -> Dataset:
    """Resolve dataset ``key`` under ``root`` (default :func:`critnet.io.paths.data_root`).

    Raises:
        InputError: unknown key, or the dataset's folder / test stems are missing.
    """
    if key not in DATASETS:
        raise InputError(f"unknown dataset {key!r}; choose one of {', '.join(DATASETS)}")
    spec = DATASETS[key]
    root = Path(root) if root is not None else data_root()
    folder = root / spec.folder
    if not folder.is_dir():
        raise InputError(missing_dataset_message(spec.folder, root))
    match = match_pairs(folder / "ir", folder / "vi")
    by_stem = {stem: (stem, ir, vis) for stem, ir, vis in match.pairs}
    stems = spec.select(folder, list(by_stem))
    if not stems:
        raise InputError(f"{folder}: no test pairs for dataset {key}")
    dataset = Dataset(spec, root, [by_stem[s] for s in stems])
    if spec.masks and (root / spec.masks).is_dir():
        masks = list_images(root / spec.masks)
        dataset.masks = {s: masks[s] for s in stems if s in masks}
    _find_fused(dataset, root)
    return dataset


def _find_fused(dataset: Dataset, root: Path) -> None:
    wanted = set(dataset.stems)
    for base, sub in dataset.spec.fused_dirs:
        base_dir = root / base
        if not base_dir.is_dir():
            continue
        for method_dir in sorted(p for p in base_dir.iterdir() if p.is_dir()):
            folder = method_dir / sub if sub else method_dir
            if not folder.is_dir():
                continue
            name = method_dir.name
            where = folder.relative_to(root).as_posix()
            if name in dataset.fused_methods:
                dataset.skipped.append(f"{name} in {where}: duplicate of the copy already used")
                continue
            try:
                files = list_images(folder)
            except InputError:
                continue
            have = wanted & set(files)
            if have != wanted:
                dataset.skipped.append(f"{name} in {where}: covers {len(have)} of "
                                       f"{len(wanted)} test pairs")
                continue
            dataset.fused_methods[name] = {s: files[s] for s in dataset.stems}
