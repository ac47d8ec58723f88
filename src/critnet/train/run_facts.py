"""What a run starts from and records beside its weights: ``--init`` weights, the data and
schedule metadata of every exported weights file, ``data.json`` and the validation set-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from critnet.errors import ConfigError
from critnet.io.atomic import atomic_path
from critnet.model import CRITNet
from critnet.model.critnet import Decoder
from critnet.train.config import TrainConfig
from critnet.train.data.build import TrainingData
from critnet.train.schedule import Block
from critnet.train.validation import Validator


def load_init(model: CRITNet, name_or_path: str) -> None:
    """Load every module of ``model`` from the weights ``name_or_path`` (``lite`` or a
    ``.safetensors`` path).

    Raises:
        WeightsError: the weights cannot be loaded.
        ConfigError: they are of another architecture than the config's model.
    """
    from critnet.weights import load_weights

    weights = load_weights(name_or_path)
    if weights.config.to_dict() != model.config.to_dict():
        mine, theirs = model.config.to_dict(), weights.config.to_dict()
        differ = {k: theirs[k] for k in theirs if theirs[k] != mine.get(k)}
        raise ConfigError(f"model.init {name_or_path}: the weights' model differs from the "
                          f"config's in {differ}; set model.preset/overrides to match (the "
                          f"--init option does this)")
    model.load_state_dict(weights.state_dict())


def init_decoder(name_or_path: str) -> str:
    """The decoder the ``--init`` weights fuse with (``fuse``, or ``fuse0`` for stage-1
    weights), from the file's metadata."""
    from critnet.weights import DECODER_KEY, read_metadata, resolve_weights

    return read_metadata(resolve_weights(name_or_path)).get(DECODER_KEY, "fuse")


def schedule_facts(config: TrainConfig, blocks: list[Block]) -> dict[str, Any]:
    s = config.schedule
    return {"start": s.start, "init": config.model.init, "epochs": s.epochs,
            "phase_len": s.phase_len, "target_steps": s.target_steps,
            "blocks": [b.kind for b in blocks], "batch_size": s.batch_size,
            "lr": {"A": s.lr_mit_stage1, "B": s.lr_mit_stage2, "C": s.lr_sipria_ir,
                   "D": s.lr_sipria_vis, "milestones": s.lr_milestones, "gamma": s.lr_gamma},
            "crop": config.data.crop, "seed": config.run.seed}


def run_metadata(config: TrainConfig, data: TrainingData | None,
                 blocks: list[Block]) -> dict[str, str]:
    """Metadata strings for the exported weights: ``schedule`` and (when the trainer built its
    data) ``data`` (sources, pair counts, split rule, loading), as JSON."""
    meta = {"schedule": json.dumps(schedule_facts(config, blocks))}
    if data is not None:
        meta["data"] = json.dumps(data.facts)
    return meta


def start_validation(data: TrainingData | None, out_dir: Path, step: int, model: CRITNet,
                     decoder: Decoder, init: str | None) -> Validator | None:
    """Write ``data.json`` (facts, stems, problems) and, with validation pairs, a
    :class:`Validator` (scoring the ``init`` weights with ``decoder`` first on a fresh start,
    ``step`` 0)."""
    if data is None:
        return None
    with atomic_path(out_dir / "data.json") as tmp:
        tmp.write_text(json.dumps({**data.facts, "stems": data.stems,
                                   "unusable": data.problems}, indent=1))
    if not data.val:
        return None
    validator = Validator(data, out_dir, resume_step=step)
    if step == 0 and init:
        validator.score(model, decoder, step=0, epoch=0, block=-1, phase="init")
    return validator
