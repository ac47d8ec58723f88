"""Benchmark datasets (SPEC §4): where the pairs are, which stems form the test set, and which
published methods' fused outputs exist for them.

Quick use::

    from critnet.bench.datasets import load_dataset
    ds = load_dataset("tno42")            # data root from critnet.paths.data_root()
    ds.pairs[0]                           # ("01_2_men_in_front_of_house", ir_path, vis_path)
    ds.fused_methods                      # {"LRRNet": {stem: path, ...}, "DenseFuse": ...}
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from critnet.data.pairs import list_images, match_pairs
from critnet.errors import InputError
from critnet.paths import data_root


@dataclass(frozen=True)
class DatasetSpec:
    """How to find one benchmark dataset under the data root.

    Attributes:
        key: CLI name (``roadscene50``, ``tno42``, ...).
        title: human name for tables and plots.
        folder: pair folder under the data root (holding ``ir/`` and ``vi/``).
        select: ``(data folder, all stems) -> test stems`` (sorted).
        fused_dirs: ``(root-relative folder, subfolder)`` pairs; every method folder
            ``root/folder/<METHOD>/subfolder/`` holding the test stems is a comparison row. Earlier
            entries win when two folders provide the same method name.
        note: one line on how this set relates to the paper's.
    """

    key: str
    title: str
    folder: str
    select: Callable[[Path, list[str]], list[str]]
    fused_dirs: tuple[tuple[str, str], ...] = ()
    note: str = ""


@dataclass
class Dataset:
    """A resolved benchmark dataset.

    Attributes:
        spec: its :class:`DatasetSpec`.
        root: the data root it was found under.
        pairs: ``(stem, ir_path, vis_path)`` for the test stems, sorted by stem.
        fused_methods: ``{method: {stem: fused path}}`` for published methods covering every stem.
        skipped: human-readable lines for method folders that were not used (and why).
    """

    spec: DatasetSpec
    root: Path
    pairs: list[tuple[str, Path, Path]]
    fused_methods: dict[str, dict[str, Path]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def stems(self) -> list[str]:
        return [stem for stem, _, _ in self.pairs]


def _all(_folder: Path, stems: list[str]) -> list[str]:
    return sorted(stems)


def _roadscene_test50(folder: Path, stems: list[str]) -> list[str]:
    table = folder / "subsets.csv"
    if not table.is_file():
        raise InputError(f"{table}: not found (needed for the RoadScene 50-pair test subset)")
    with table.open(newline="") as handle:
        chosen = {row["stem"] for row in csv.DictReader(handle)
                  if row.get("in_cddfuse_test50", "").strip() == "1"}
    missing = sorted(chosen - set(stems))
    if missing:
        raise InputError(f"{folder}: test stems listed in subsets.csv have no pair: {missing[:5]}")
    return sorted(chosen)


def _tno42(_folder: Path, stems: list[str]) -> list[str]:
    return sorted(s for s in stems if re.match(r"^\d\d_", s))


SPECS: dict[str, DatasetSpec] = {s.key: s for s in [
    DatasetSpec("roadscene50", "RoadScene (50-pair test subset)", "roadscene", _roadscene_test50,
                (("peer_fused", "roadscene50"), ("peer_fused", "roadscene")),
                "paper: 38 pairs of an unpublished split; here the public CDDFuse 50-pair subset"),
    DatasetSpec("tno42", "TNO-42", "tno", _tno42,
                (("peer_fused", "tno42"), ("peer_fused", "tno"), ("tno_fused", "")),
                "paper: 40 TNO + VOT2020-RGBT pairs; here the Linfeng-Tang TNO 42 (no VOT)"),
    DatasetSpec("vifb21", "VIFB-21", "vifb", _all,
                (("peer_fused", "vifb21"), ("peer_fused", "vifb"), ("vifb_fused", "")),
                "not in the paper; VIFB's 21 pairs (published outputs are colour, scored grey)"),
    DatasetSpec("otcbvs", "OTCBVS (2 pairs)", "otcbvs", _all,
                (("peer_fused", "otcbvs"), ("vifb_fused", "")),
                "paper: 40 OTCBVS pairs; here the 2 OSU Color-Thermal pairs shipped with VIFB"),
    DatasetSpec("msrs", "MSRS (5 pairs)", "msrs", _all, (("peer_fused", "msrs"),),
                "not in the paper; 5 MSRS samples"),
]}

DATASETS: tuple[str, ...] = tuple(SPECS)


def load_dataset(key: str, root: str | os.PathLike | None = None) -> Dataset:
    """Resolve dataset ``key`` under ``root`` (default :func:`critnet.paths.data_root`).

    Raises:
        InputError: unknown key, or the dataset's folder / test stems are missing.
    """
    if key not in SPECS:
        raise InputError(f"unknown dataset {key!r}; choose one of {', '.join(SPECS)}")
    spec = SPECS[key]
    root = Path(root) if root is not None else data_root()
    folder = root / spec.folder
    if not folder.is_dir():
        raise InputError(f"{folder}: dataset folder not found (set CRITNET_DATA to the data root)")
    match = match_pairs(folder / "ir", folder / "vi")
    by_stem = {stem: (stem, ir, vis) for stem, ir, vis in match.pairs}
    stems = spec.select(folder, list(by_stem))
    if not stems:
        raise InputError(f"{folder}: no test pairs for dataset {key}")
    dataset = Dataset(spec, root, [by_stem[s] for s in stems])
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
