"""What one training step computes in each phase (docs/design.md §3): forward pass and named
loss terms.

Each function returns a dict of scalar loss tensors; ``"total"`` is the one to back-propagate.
Frozen parts run under ``torch.no_grad()`` so no backward work is wasted on them. Under bf16
autocast (``run.precision: bf16``) the losses are still computed in fp32, from the network
outputs cast to fp32 (:func:`fp32_losses`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from typing import Literal

import torch
from torch import Tensor

from critnet.model import CRITNet, SipriaOutputs
from critnet.train.config import LossSection, SipriaGrad, TrainConfig
from critnet.train.losses import distillation_loss, interaction_loss, mit_loss, sipria_loss
from critnet.train.saliency import SALIENCY_ONLY, contrast_weights, saliency_weights
from critnet.train.schedule import Block

Batch = dict[str, Tensor]


def _weights(batch: Batch, loss: LossSection) -> tuple[Tensor, Tensor]:
    if loss.saliency_weights in SALIENCY_ONLY:
        return saliency_weights(batch["sal_ir"], batch["sal_vis"], loss.saliency_weights,
                                steepness=loss.saliency_steepness)
    return contrast_weights(batch["ir"], batch["vis"], batch["sal_ir"], batch["sal_vis"],
                            loss.saliency_weights)


@contextmanager
def fp32_losses(like: Tensor) -> Iterator[None]:
    """Autocast off on ``like``'s device: the losses (kornia's Laplacian is a convolution) run in
    fp32 whatever the forward pass ran in."""
    with torch.autocast(like.device.type, enabled=False):
        yield


def _fp32(outputs: SipriaOutputs) -> SipriaOutputs:
    """A SIPRIA's outputs as fp32 (bf16 under autocast)."""
    return replace(outputs, **{f.name: getattr(outputs, f.name).float() for f in fields(outputs)})


def _mit_terms(fused: Tensor, batch: Batch, loss: LossSection) -> dict[str, Tensor]:
    """``ℓ_mit``'s terms, plus ``distill_weight · ℓ_distill`` towards ``batch["teacher"]`` (the
    teacher's fused crops, when the run distils) folded into ``"mit"``."""
    ir, vis = batch["ir"], batch["vis"]
    terms = mit_loss(fused, ir, vis, *_weights(batch, loss), loss.lambda_jg)
    if "teacher" in batch:
        terms["distill"] = distillation_loss(fused, batch["teacher"].float())
        terms["mit"] = terms["mit"] + loss.distill_weight * terms["distill"]
    return terms


def _prefixed(prefix: str, terms: dict[str, Tensor]) -> dict[str, Tensor]:
    return {f"{prefix}_{k}": v for k, v in terms.items()}


def phase_m1(model: CRITNet, batch: Batch, loss: LossSection) -> dict[str, Tensor]:
    """phaseM stage 1: ``ℓ_mit`` on ``D_fuse0(cat(F_vis↔ir, F_ir↔vis))``; SIPRIA not run."""
    ir, vis = batch["ir"], batch["vis"]
    f_vis_ir, f_ir_vis = model.transfer(ir, vis)
    fused = model.decode("fuse0", f_vis_ir, f_ir_vis)
    with fp32_losses(ir):
        terms = _mit_terms(fused.float(), batch, loss)
    return {**terms, "total": terms["mit"]}


def phase_m2(model: CRITNet, batch: Batch, loss: LossSection,
             sipria_grad: SipriaGrad = "through") -> dict[str, Tensor]:
    """phaseM stage 2: ``ℓ_mit`` on ``D_fuse`` (all six features); SIPRIAs frozen (their
    parameters do not require grad). ``sipria_grad`` (``schedule.m2_sipria_grad``):
    ``through`` lets the gradient flow through the SIPRIAs into MIT; ``detached`` feeds them
    detached MIT features, so MIT learns only through ``D_fuse``'s direct inputs."""
    ir, vis = batch["ir"], batch["vis"]
    f_vis_ir, f_ir_vis = model.transfer(ir, vis)
    if sipria_grad == "detached":
        s_ir, s_vis = model.sipria_ir(f_vis_ir.detach()), model.sipria_vis(f_ir_vis.detach())
    else:
        s_ir, s_vis = model.sipria_ir(f_vis_ir), model.sipria_vis(f_ir_vis)
    fused = model.decode("fuse", f_vis_ir, f_ir_vis, s_ir, s_vis)
    with fp32_losses(ir):
        terms = _mit_terms(fused.float(), batch, loss)
    return {**terms, "total": terms["mit"]}


def phase_s(model: CRITNet, batch: Batch, loss: LossSection,
            label_decoder: Literal["fuse0", "fuse"]) -> dict[str, Tensor]:
    """phaseS: ``ℓ_sipria(ir) + ℓ_sipria(vis) + w·ℓ_inter`` (Eq. 18–19); MIT frozen (no grad).

    The ``ℓ_inter`` label ``I_fused`` is ``D_fuse0``'s output (after block 0) or ``D_fuse``'s
    (after later phaseM blocks), computed without gradient; ``D_fuse`` reads the current
    SIPRIA features, detached.
    """
    ir, vis = batch["ir"], batch["vis"]
    w_ir, w_vis = _weights(batch, loss)
    with torch.no_grad():
        f_vis_ir, f_ir_vis = model.transfer(ir, vis)
    s_ir = model.sipria_ir(f_vis_ir)
    s_vis = model.sipria_vis(f_ir_vis)
    with torch.no_grad():
        if label_decoder == "fuse0":
            label = model.decode("fuse0", f_vis_ir, f_ir_vis)
        else:
            label = model.decode("fuse", f_vis_ir, f_ir_vis, s_ir, s_vis)
    with fp32_losses(ir):
        s_ir, s_vis = _fp32(s_ir), _fp32(s_vis)
        terms_ir = sipria_loss(s_ir, ir, vis, w_ir, w_vis, loss.lambda_edge)
        terms_vis = sipria_loss(s_vis, ir, vis, w_ir, w_vis, loss.lambda_edge)
        inter = interaction_loss(label.float(), s_ir.image, s_vis.image)
        total = terms_ir["sipria"] + terms_vis["sipria"] + loss.inter_weight * inter
    return {**_prefixed("ir", terms_ir), **_prefixed("vis", terms_vis), "inter": inter,
            "total": total}


def phase_joint(model: CRITNet, batch: Batch, loss: LossSection) -> dict[str, Tensor]:
    """``mptp: false``: one pass, everything trained on ``ℓ_mit`` (on ``D_fuse``) + both
    ``ℓ_sipria`` + ``w·ℓ_inter`` (label: the same pass's fused image, detached)."""
    ir, vis = batch["ir"], batch["vis"]
    w_ir, w_vis = _weights(batch, loss)
    f_vis_ir, f_ir_vis = model.transfer(ir, vis)
    s_ir = model.sipria_ir(f_vis_ir)
    s_vis = model.sipria_vis(f_ir_vis)
    fused = model.decode("fuse", f_vis_ir, f_ir_vis, s_ir, s_vis)
    with fp32_losses(ir):
        fused, s_ir, s_vis = fused.float(), _fp32(s_ir), _fp32(s_vis)
        terms = _mit_terms(fused, batch, loss)
        terms_ir = sipria_loss(s_ir, ir, vis, w_ir, w_vis, loss.lambda_edge)
        terms_vis = sipria_loss(s_vis, ir, vis, w_ir, w_vis, loss.lambda_edge)
        inter = interaction_loss(fused, s_ir.image, s_vis.image)
        total = (terms["mit"] + terms_ir["sipria"] + terms_vis["sipria"]
                 + loss.inter_weight * inter)
    return {**terms, **_prefixed("ir", terms_ir), **_prefixed("vis", terms_vis), "inter": inter,
            "total": total}


def phase_losses(model: CRITNet, block: Block, batch: Batch, config: TrainConfig,
                 device: torch.device) -> dict[str, Tensor]:
    """The loss terms of ``block``'s phase on ``batch`` (under bf16 autocast when
    ``run.precision`` is ``bf16``): the one place a step picks its objective."""
    loss = config.loss
    with torch.autocast(device.type, dtype=torch.bfloat16,
                        enabled=config.run.precision == "bf16"):
        if block.kind == "M1":
            return phase_m1(model, batch, loss)
        if block.kind == "M2":
            return phase_m2(model, batch, loss, config.schedule.m2_sipria_grad)
        if block.kind == "S":
            return phase_s(model, batch, loss, block.label_decoder)
        return phase_joint(model, batch, loss)
