"""MPTP training (SPEC §3): config, schedule, per-phase objectives, trainer, checkpoints, DDP."""

from critnet.train.config import TrainConfig, load_config
from critnet.train.trainer import Trainer, build_optimizers

__all__ = ["TrainConfig", "Trainer", "build_optimizers", "load_config"]
