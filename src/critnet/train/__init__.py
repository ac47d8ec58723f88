"""MPTP training (docs/design.md §3): config, schedule, per-phase objectives, trainer, checkpoints,
DDP, and :func:`run_training`, the entry point of the CLI and the studies."""

from critnet.train.config import TrainConfig, load_config
from critnet.train.optimizers import build_optimizers
from critnet.train.run import run_training
from critnet.train.trainer import Trainer

__all__ = ["TrainConfig", "Trainer", "build_optimizers", "load_config", "run_training"]
