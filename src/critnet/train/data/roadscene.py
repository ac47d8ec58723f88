"""RoadScene training data (docs/design.md §4): 171 grey pairs, random 120×120 crops with flips.

Train split = every pair of ``roadscene/subsets.csv`` not flagged ``in_cddfuse_test50``. Images
are small (~500×400), so all of them and their saliency maps are preloaded in memory.

Randomness: the crop and flips of pair ``i`` in epoch ``e`` come from a generator seeded by
``(seed, e, i)``, so a sample does not depend on which process draws it or in what order —
resuming from a checkpoint needs only the epoch and the position in it.
"""

from __future__ import annotations

import csv
import os
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from critnet.errors import InputError
from critnet.io import read_gray_uint8
from critnet.train.saliency import histogram_contrast


@dataclass
class GrayPair:
    """One preloaded pair: H×W grey images (uint8, or float32 in [0, 1] as fusing reads them:
    :mod:`critnet.train.data.reading`) and their float32 saliency maps in [0, 1]; ``teacher``:
    a distillation teacher's fused image of the whole pair, float32 in [0, 1], when the run
    distils (:func:`critnet.train.distillation.attach_teacher_images`)."""

    stem: str
    ir: np.ndarray
    vis: np.ndarray
    sal_ir: np.ndarray
    sal_vis: np.ndarray
    teacher: np.ndarray | None = None


def roadscene_split(root: str | os.PathLike, split: str = "train") -> list[str]:
    """Stems of the RoadScene ``train`` (171) or ``test`` (50, ``in_cddfuse_test50``) split.

    Args:
        root: the ``roadscene/`` folder (holding ``ir/``, ``vi/``, ``subsets.csv``).
    """
    table = Path(root) / "subsets.csv"
    if not table.is_file():
        raise InputError(f"{table}: RoadScene subsets table not found; the data root must hold "
                         f"roadscene/subsets.csv, roadscene/ir/ and roadscene/vi/: set the "
                         f"CRITNET_DATA environment variable (or data.root in the training "
                         f"config) to that folder, or download it with: critnet data fetch "
                         f"roadscene --dir DIR")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    want_test = split == "test"
    return sorted(r["stem"] for r in rows if (r["in_cddfuse_test50"].strip() == "1") == want_test)


def load_gray_pair(root: str | os.PathLike, stem: str) -> GrayPair:
    """Read ``ir/<stem>.jpg`` and ``vi/<stem>.jpg`` as gray with
    :func:`critnet.io.read_gray_uint8` (MATLAB-exact, the metrics' gray; its docstring says why)
    and compute both saliency maps on the whole images."""
    root = Path(root)
    ir, vis = (read_gray_uint8(root / folder / f"{stem}.jpg") for folder in ("ir", "vi"))
    if ir.shape != vis.shape:
        raise InputError(f"{root}: {stem} ir {ir.shape} and vi {vis.shape} differ in size")
    return GrayPair(stem, ir, vis, histogram_contrast(ir), histogram_contrast(vis))


@dataclass(frozen=True)
class CropWindow:
    """One sample's crop: top-left corner and horizontal / vertical flips."""

    top: int
    left: int
    flip_h: bool
    flip_v: bool


class RoadSceneCrops:
    """Random crops of preloaded grey pairs; ``sample(epoch, index)`` is deterministic.

    Each sample is a dict of four 1×S×S float32 tensors: ``ir``, ``vis`` (in [0, 1]) and
    ``sal_ir``, ``sal_vis`` (saliency in [0, 1]), all with the same crop and flips.
    """

    def __init__(
        self, pairs: list[GrayPair], crop: int = 120, flips: bool = True, seed: int = 0
    ) -> None:
        if not pairs:
            raise InputError("no training pairs")
        for pair in pairs:
            if min(pair.ir.shape) < crop:
                raise InputError(f"{pair.stem}: image {pair.ir.shape} smaller than crop {crop}")
        self.pairs = pairs
        self.crop = crop
        self.flips = flips
        self.seed = seed

    @classmethod
    def from_root(
        cls, root: str | os.PathLike, split: str = "train", **kwargs: int | bool
    ) -> RoadSceneCrops:
        """Preload the ``split`` pairs of the ``roadscene/`` folder ``root``."""
        return cls([load_gray_pair(root, s) for s in roadscene_split(root, split)], **kwargs)

    def __len__(self) -> int:
        return len(self.pairs)

    def window(self, epoch: int, index: int) -> CropWindow:
        """Where pair ``index`` is cut in ``epoch``: drawn from a generator seeded by
        ``(seed, epoch, index)`` (top, left, then the two flips)."""
        rng = np.random.default_rng([self.seed, epoch, index])
        height, width = self.pairs[index].ir.shape
        top = int(rng.integers(0, height - self.crop + 1))
        left = int(rng.integers(0, width - self.crop + 1))
        flip_h, flip_v = (bool(b) for b in rng.integers(0, 2, size=2)) if self.flips else (
            False, False)
        return CropWindow(top, left, flip_h, flip_v)

    def sample(self, epoch: int, index: int) -> dict[str, Tensor]:
        pair = self.pairs[index]
        top, left, flip_h, flip_v = astuple(self.window(epoch, index))
        out = {}
        maps = [("ir", pair.ir, 255.0), ("vis", pair.vis, 255.0),
                ("sal_ir", pair.sal_ir, 1.0), ("sal_vis", pair.sal_vis, 1.0)]
        if pair.teacher is not None:
            maps.append(("teacher", pair.teacher, 1.0))
        for key, array, scale in maps:
            patch = array[top:top + self.crop, left:left + self.crop]
            if flip_h:
                patch = patch[:, ::-1]
            if flip_v:
                patch = patch[::-1, :]
            if array.dtype != np.uint8:  # float images (folder sources) are already in [0, 1]
                scale = 1.0
            out[key] = torch.from_numpy(np.ascontiguousarray(patch, dtype=np.float32) / scale)[None]
        return out

    def batch(self, epoch: int, indices: list[int]) -> dict[str, Tensor]:
        """Stack samples into B×1×S×S tensors."""
        samples = [self.sample(epoch, i) for i in indices]
        return {key: torch.stack([s[key] for s in samples]) for key in samples[0]}
