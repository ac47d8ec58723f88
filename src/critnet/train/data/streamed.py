"""Training pairs streamed from disk (a set larger than ``data.memory_mb``).

:class:`StreamedCrops` is :class:`~critnet.train.data.roadscene.RoadSceneCrops` over a lazy sequence
of pairs: ``pairs[i]`` reads pair ``i`` from its files (the last one read is kept), so a sample
is cut by the very same code, from the same generator seeded by ``(seed, epoch, index)``, as
from a preloaded set: a streamed batch equals the preloaded one bit for bit (tested), and a
resumed or torchrun run sees exactly the samples it would have seen.

:class:`StreamedBatches` feeds the trainer: a :class:`torch.utils.data.DataLoader` with
``workers`` processes reads and cuts the batches of the coming steps ahead of time, in the
trainer's order (the step plan); asked for a step other than the next one (a resume, a jump),
it starts again from that step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from critnet.train.data.roadscene import GrayPair, RoadSceneCrops
from critnet.train.data.sources import PairRef, Source

Plan = Callable[[int], tuple[int, list[int]]]  # step -> (epoch, pair indices)


class LazyPairs(Sequence[GrayPair]):
    """``refs`` read on demand by their sources (the most recent pair cached)."""

    def __init__(self, sources: Sequence[Source], refs: Sequence[PairRef],
                 shapes: Sequence[tuple[int, int]]) -> None:
        self.sources, self.refs, self.shapes = list(sources), list(refs), list(shapes)
        self._cached: tuple[int, GrayPair] | None = None

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> GrayPair:  # type: ignore[override]
        if self._cached is None or self._cached[0] != index:
            ref = self.refs[index]
            self._cached = (index, self.sources[ref.source].read(ref))
        return self._cached[1]


class StreamedCrops(RoadSceneCrops):
    """Random crops of pairs read from disk; ``sample(epoch, index)`` as the preloaded class."""

    def __init__(self, pairs: LazyPairs, crop: int = 120, flips: bool = True,
                 seed: int = 0) -> None:
        # the size check of RoadSceneCrops would read every pair; pairs were padded to the crop
        self.pairs = pairs  # type: ignore[assignment]
        self.crop, self.flips, self.seed = crop, flips, seed


class _Steps(Sampler):
    """The keys ``(epoch, indices)`` of steps ``start..stop-1``."""

    def __init__(self, plan: Plan, start: int, stop: int) -> None:
        self.plan, self.start, self.stop = plan, start, stop

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self) -> Iterator[tuple[int, tuple[int, ...]]]:
        for step in range(self.start, self.stop):
            epoch, indices = self.plan(step)
            yield epoch, tuple(indices)


class _Batches(Dataset):
    def __init__(self, crops: StreamedCrops) -> None:
        self.crops = crops

    def __getitem__(self, key: tuple[int, tuple[int, ...]]) -> tuple[Any, dict[str, Tensor]]:
        epoch, indices = key
        return key, self.crops.batch(epoch, list(indices))


def _identity(item: Any) -> Any:
    return item


class StreamedBatches:
    """Batches of ``crops`` for the trainer's steps, read ahead by ``workers`` processes.

    Args:
        crops: the streamed pairs and the crop rule.
        device: where the batches go.
        plan: the trainer's step plan (step → epoch and pair indices).
        stop: the last step + 1.
        workers: DataLoader worker processes (0: read in this process).
    """

    def __init__(self, crops: StreamedCrops, device: torch.device, plan: Plan, stop: int,
                 workers: int = 2, prefetch: int = 4) -> None:
        self.crops, self.device, self.plan, self.stop = crops, torch.device(device), plan, stop
        self.workers, self.prefetch = workers, prefetch
        self._iterator: Iterator[Any] | None = None
        self._next_step = -1

    def __len__(self) -> int:
        return len(self.crops)

    def _start(self, step: int) -> None:
        loader = DataLoader(_Batches(self.crops), batch_size=None,
                            sampler=_Steps(self.plan, step, max(self.stop, step + 1)),
                            num_workers=self.workers, collate_fn=_identity,
                            prefetch_factor=self.prefetch if self.workers else None,
                            pin_memory=self.device.type == "cuda",
                            generator=torch.Generator().manual_seed(0))  # not the global RNG
        self._iterator, self._next_step = iter(loader), step

    def batch_at(self, step: int, epoch: int, indices: list[int]) -> dict[str, Tensor]:
        """The batch of ``step`` (its ``epoch`` and ``indices`` from the plan), on the device."""
        if self._iterator is None or step != self._next_step:
            self._start(step)
        key, batch = next(self._iterator)
        if key != (epoch, tuple(indices)):  # the plan changed under us: read this step again
            self._start(step)
            key, batch = next(self._iterator)
        self._next_step = step + 1
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def close(self) -> None:
        """Stop the worker processes."""
        self._iterator = None
