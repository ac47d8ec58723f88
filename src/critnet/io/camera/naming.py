"""DJI's file naming: one shot is ``DJI_<date>_<n>_T.JPG`` (thermal R-JPEG; ``_R`` on several
models) with visible frames ``_W`` (wide), ``_V`` (visible, M2EA / M3T) and ``_Z`` (zoom) of the
same stem before the suffix.
Folder mode pairs the ``_T`` file with the shot's visible frame (``_W``, else ``_V``, else
``_Z``: the zoom frame sees a much narrower field) under the shared stem (``DJI_0001``)."""

from __future__ import annotations

import re

_DJI = re.compile(r"^(DJI_.+)_([TRWVZ])$", re.IGNORECASE)
#: Thermal (radiometric) suffixes.
THERMAL_SUFFIXES = ("T", "R")
#: Visible suffixes in order of preference.
VISIBLE_SUFFIXES = ("W", "V", "Z")


def dji_role(stem: str) -> tuple[str, str] | None:
    """``(shot_stem, role)`` for a DJI-named stem, role ``ir`` (``_T``, ``_R``) or ``vis``
    (``_W``, ``_V``, ``_Z``); ``None`` for any other stem.

    >>> dji_role("DJI_20230101120000_0001_T"), dji_role("DJI_0001_w"), dji_role("a_T")
    (('DJI_20230101120000_0001', 'ir'), ('DJI_0001', 'vis'), None)
    >>> dji_role("DJI_0001_R")
    ('DJI_0001', 'ir')
    """
    match = _DJI.match(stem)
    if match is None:
        return None
    return match.group(1), "ir" if match.group(2).upper() in THERMAL_SUFFIXES else "vis"


def visible_rank(stem: str) -> int:
    """Preference of a DJI visible stem (0 = ``_W`` best); others rank last."""
    suffix = stem[-1:].upper()
    return VISIBLE_SUFFIXES.index(suffix) if suffix in VISIBLE_SUFFIXES else len(VISIBLE_SUFFIXES)
