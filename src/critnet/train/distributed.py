"""Multi-process training via PyTorch's own launcher (``torchrun``).

Detected from the environment (``WORLD_SIZE`` > 1, ``RANK``, ``LOCAL_RANK``): the process group
uses ``nccl`` on CUDA and ``gloo`` on CPU. We do not wrap the model in
``DistributedDataParallel``: each phase trains a different subset of modules (the rest frozen),
so instead, after every backward pass, :func:`average_gradients` all-reduces and averages the
``.grad`` of the parameters that have one (exactly the active optimizers' parameters, the same
set on every rank). With identical initial weights (broadcast from rank 0) and identical
optimizer steps, all ranks keep identical weights. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    """This process's place: ``rank`` of ``world_size``; ``local_rank`` picks its GPU."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` → ``cuda:<local_rank>`` when CUDA is available, else ``cpu``; ``cuda`` under
    torchrun → ``cuda:<local_rank>``; anything else as given."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(name)


def init_distributed(device_name: str) -> tuple[DistContext, torch.device]:
    """Join the torchrun process group when ``WORLD_SIZE`` > 1; pick this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(), resolve_device(device_name)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(rank, world_size, local_rank), device


def broadcast_parameters(model: nn.Module, context: DistContext) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not context.enabled:
        return
    for tensor in [*model.parameters(), *model.buffers()]:
        dist.broadcast(tensor.data, src=0)


def average_gradients(parameters: Iterable[nn.Parameter], context: DistContext) -> None:
    """All-reduce and average ``.grad`` of every parameter that has one (in one flat buffer)."""
    if not context.enabled:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= context.world_size
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset:offset + grad.numel()].view_as(grad))
        offset += grad.numel()


def barrier(context: DistContext) -> None:
    if context.enabled:
        dist.barrier()


def shutdown(context: DistContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
