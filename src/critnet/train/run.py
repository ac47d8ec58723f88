"""The library entry point for a training run: distributed set-up, :class:`Trainer`, shutdown.

``critnet train`` and the training studies (``critnet bench ablation|lambda``) both call
:func:`run_training`; under ``torchrun`` every process calls it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from critnet.io.outputs import check_output_folder
from critnet.train.config import TrainConfig, load_config
from critnet.train.data.sources import input_folders


def run_training(config: TrainConfig | str | os.PathLike, out_dir: str | os.PathLike | None = None,
                 *, resume: bool = False, max_steps: int | None = None,
                 device: str | None = None, progress: bool = True,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train (or resume) one run and return its summary.

    Args:
        config: a :class:`TrainConfig` or the path of a YAML config (see :func:`load_config`).
        out_dir: the run folder (default ``runs/<config name>``).
        resume: continue from ``out_dir/checkpoint.pt``.
        max_steps: stop when the global step reaches this (a checkpoint is written there).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``; ``None`` takes ``config.run.device``.
        progress: show a progress bar (rank 0).
        log: called with each line of the data report (rank 0), e.g. each skipped file.

    Returns:
        The trainer's summary (``step``, ``total_steps``, ``steps_run``, ``seconds``, ``last``)
        plus ``out_dir`` (a :class:`Path`) and ``is_main`` (whether this process is rank 0).

    Raises:
        ConfigError: the config cannot be read.
        InputError: ``out_dir`` is an input folder of the config's sources or inside one.
    """
    from critnet.train.distributed import init_distributed, shutdown
    from critnet.train.trainer import Trainer

    if not isinstance(config, TrainConfig):
        config = load_config(config)
    out = Path(out_dir) if out_dir is not None else Path("runs") / config.name
    check_output_folder(out, input_folders(config.data.sources)
                        | input_folders(config.data.val_sources, "validation "), option="--out")
    context, torch_device = init_distributed(device or config.run.device)
    try:
        trainer = Trainer(config, out, device=torch_device, context=context, resume=resume,
                          max_steps=max_steps, progress=progress, log=log)
        summary = trainer.run()
    finally:
        shutdown(context)
    return {**summary, "out_dir": out, "is_main": context.is_main}
