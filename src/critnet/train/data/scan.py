"""Reading every pair once before training: the bad-data report, and the preloaded pairs.

Each pair is read completely (decoded, normalised, checked) by its source, in ``workers``
DataLoader worker processes. A pair that cannot be used (:class:`~critnet.errors.InputError`:
unreadable or truncated file, sizes differ without ``resize_ir``, an all-constant image) becomes
one line of the report; any other error (a bug, out of memory) stops the run. With ``keep`` the
pairs themselves come back (the preloaded set), else only their sizes (the streamed set).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from critnet.errors import InputError
from critnet.io.progress import progress_bar
from critnet.io.quiet import quiet_decoding
from critnet.train.data.roadscene import GrayPair
from critnet.train.data.sources import PairRef, Source

#: Bytes per trained pixel when preloaded: four float32 maps on the host and their copy in the
#: trainer's flat table (:class:`~critnet.train.data.device_crops.DeviceCrops`).
PRELOAD_BYTES_PER_PIXEL = 32


@dataclass(frozen=True)
class Scanned:
    """One pair's outcome: ``pair`` (with ``keep``), its trained ``shape`` (H, W, after
    padding), or the ``problem`` that rules it out."""

    ref: PairRef
    pair: GrayPair | None = None
    shape: tuple[int, int] | None = None
    problem: str | None = None


class _ReadEach(Dataset):
    def __init__(self, sources: Sequence[Source], refs: Sequence[PairRef], keep: bool) -> None:
        self.sources, self.refs, self.keep = sources, refs, keep

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> Scanned:
        ref = self.refs[index]
        try:
            pair = self.sources[ref.source].read(ref)
        except InputError as error:
            return Scanned(ref, problem=" ".join(str(error).split()))
        return Scanned(ref, pair if self.keep else None, tuple(pair.ir.shape))


def _identity(item: Any) -> Any:
    return item


def scan_pairs(sources: Sequence[Source], refs: Sequence[PairRef], *, keep: bool,
               workers: int = 0, progress: bool = False) -> list[Scanned]:
    """Read every pair of ``refs`` (in order) with its source; see the module docstring."""
    dataset = _ReadEach(sources, refs, keep)
    workers = min(workers, len(refs))
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers,
                        collate_fn=_identity,
                        generator=torch.Generator().manual_seed(0))  # not the global RNG
    return list(progress_bar(iterable=loader, show=None if progress else False,
                             total=len(refs), desc="reading pairs", unit="pair", leave=False))


@quiet_decoding()
def estimated_bytes(refs: Sequence[PairRef], crop: int) -> int:
    """Memory the preloaded pairs would take, from the visible files' headers (the trained
    size; a file whose header cannot be read counts as one crop)."""
    pixels = 0
    for ref in refs:
        try:
            with Image.open(ref.vis) as image:
                width, height = image.size
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            width = height = crop
        pixels += max(width, crop) * max(height, crop)
    return pixels * PRELOAD_BYTES_PER_PIXEL
