"""The deterministic validation split: a pair is held out by a hash of its file stem.

``stem_fraction(stem)`` is the first 8 bytes of SHA-256(stem) read as a number in [0, 1); a pair
is a validation pair when that number is below the validation fraction (``--val``, default 0.1
on the command line). The rule looks at nothing but the stem, so adding or removing other files
never moves a pair from one side to the other, every run and process computes the same split,
and a scene present under one stem in two sources lands on the same side in both.

A small folder adapts (:func:`adapted_split`): where the rule holds out no stem, or leaves
fewer training pairs than needed, the ``round(fraction · n)`` stems (at least one) of smallest
hash are held out instead, as many as leave enough to train on, or none when there are too few
pairs to spare one; what it did is said in one line.
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


def adapted_split(items: Sequence[T], stems: Sequence[str], fraction: float, min_train: int
                  ) -> tuple[list[T], list[T], str | None]:
    """``(train, validation, note)``: :func:`split_by_stem`, unless it holds out nothing or
    leaves fewer than ``min_train`` items to train on; then the ``max(1, round(fraction · n))``
    items of smallest :func:`stem_fraction` are held out, capped to leave ``min_train`` (none
    when fewer than ``min_train + 1`` items). ``note`` says what was done instead of the rule
    (``None`` when the rule was kept)."""
    train, val = split_by_stem(items, stems, fraction)
    n = len(items)
    if not n or (val and len(train) >= min_train):
        return train, val, None
    rule = (f"the validation rule sha256(stem) < {fraction:g} held out {len(val)} of {n} "
            f"stems")
    keep = max(1, round(fraction * n))
    count = min(keep, n - max(min_train, 1))
    if count < 1:
        return list(items), [], (f"{rule}; {n} pairs are too few to hold any out, so training "
                                 f"runs without validation")
    order = sorted(range(n), key=lambda i: stem_fraction(stems[i]))
    held = set(order[:count])
    val = [items[i] for i in sorted(held)]
    train = [item for i, item in enumerate(items) if i not in held]
    names = ", ".join(stems[i] for i in sorted(held, key=lambda i: stem_fraction(stems[i])))
    return train, val, (f"{rule}; held out the {count} stem(s) of smallest hash instead "
                        f"({names}), leaving {len(train)} to train on")
