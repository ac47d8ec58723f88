"""Training speed of each phase kind, measured on a trainer (``benchmarks/train_speed.py``, the
GPU run's rate probe in ``scripts/gpu_train.py``).

The trainer is used up: its weights and optimizer states move, so measure on a throw-away one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from critnet.train.trainer import Trainer


@dataclass(frozen=True)
class PhaseRate:
    """Measured speed of one phase kind: ``steps`` timed steps in ``seconds``."""

    kind: str
    steps: int
    seconds: float

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def phase_rates(trainer: Trainer, kinds: tuple[str, ...] = ("M1", "S", "M2"), *,
                warmup: int = 3, steps: int | None = None, seconds: float | None = None
                ) -> dict[str, PhaseRate]:
    """Steps per second of each phase kind in ``kinds``, each from the start of its first block.

    Args:
        trainer: a trainer that may be used up (see the module docstring).
        warmup: untimed steps first (allocations, cuDNN's algorithm search).
        steps: time this many steps; or ``seconds``: time steps until that much time passed
            (the device is synchronised at the end, so queued work is counted). Either way
            the timing stops at the block's end.

    Raises:
        ValueError: neither or both of ``steps`` and ``seconds``; a kind not in the schedule.
    """
    if (steps is None) == (seconds is None):
        raise ValueError("give exactly one of steps and seconds")
    rates = {}
    trainer.model.train()
    for kind in kinds:
        block = next((b for b in trainer.blocks if b.kind == kind), None)
        if block is None:
            raise ValueError(f"phase {kind} is not in the schedule")
        trainer.step = block.start * trainer.steps_per_epoch
        for _ in range(warmup):
            trainer.train_step()
        _sync(trainer.device)
        done, started = 0, time.perf_counter()
        end = block.end * trainer.steps_per_epoch
        while trainer.step < end and ((done < steps) if steps is not None
                                      else (time.perf_counter() - started < seconds)):
            trainer.train_step()
            done += 1
        _sync(trainer.device)
        rates[kind] = PhaseRate(kind, done, time.perf_counter() - started)
    return rates
