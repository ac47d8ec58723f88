"""From a config's ``data`` section to the trainer's data: sources listed, the validation split
taken, every pair read once (the bad-data report), then preloaded or streamed crops.

Order of work, all before the first step:
1. list each source (folders matched by stem; RoadScene's ``subsets.csv``);
2. split off the validation pairs (hash of the stem, or the ``val_sources``); a small folder
   whose hash split would be empty or leave too few training pairs adapts, saying how
   (:func:`~critnet.train.data.split.adapted_split`);
3. choose preloading or streaming (``data.loading``; ``auto`` compares the estimate from the
   image headers with ``data.memory_mb``);
4. read every pair (:func:`~critnet.train.data.scan.scan_pairs`): one line per unusable file or
   pair, then a count; ``strict`` or fewer than ``min_pairs`` usable training pairs refuse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from critnet.errors import InputError
from critnet.io.paths import data_root
from critnet.train.config import TrainConfig
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.scan import Scanned, estimated_bytes, scan_pairs
from critnet.train.data.sources import PairRef, Source, make_source
from critnet.train.data.split import adapted_split, stem_fraction
from critnet.train.data.streamed import LazyPairs, StreamedCrops

ROADSCENE_DEFAULT = {"name": "roadscene", "split": "train"}


@dataclass
class TrainingData:
    """The trainer's data.

    Attributes:
        crops: the training crops (:class:`RoadSceneCrops`, or :class:`StreamedCrops`).
        sources: every source, training ones first then the validation-only ones.
        val: the validation pairs scored at each block end (at most ``data.val_limit``).
        problems: one line per unusable file or pair.
        facts: what the weights' metadata and ``data.json`` record (sources, counts, split).
        stems: ``{"train": [...], "validation": [...]}`` as ``source:stem``.
    """

    crops: RoadSceneCrops
    sources: list[Source] = field(default_factory=list)
    val: list[PairRef] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    stems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def streamed(self) -> bool:
        return isinstance(self.crops, StreamedCrops)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the training pairs' sources, stems and trained sizes (checked on resume)."""
        text = "\n".join(self.stems.get("train", []))
        return hashlib.sha256(text.encode()).hexdigest()


def _split_rule(config: TrainConfig) -> str:
    d = config.data
    if d.val_sources:
        return "validation folders (data.val_sources)"
    if d.val_fraction > 0:
        return f"stems with sha256(stem) < {d.val_fraction:g} (first 8 bytes as a fraction)"
    return "none"


def build_training_data(config: TrainConfig, *, log: Callable[[str], None] | None = None,
                        progress: bool = False) -> TrainingData:
    """The training and validation data of ``config`` (see the module docstring).

    Raises:
        InputError: a missing folder, no matching stems, RoadScene not found, validation
            pairs all unusable, ``strict`` with unusable data, or too few usable pairs; one
            line.
    """
    d, say = config.data, log or (lambda _line: None)
    root = Path(d.root) if d.root else data_root()
    sources = [make_source(e, root, d.crop) for e in d.sources or [ROADSCENE_DEFAULT]]
    sources += [make_source(e, root, d.crop) for e in d.val_sources]
    listings = [source.list(index) for index, source in enumerate(sources)]
    problems = [f"{path}: {why}" for listing in listings for path, why in listing.unmatched]
    n_train_sources = len(sources) - len(d.val_sources)
    train_refs = [r for listing in listings[:n_train_sources] for r in listing.refs]
    val_refs = [r for listing in listings[n_train_sources:] for r in listing.refs]
    split_note = None
    if d.val_fraction > 0:
        train_refs, val_refs, split_note = adapted_split(
            train_refs, [r.stem for r in train_refs], d.val_fraction, d.min_pairs)
        if split_note:
            say(f"split: {split_note}")
    estimate = estimated_bytes(train_refs, d.crop)
    stream = d.loading == "stream" or (d.loading == "auto" and estimate > d.memory_mb * 2**20)
    scanned = scan_pairs(sources, train_refs, keep=not stream, workers=d.workers,
                         progress=progress)
    val_scanned = scan_pairs(sources, val_refs, keep=False, workers=d.workers,
                             progress=progress)
    problems += [s.problem for s in scanned + val_scanned if s.problem]
    good = [s for s in scanned if s.problem is None]
    good_val = sorted((s.ref for s in val_scanned if s.problem is None),
                      key=lambda r: (stem_fraction(r.stem), r.source))
    for line in problems:
        say(f"skipped: {line}")
    say(f"data: {len(good)} training and {len(good_val)} validation pairs usable, "
        f"{len(problems)} file(s)/pair(s) unusable"
        + (f"; streaming from disk ({estimate / 2**20:.0f} MB > data.memory_mb "
           f"{d.memory_mb})" if stream else ""))
    _refuse(config, problems, good, good_val, val_refs)
    crops = _crops(config, sources, good, stream)
    scored = good_val[:d.val_limit]
    facts = {"sources": [s.describe() for s in sources[:n_train_sources]],
             "val_sources": [s.describe() for s in sources[n_train_sources:]],
             "pairs": {"train": len(good), "validation": len(good_val),
                       "validation_scored": len(scored), "unusable": len(problems)},
             "split": split_note or _split_rule(config),
             "loading": "stream" if stream else "preload"}
    stems = {"train": [f"{s.ref.source}:{s.ref.stem}:{s.shape[0]}x{s.shape[1]}" for s in good],
             "validation": [f"{r.source}:{r.stem}" for r in scored]}
    return TrainingData(crops, sources, scored, problems, facts, stems)


def _refuse(config: TrainConfig, problems: list[str], good: list[Scanned],
            good_val: list[PairRef], val_refs: list[PairRef]) -> None:
    d = config.data
    if d.strict and problems:
        raise InputError(f"--strict (data.strict): {len(problems)} unusable file(s)/pair(s), "
                         f"first {problems[0]}; fix or remove them, or train without --strict")
    if len(good) < d.min_pairs:
        raise InputError(f"only {len(good)} usable training pair(s), fewer than the "
                         f"{d.min_pairs} needed (data.min_pairs); "
                         f"{len(problems)} unusable, listed above")
    if val_refs and not good_val:
        raise InputError(f"validation split is empty: all {len(val_refs)} validation pairs "
                         f"are unusable (listed above)")


def _crops(config: TrainConfig, sources: list[Source], good: list[Scanned],
           stream: bool) -> RoadSceneCrops:
    d, seed = config.data, config.run.seed
    if stream:
        pairs = LazyPairs(sources, [s.ref for s in good], [s.shape for s in good])
        return StreamedCrops(pairs, crop=d.crop, flips=d.flips, seed=seed)
    return RoadSceneCrops([s.pair for s in good], crop=d.crop, flips=d.flips, seed=seed)
