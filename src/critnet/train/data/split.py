"""The deterministic validation split: a pair is held out by a hash of its file stem.

``stem_fraction(stem)`` is the first 8 bytes of SHA-256(stem) read as a number in [0, 1); a pair
is a validation pair when that number is below the validation fraction (``--val``, default 0.1
on the command line). The rule looks at nothing but the stem, so adding or removing other files
never moves a pair from one side to the other, every run and process computes the same split,
and a scene present under one stem in two sources lands on the same side in both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def stem_fraction(stem: str) -> float:
    """A stable number in [0, 1) for ``stem`` (SHA-256 of its UTF-8 bytes).

    >>> round(stem_fraction("FLIR_00018"), 6) == round(stem_fraction("FLIR_00018"), 6)
    True
    """
    digest = hashlib.sha256(stem.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def is_validation(stem: str, fraction: float) -> bool:
    """Whether ``stem`` belongs to the validation split at ``fraction``."""
    return stem_fraction(stem) < fraction


def split_by_stem(items: Sequence[T], stems: Sequence[str], fraction: float
                  ) -> tuple[list[T], list[T]]:
    """``(train, validation)`` of ``items`` (order kept) by :func:`is_validation` of their stems."""
    train, val = [], []
    for item, stem in zip(items, stems, strict=True):
        (val if is_validation(stem, fraction) else train).append(item)
    return train, val
