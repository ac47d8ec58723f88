"""The optimizers of MPTP (docs/design.md §3): which parameters each Adam owns."""

from __future__ import annotations

import torch
from torch import nn

from critnet.model import CRITNet
from critnet.train.config import TrainConfig


def build_optimizers(model: CRITNet, config: TrainConfig) -> dict[str, torch.optim.Adam]:
    """The Adam optimizers of docs/design.md §3 by name: ``A`` (MIT + ``D_fuse0``), ``B`` (MIT +
    ``D_fuse``), ``C`` (``sipria_ir``), ``D`` (``sipria_vis``); with ``sipria: false`` only
    ``A``; with ``mptp: false`` one ``joint`` optimizer over everything but ``D_fuse0``."""
    s = config.schedule
    betas = tuple(s.betas)
    mit = list(model.mit_parameters())

    def adam(params: list[nn.Parameter], lr: float) -> torch.optim.Adam:
        return torch.optim.Adam(params, lr=lr, betas=betas)

    if not config.ablation.sipria:
        return {"A": adam(mit + list(model.decoder_fuse0.parameters()), s.lr_mit_stage1)}
    if not config.ablation.mptp:
        rest = [*model.sipria_ir.parameters(), *model.sipria_vis.parameters(),
                *model.decoder_fuse.parameters()]
        return {"joint": adam(mit + rest, s.lr_mit_stage1)}
    return {
        "A": adam(mit + list(model.decoder_fuse0.parameters()), s.lr_mit_stage1),
        "B": adam(mit + list(model.decoder_fuse.parameters()), s.lr_mit_stage2),
        "C": adam(list(model.sipria_ir.parameters()), s.lr_sipria_ir),
        "D": adam(list(model.sipria_vis.parameters()), s.lr_sipria_vis),
    }
