"""Fitting the MPTP schedule into a time budget (docs/training.md, "GPU run").

The schedule keeps its block structure (M1, S, M2, S, M2 for the paper's 1000 epochs in blocks
of 200) and is shortened as a whole: ``epochs`` a multiple of the number of blocks,
``phase_len = epochs / blocks``. Its running time follows from the measured steps per second of
each phase kind.
"""

from __future__ import annotations

import math
from dataclasses import replace

from critnet.train.config import TrainConfig
from critnet.train.schedule import build_schedule


def block_count(config: TrainConfig) -> int:
    """Number of blocks of ``config``'s schedule (5 for ``configs/paper.yaml``)."""
    s = config.schedule
    return math.ceil(s.epochs / s.phase_len)


def schedule_seconds(epochs: int, blocks: int, steps_per_epoch: int,
                     rates: dict[str, float]) -> float:
    """Seconds to train ``epochs`` epochs in ``blocks`` equal blocks at ``rates`` (steps per
    second of each phase kind: ``M1``, ``S``, ``M2``).

    >>> schedule_seconds(10, 5, 22, {"M1": 22.0, "S": 11.0, "M2": 11.0})
    18.0
    """
    if epochs % blocks:
        raise ValueError(f"epochs {epochs} is not a multiple of the {blocks} blocks")
    phase_len = epochs // blocks
    return sum(phase_len * steps_per_epoch / rates[block.kind]
               for block in build_schedule(epochs, phase_len))


def fit_epochs(rates: dict[str, float], budget_s: float, steps_per_epoch: int, *,
               full_epochs: int = 1000, blocks: int = 5) -> int:
    """The longest schedule (epochs, a multiple of ``blocks``, at most ``full_epochs``) whose
    :func:`schedule_seconds` fits ``budget_s``; 0 when not even ``blocks`` epochs fit.

    >>> fit_epochs({"M1": 22.0, "S": 11.0, "M2": 11.0}, 100.0, 22, full_epochs=1000)
    55
    """
    per_round = schedule_seconds(blocks, blocks, steps_per_epoch, rates)  # one epoch per block
    rounds = min(full_epochs // blocks, math.floor(budget_s / per_round)) if budget_s > 0 else 0
    return max(rounds, 0) * blocks


def shortened(config: TrainConfig, epochs: int) -> TrainConfig:
    """``config`` with its schedule cut to ``epochs`` (same number of blocks), named
    ``<name>_e<epochs>``; ``config`` itself when ``epochs`` is its own length.

    Raises:
        ValueError: ``epochs`` is not a positive multiple of the number of blocks.
    """
    blocks = block_count(config)
    if epochs < blocks or epochs % blocks:
        raise ValueError(f"epochs must be a positive multiple of {blocks}, got {epochs}")
    if epochs == config.schedule.epochs:
        return config
    schedule = replace(config.schedule, epochs=epochs, phase_len=epochs // blocks)
    return replace(config, name=f"{config.name}_e{epochs}", schedule=schedule)
