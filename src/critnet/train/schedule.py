"""The mutual promotion training paradigm as a schedule of blocks (docs/design.md §3, Algorithm 1).

Training is cut into blocks of ``phase_len`` epochs. Block ``b``:
    * ``b == 0``: phaseM stage 1 (``M1``): MIT + ``D_fuse0`` on ``ℓ_mit``, optimizer A.
    * ``b`` odd: phaseS (``S``): both SIPRIAs on ``ℓ_sipria(ir) + ℓ_sipria(vis) + ℓ_inter``,
      optimizers C and D; MIT and both decoders frozen. The ``ℓ_inter`` label comes from
      ``D_fuse0`` after block 0 (``b == 1``) and from ``D_fuse`` after later phaseM blocks.
    * ``b`` even ≥ 2: phaseM stage 2 (``M2``): MIT + ``D_fuse`` on ``ℓ_mit``, optimizer B;
      SIPRIAs frozen.
Ablations: ``sipria: false`` is one ``M1`` phase over all epochs; ``mptp: false`` is one
``joint`` phase (everything, sum of all losses, one optimizer) over all epochs.

Fine-tuning (``schedule.start: finetune``, trained weights loaded by ``model.init``): no stage
1 (``D_fuse0`` is not what fuses); blocks alternate ``M2``, ``S``, ``M2``, ... from block 0,
every phaseS taking its ``ℓ_inter`` label from the trained ``D_fuse``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

PhaseKind = Literal["M1", "S", "M2", "joint"]

#: Optimizers stepped in each phase (names used in checkpoints).
PHASE_OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "M1": ("A",),
    "S": ("C", "D"),
    "M2": ("B",),
    "joint": ("joint",),
}


@dataclass(frozen=True)
class Block:
    """One block of the schedule: epochs ``[start, end)``."""

    index: int
    kind: PhaseKind
    start: int
    end: int
    finetune: bool = False

    @property
    def label_decoder(self) -> Literal["fuse0", "fuse"]:
        """Decoder giving the ``ℓ_inter`` label in a phaseS block."""
        return "fuse0" if self.index == 1 and not self.finetune else "fuse"

    @property
    def optimizers(self) -> tuple[str, ...]:
        return PHASE_OPTIMIZERS[self.kind]


def build_schedule(epochs: int, phase_len: int, *, sipria: bool = True, mptp: bool = True,
                   finetune: bool = False) -> list[Block]:
    """The blocks covering ``epochs`` (the last block may be shorter); ``finetune``: ``M2``,
    ``S``, ``M2``, ... (see the module docstring)."""
    if epochs < 1 or phase_len < 1:
        raise ValueError(f"epochs and phase_len must be >= 1, got {epochs}, {phase_len}")
    if not sipria:
        return [Block(0, "M1", 0, epochs)]
    if not mptp:
        return [Block(0, "joint", 0, epochs)]
    blocks = []
    for index in range(math.ceil(epochs / phase_len)):
        kind: PhaseKind = "M1" if index == 0 and not finetune else ("S" if index % 2 else "M2")
        blocks.append(Block(index, kind, index * phase_len, min((index + 1) * phase_len, epochs),
                            finetune))
    return blocks


def block_at(blocks: list[Block], epoch: int) -> Block:
    """The block holding ``epoch``."""
    for block in blocks:
        if block.start <= epoch < block.end:
            return block
    raise ValueError(f"epoch {epoch} is outside the schedule (0..{blocks[-1].end - 1})")


def lr_factor(block: Block, epoch: int, milestones: list[float], gamma: float) -> float:
    """Learning-rate multiplier at ``epoch``: ``gamma`` per milestone fraction of the block
    passed (``[0.5]`` → ×0.1 from the middle of the block on)."""
    done = (epoch - block.start) / (block.end - block.start)
    return gamma ** sum(done >= m for m in milestones)


def live_optimizers(blocks: list[Block], step: int, steps_per_epoch: int) -> set[str]:
    """The optimizers a block at or after global ``step`` still steps. A checkpoint stores only
    their states (:meth:`critnet.train.trainer.Trainer.state`): the others (A once phaseM stage 1
    is over) never step again, so leaving them out changes nothing a resumed run computes and
    keeps the checkpoint small (the paper-size run's state is committed: docs/training.md).

    >>> sorted(live_optimizers(build_schedule(10, 2), 6, 3))  # block 0 (M1) ends at step 6
    ['B', 'C', 'D']
    """
    return {name for block in blocks
            if block.end * steps_per_epoch > step for name in block.optimizers}
