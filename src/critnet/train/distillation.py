"""Distillation (beyond the paper; ``loss.distill_weight``): a trained teacher's fused image of
each training crop as an extra target for the student's phaseM steps. The teacher is frozen and
runs without gradient; the loss itself is :func:`critnet.train.losses.distillation_loss`."""

from __future__ import annotations

import torch
from torch import Tensor

from critnet.model import CRITNet
from critnet.weights import load_weights


def load_teacher(name_or_path: str, device: torch.device) -> CRITNet:
    """The teacher network (bundled name or ``.safetensors`` path), in eval mode, frozen.

    Raises:
        WeightsError: unknown name, missing or corrupted file.
    """
    teacher = load_weights(name_or_path, device=device).eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher


def teacher_targets(teacher: CRITNet, batch: dict[str, Tensor]) -> Tensor:
    """The teacher's fused image of ``batch``'s crops (B×1×h×w, no gradient)."""
    with torch.no_grad():
        return teacher(batch["ir"], batch["vis"]).detach()
