"""The config ``critnet train --ir/--vis`` builds (docs/training.md, "Training on your own pairs").

Without ``--config`` a run starts from one of two built-in recipes:

* **from scratch** (no ``--init``): ``configs/cpu.yaml``'s model (``lite``), losses and learning
  rates: MPTP in 5 blocks (M1, S, M2, S, M2), ``D_fuse`` warm-started from ``D_fuse0``, about
  6,600 steps of batch 8 whatever the number of pairs (``schedule.target_steps``; the CPU
  schedule that trained the bundled ``lite``, 36 min on 2 cores);
* **fine-tuning** (``--init lite|PATH``): the weights' own architecture, every module loaded,
  then 3 blocks M2, S, M2 (no stage 1: ``D_fuse0`` does not fuse), about 900 steps of batch 8
  (``target_steps``), learning rates 1e-4 for MIT + ``D_fuse`` and for both SIPRIAs, ×0.1 after
  half of each block.

With ``--config FILE`` that file is the base and only the options given change it. In both
cases the options map to config keys: ``--ir/--vis/--resize-ir`` → ``data.sources``,
``--val`` → ``data.val_fraction`` (default 0.1 when the base has no validation),
``--val-ir/--val-vis`` → ``data.val_sources``, ``--strict`` → ``data.strict``, ``--init`` →
``model.init`` (and the weights' preset and overrides), ``--epochs N`` → ``schedule.epochs``
with ``phase_len = ceil(N / blocks)`` instead of ``target_steps``.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from critnet.errors import ConfigError
from critnet.model.config import CRITNetConfig, preset_config
from critnet.train.autoschedule import block_total
from critnet.train.config import TrainConfig

#: ``configs/cpu.yaml`` with its length derived from the data.
SCRATCH: dict[str, Any] = {
    "name": "train",
    "model": {"preset": "lite"},
    "schedule": {"epochs": 300, "phase_len": 60, "batch_size": 8, "lr_mit_stage1": 1e-3,
                 "lr_mit_stage2": 1e-5, "lr_sipria_ir": 1e-3, "lr_sipria_vis": 1e-3,
                 "lr_milestones": [0.5], "lr_gamma": 0.1, "fuse_init": "fuse0",
                 "target_steps": 6600},
    "data": {"min_pairs": 4},
    "run": {"checkpoint_every": 200, "device": "auto"},
}

#: Fine-tuning trained weights on a few hundred pairs on a CPU (measured: docs/training.md).
FINETUNE_SCHEDULE: dict[str, Any] = {
    "start": "finetune", "epochs": 3, "phase_len": 1, "batch_size": 8, "lr_mit_stage2": 1e-4,
    "lr_sipria_ir": 1e-4, "lr_sipria_vis": 1e-4, "lr_milestones": [0.5], "lr_gamma": 0.1,
    "target_steps": 900,
}

DEFAULT_VAL_FRACTION = 0.1


def weights_model(name_or_path: str) -> dict[str, Any]:
    """The ``model`` section matching a weights file: its preset and overrides, ``init``."""
    from critnet.weights import read_metadata, resolve_weights

    path = resolve_weights(name_or_path)
    config = CRITNetConfig.from_dict(json.loads(read_metadata(path)["config"]))
    mine, base = config.to_dict(), preset_config(config.preset).to_dict()
    overrides = {k: v for k, v in mine.items()
                 if k not in ("preset", "mit", "sipria") and v != base.get(k)}
    return {"preset": config.preset, "overrides": overrides, "init": name_or_path,
            "_ablation": {"mit": config.mit, "sipria": config.sipria}}


def folder_config(base: TrainConfig | None, *, ir: str | None = None, vis: str | None = None,
                  init: str | None = None, epochs: int | None = None, val: float | None = None,
                  val_ir: str | None = None, val_vis: str | None = None,
                  resize_ir: bool = False, strict: bool = False) -> TrainConfig:
    """The run's config: ``base`` (or a built-in recipe) changed by the options given.

    Raises:
        ConfigError: ``--epochs`` shorter than one epoch per block, or a bad resulting config.
        WeightsError: ``--init`` weights that cannot be read.
    """
    values = copy.deepcopy(base.to_dict() if base is not None else SCRATCH)
    if base is None and init is not None:
        values["schedule"] = {**values["schedule"], **FINETUNE_SCHEDULE}
    if init is not None:
        model = weights_model(init)
        values["ablation"] = {**values.get("ablation", {}), **model.pop("_ablation")}
        values["model"] = model
        values["schedule"] = {**values["schedule"], "start": "finetune"}
    data = values.setdefault("data", {})
    if ir is not None and vis is not None:
        data["sources"] = [{"ir": ir, "vis": vis, "resize_ir": resize_ir}]
    if val_ir is not None and val_vis is not None:
        data["val_sources"], data["val_fraction"] = [{"ir": val_ir, "vis": val_vis,
                                                      "resize_ir": resize_ir}], 0.0
    elif val is not None:
        data["val_fraction"], data["val_sources"] = val, []
    elif not data.get("val_fraction") and not data.get("val_sources") and ir is not None:
        data["val_fraction"] = DEFAULT_VAL_FRACTION
    if strict:
        data["strict"] = True
    config = TrainConfig.from_dict(values)
    if epochs is not None:
        blocks = block_total(config)
        if epochs < blocks:
            raise ConfigError(f"--epochs {epochs}: the schedule has {blocks} blocks, give at "
                              f"least {blocks} epochs (one per block)")
        values["schedule"] = {**values["schedule"], "epochs": epochs,
                              "phase_len": math.ceil(epochs / blocks), "target_steps": None}
        config = TrainConfig.from_dict(values)
    return config
