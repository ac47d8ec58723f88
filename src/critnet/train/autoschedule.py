"""Schedules that scale with the data: ``schedule.target_steps`` (docs/training.md, "Training on
your own pairs").

With ``target_steps`` set, the number of epochs follows from the number of training pairs so
that the run takes about ``target_steps`` steps of ``batch_size`` crops (counted for one
process; under torchrun each process takes its share of an epoch, so the same epochs take
fewer steps), rounded to a whole number of epochs per block and at least one epoch per block;
``phase_len`` is ``epochs / blocks``. The block structure is kept: 5 blocks (M1, S, M2, S, M2)
from scratch, 3 (M2, S, M2) when fine-tuning, 1 for the ``sipria: false`` / ``mptp: false``
ablations. Nobody edits phase lengths by hand: 40 pairs or 4,000 get the same number of steps
per block.
"""

from __future__ import annotations

import math
from dataclasses import replace

from critnet.train.config import TrainConfig

#: Blocks of each kind of schedule.
BLOCKS = {"scratch": 5, "finetune": 3}


def block_total(config: TrainConfig) -> int:
    """Number of blocks ``config``'s schedule is cut into when its length is derived."""
    if not (config.ablation.sipria and config.ablation.mptp):
        return 1
    return BLOCKS[config.schedule.start]


def resolve_schedule(config: TrainConfig, pairs: int) -> TrainConfig:
    """``config`` with ``epochs`` and ``phase_len`` derived from ``pairs`` training pairs
    (``config`` itself without ``target_steps``; idempotent).

    >>> from critnet.train.config import TrainConfig
    >>> c = TrainConfig.from_dict({"schedule": {"target_steps": 900, "start": "finetune"}})
    >>> s = resolve_schedule(c, 300).schedule   # 38 steps per epoch of batch 8
    >>> (s.epochs, s.phase_len)
    (24, 8)
    """
    s = config.schedule
    if s.target_steps is None:
        return config
    blocks = block_total(config)
    per_epoch = math.ceil(pairs / s.batch_size)
    epochs = max(blocks, round(s.target_steps / per_epoch / blocks) * blocks)
    return replace(config, schedule=replace(s, epochs=epochs, phase_len=epochs // blocks))
