"""The network a run trains, on its device: threads, TF32/cuDNN settings, the seed, ``--init``
weights and the memory format (``run.memory_format``)."""

from __future__ import annotations

import torch

from critnet.model import CRITNet, build_model
from critnet.train.config import TrainConfig
from critnet.train.run_facts import load_init


def build_network(config: TrainConfig, device: torch.device) -> CRITNet:
    """The seeded model of ``config`` on ``device`` (``--init`` weights loaded when given)."""
    if config.run.threads:
        torch.set_num_threads(config.run.threads)
    if device.type == "cuda":
        # convolutions may use TF32 (PyTorch's default for cuDNN); matmuls (the attention
        # statistics Q·Kᵀ) stay full fp32
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(config.run.seed)
    model = build_model(config.model.preset, **config.model_overrides()).to(device)
    if config.model.init:
        load_init(model, config.model.init)
    if channels_last(config.run.memory_format, device, model.config.channels):
        model = model.to(memory_format=torch.channels_last)
    return model


#: Under ``auto``, the CPU trains channels-last from this width up: at the paper's C = 64 a step
#: is faster (docs/training.md, "Step speed"); at lite's C = 16 the two layouts measured alike.
CPU_CHANNELS_LAST_FROM = 32


def channels_last(memory_format: str, device: torch.device, channels: int) -> bool:
    """Whether ``run.memory_format`` means channels-last on ``device`` for a network of
    ``channels`` features: ``auto`` is channels-last on CUDA, and on the CPU from
    :data:`CPU_CHANNELS_LAST_FROM` channels."""
    if memory_format != "auto":
        return memory_format == "channels_last"
    return device.type == "cuda" or channels >= CPU_CHANNELS_LAST_FROM
