"""Training speed of each phase kind, measured on a trainer (``benchmarks/train_speed.py``, the
GPU run's rate probe in ``scripts/gpu_train.py``).

The trainer is used up: its weights and optimizer states move, so measure on a throw-away one.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import torch

from critnet.train.budget import schedule_seconds
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


def schedule_mean_s(rates: dict[str, float]) -> float:
    """Mean seconds per step over the five-block MPTP schedule (M1, S, M2, S, M2) at ``rates``
    (steps per second of each phase kind): ``(M1 + 2·S + 2·M2) / 5`` in seconds per step.

    >>> schedule_mean_s({"M1": 1.0, "S": 2.0, "M2": 0.5})
    1.2
    """
    return schedule_seconds(5, 5, 1, rates) / 5


def speed_trainer(out_dir: str | os.PathLike, *, preset: str = "paper", batch: int = 8,
                  crop: int = 120, steps: int = 10, precision: str = "fp32",
                  memory_format: str = "auto", threads: int | None = None,
                  device: str = "cpu", pairs: int = 16) -> Trainer:
    """A throw-away trainer on synthetic pairs of RoadScene's typical size (330×500; the speed
    does not depend on the content) whose blocks each hold ``steps`` steps and one epoch more
    (``benchmarks/train_speed.py``, ``benchmarks/train_roofline.py``)."""
    from critnet.train import TrainConfig
    from critnet.train.data.roadscene import RoadSceneCrops
    from critnet.train.data.synthetic import synthetic_pairs

    phase_len = math.ceil(steps / math.ceil(pairs / batch)) + 1
    config = TrainConfig.from_dict({
        "name": "train_speed",
        "model": {"preset": preset},
        "data": {"crop": crop},
        "schedule": {"epochs": 5 * phase_len, "phase_len": phase_len, "batch_size": batch},
        "run": {"precision": precision, "memory_format": memory_format, "threads": threads},
    })
    dataset = RoadSceneCrops(synthetic_pairs(pairs, 330, 500), crop=crop)
    return Trainer(config, out_dir, device=device, dataset=dataset, progress=False)
