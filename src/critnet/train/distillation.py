"""Distillation (beyond the paper; ``loss.distill_weight``): a trained teacher's fused image as an
extra target for the student's phaseM steps. The teacher is frozen and runs without gradient;
the loss itself is :func:`critnet.train.losses.distillation_loss`.

For preloaded pairs the teacher fuses each **whole** training image once before training
(:func:`attach_teacher_images`), and every crop takes the same window of it — the teacher's
output as a user gets it, and far cheaper than a teacher pass per step. Streamed pairs are not
preloaded: there the teacher fuses each batch's crops (:func:`teacher_targets`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from critnet.model import CRITNet
from critnet.train.data.roadscene import GrayPair
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


def attach_teacher_images(pairs: list[GrayPair], teacher: CRITNet, device: torch.device) -> None:
    """Set each pair's ``teacher`` to ``teacher``'s fused image of the whole pair (float32 in
    [0, 1], on the host), in place."""
    with torch.no_grad():
        for pair in pairs:
            ir, vis = (torch.from_numpy(np.asarray(a, dtype=np.float32)
                                        / (255.0 if a.dtype == np.uint8 else 1.0))[None, None]
                       for a in (pair.ir, pair.vis))
            fused = teacher(ir.to(device), vis.to(device))
            pair.teacher = fused[0, 0].float().cpu().numpy()
