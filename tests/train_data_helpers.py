"""Tiny folders of real RoadScene crops for the training-data tests (written to tmp_path; the
shared data is never copied into the repository)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import need
from PIL import Image


def train_stems(data_dir: Path, count: int) -> list[str]:
    """The first ``count`` RoadScene training stems (none of the CDDFuse test 50), by name."""
    import csv

    table = need(data_dir, "roadscene", "subsets.csv")
    with table.open(newline="") as handle:
        rows = [r["stem"] for r in csv.DictReader(handle) if r["in_cddfuse_test50"] != "1"]
    return sorted(rows)[:count]


def real_crop(data_dir: Path, stem: str, folder: str, size: tuple[int, int]) -> Image.Image:
    """The central ``size`` (W, H) of RoadScene's ``folder/stem.jpg`` (ir: grey, vi: colour;
    a corner can be flat sky)."""
    with Image.open(need(data_dir, "roadscene", folder, f"{stem}.jpg")) as image:
        left, top = (image.width - size[0]) // 2, (image.height - size[1]) // 2
        return image.crop((left, top, left + size[0], top + size[1])).copy()


def write_folder(data_dir: Path, root: Path, count: int, size: tuple[int, int] = (56, 48),
                 first: int = 0) -> tuple[Path, Path]:
    """``root/ir`` and ``root/vis`` with ``count`` real pairs (PNG IR, colour JPEG visible)."""
    ir_dir, vis_dir = root / "ir", root / "vis"
    ir_dir.mkdir(parents=True, exist_ok=True)
    vis_dir.mkdir(parents=True, exist_ok=True)
    for stem in train_stems(data_dir, first + count)[first:]:
        real_crop(data_dir, stem, "ir", size).save(ir_dir / f"{stem}.png")
        real_crop(data_dir, stem, "vi", size).save(vis_dir / f"{stem}.jpg", quality=95)
    return ir_dir, vis_dir


def as_uint16(image: Image.Image) -> Image.Image:
    """An 8-bit grey image as a 16-bit one spanning a narrow thermal-like range."""
    levels = np.asarray(image.convert("L"), dtype=np.uint16) * 4 + 30000
    return Image.fromarray(levels.astype(np.uint16))


def tiny_config(**data) -> dict:
    """A config training a tiny model on 24-px crops (data keys added)."""
    return {"model": {"preset": "lite", "overrides": {"channels": 4, "growth": 4}},
            "data": {"crop": 24, "workers": 0, **data},
            "schedule": {"epochs": 3, "phase_len": 1, "batch_size": 2},
            "run": {"checkpoint_every": 100, "device": "cpu"}}
