"""The MPTP training loop (docs/design.md §3): data, phases, optimizers, checkpoints, logs,
export."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DistributedSampler

from critnet.errors import InputError
from critnet.io.progress import progress_bar
from critnet.model.critnet import Decoder
from critnet.train import objectives
from critnet.train.autoschedule import resolve_schedule
from critnet.train.checkpoint import (
    CHECKPOINT_NAME,
    check_same_config,
    check_same_data,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from critnet.train.config import TrainConfig
from critnet.train.data.batches import batches_for
from critnet.train.data.build import TrainingData, build_training_data
from critnet.train.data.device_crops import DeviceCrops
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.distillation import attach_teacher_images, load_teacher, teacher_targets
from critnet.train.distributed import (
    DistContext,
    average_gradients,
    barrier,
    broadcast_parameters,
)
from critnet.train.log import StepLog, fetch_rows, plot_losses, progress_postfix
from critnet.train.network import build_network
from critnet.train.optimizers import build_optimizers
from critnet.train.run_facts import init_decoder, run_metadata, start_validation
from critnet.train.schedule import Block, block_at, build_schedule, live_optimizers, lr_factor
from critnet.weights import save_weights


class Trainer:
    """One training run writing to ``out_dir``.

    Args:
        config: the run's :class:`TrainConfig`.
        out_dir: where ``checkpoint.pt``, ``weights.safetensors``, ``block<b>.safetensors``,
            ``log.csv``, ``config.yaml`` and ``losses.png`` go.
        device: torch device for this process.
        context: torchrun place (rank 0 alone writes files).
        resume: continue from ``out_dir/checkpoint.pt``.
        max_steps: stop once the global step reaches this (a checkpoint is written there).
        progress: show a tqdm progress bar (rank 0).
        dataset: the training crops (default: the config's ``data`` sources, built by
            :func:`~critnet.train.data.build.build_training_data`: RoadScene's train split
            unless ``data.sources`` says otherwise); preloaded crops are cut on ``device``
            (:class:`~critnet.train.data.device_crops.DeviceCrops`), streamed ones read ahead by
            DataLoader workers (:class:`~critnet.train.data.streamed.StreamedBatches`).
        deadline: a :func:`time.monotonic` time; the first step ending after it stops the run
            there, with a checkpoint and the weights exported (resume continues it). For one
            process (each torchrun rank would read its own clock).
        log: called with each line of the data report (rank 0; default: nothing).
    """

    def __init__(self, config: TrainConfig, out_dir: str | os.PathLike, *,
                 device: torch.device | str = "cpu", context: DistContext | None = None,
                 resume: bool = False, max_steps: int | None = None, progress: bool = True,
                 dataset: RoadSceneCrops | None = None, deadline: float | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.out_dir = Path(out_dir)
        self.device = torch.device(device)
        self.context = context or DistContext()
        self.max_steps = max_steps
        self.deadline = deadline
        self.progress = progress
        self.model = build_network(config, self.device)
        broadcast_parameters(self.model, self.context)
        self.optimizers = build_optimizers(self.model, config)
        self.teacher = (load_teacher(config.loss.distill_teacher, self.device)
                        if config.loss.distill_weight > 0 else None)
        self.data: TrainingData | None = None
        if dataset is None:
            quiet = not self.context.is_main
            self.data = build_training_data(config, log=None if quiet else log,
                                            progress=progress and not quiet)
            dataset = self.data.crops
        self.config = config = resolve_schedule(config, len(dataset))
        s = config.schedule
        self.blocks = build_schedule(s.epochs, s.phase_len, sipria=config.ablation.sipria,
                                     mptp=config.ablation.mptp, finetune=s.start == "finetune")
        self.dataset = dataset
        self.sampler = DistributedSampler(range(len(dataset)), num_replicas=self.context.world_size,
                                          rank=self.context.rank, shuffle=True,
                                          seed=config.run.seed, drop_last=False)
        self.steps_per_epoch = math.ceil(len(self.sampler) / s.batch_size)
        self.total_steps = s.epochs * self.steps_per_epoch
        if self.teacher is not None and isinstance(dataset.pairs, list):  # preloaded pairs
            attach_teacher_images(dataset.pairs, self.teacher, self.device)
        self.batches = batches_for(dataset, self.device, self._plan, self.total_steps,
                                   config.data.workers)
        self.step = 0
        self.wall_time = 0.0
        self.stopped_at_deadline = False
        self._epoch_cache: tuple[int, list[int]] | None = None
        self._active: Block | None = None
        checkpoint = self.out_dir / CHECKPOINT_NAME
        if resume:
            self._restore(load_checkpoint(checkpoint))
        elif checkpoint.exists():
            raise InputError(f"{checkpoint} exists: pass --resume to continue that run, or "
                             f"choose another --out")

    # -- state ---------------------------------------------------------------------------------
    def _restore(self, payload: dict[str, Any]) -> None:
        check_same_config(self.out_dir / CHECKPOINT_NAME, payload["config"], self.config)
        check_same_data(self.out_dir / CHECKPOINT_NAME, payload, self.data)
        self.model.load_state_dict(payload["model"])
        saved = payload["optimizers"]
        for name, optimizer in self.optimizers.items():
            if name in saved:  # absent: no block after the checkpoint steps it (:meth:`state`)
                optimizer.load_state_dict(saved[name])
        set_rng_state(payload["rng"])
        self.step = payload["step"]
        self.wall_time = payload["wall_time"]

    def state(self) -> dict[str, Any]:
        epoch, position = divmod(self.step, self.steps_per_epoch)
        live = live_optimizers(self.blocks, self.step, self.steps_per_epoch)
        return {
            "step": self.step, "epoch": epoch, "wall_time": self.wall_time,
            "config": self.config.to_dict(), "model": self.model.state_dict(),
            "optimizers": {n: o.state_dict() for n, o in self.optimizers.items() if n in live},
            "rng": rng_state(),
            "sampler": {"seed": self.config.run.seed, "epoch": epoch, "position": position},
            **({"data": {"fingerprint": self.data.fingerprint}} if self.data else {}),
        }

    def save(self, *, block_end: Block | None = None, final: bool = False) -> None:
        """Checkpoint (rank 0); at a block's end or the run's end (``final``: also a stop at
        the deadline) also export the weights."""
        if self.context.is_main:
            save_checkpoint(self.out_dir / CHECKPOINT_NAME, self.state())
            if block_end is not None or final or self.step >= self._stop:
                meta = {"config_name": self.config.name, "step": str(self.step),
                        "epoch": str(self.step // self.steps_per_epoch),
                        "wall_time_s": f"{self.wall_time:.1f}",
                        **run_metadata(self.config, self.data, self.blocks)}
                decoder = self._trained_decoder()
                save_weights(self.model, self.out_dir / "weights.safetensors", decoder=decoder,
                             **meta)
                if block_end is not None:
                    save_weights(self.model, self.out_dir / f"block{block_end.index}.safetensors",
                                 decoder=decoder, block=str(block_end.index),
                                 phase=block_end.kind, **meta)
        barrier(self.context)

    def _trained_decoder(self) -> Decoder:
        """``fuse`` once a step has trained ``D_fuse`` (phaseM stage 2 or joint) or the ``--init``
        weights fuse with it, else ``fuse0``: a snapshot before the first stage-2 block has an
        untrained ``D_fuse`` (also when starting from stage-1 weights)."""
        trains_fuse = [b for b in self.blocks if b.kind in ("M2", "joint")]
        started = any(self.step > b.start * self.steps_per_epoch for b in trains_fuse)
        trained = (self.config.model.init is not None and self.model.config.sipria
                   and init_decoder(self.config.model.init) == "fuse")
        return "fuse" if started or trained else "fuse0"

    # -- one step ------------------------------------------------------------------------------
    def _enter(self, block: Block) -> None:
        """Freeze everything but the active optimizers' parameters."""
        active = {id(p) for n in block.optimizers for g in self.optimizers[n].param_groups
                  for p in g["params"]}
        for parameter in self.model.parameters():
            parameter.requires_grad_(id(parameter) in active)
        first_stage2 = block.kind == "M2" and not any(
            b.kind == "M2" for b in self.blocks if b.index < block.index)
        at_block_start = self.step == block.start * self.steps_per_epoch
        warm = self.config.schedule.start == "scratch" and self.config.schedule.fuse_init == "fuse0"
        if first_stage2 and at_block_start and warm:
            self.model.init_fuse_from_fuse0()
        self._active = block

    def _plan(self, step: int) -> tuple[int, list[int]]:
        """The epoch and pair indices of ``step`` (this process's share)."""
        epoch, position = divmod(step, self.steps_per_epoch)
        return epoch, self._indices(epoch, position)

    def _indices(self, epoch: int, position: int) -> list[int]:
        if self._epoch_cache is None or self._epoch_cache[0] != epoch:
            self.sampler.set_epoch(epoch)
            self._epoch_cache = (epoch, list(iter(self.sampler)))
        size = self.config.schedule.batch_size
        return self._epoch_cache[1][position * size:(position + 1) * size]

    def train_step(self) -> dict[str, Any]:
        """Run the step at ``self.step`` and advance; returns the log row, its loss terms as
        0-d tensors still on the device (:func:`fetch_rows` reads them)."""
        s = self.config.schedule
        epoch, position = divmod(self.step, self.steps_per_epoch)
        block = block_at(self.blocks, epoch)
        if self._active != block:
            self._enter(block)
        factor = lr_factor(block, epoch, s.lr_milestones, s.lr_gamma)
        bases = {"A": s.lr_mit_stage1, "B": s.lr_mit_stage2, "C": s.lr_sipria_ir,
                 "D": s.lr_sipria_vis, "joint": s.lr_mit_stage1}
        for name in block.optimizers:
            for group in self.optimizers[name].param_groups:
                group["lr"] = bases[name] * factor
        indices = self._indices(epoch, position)
        if isinstance(self.batches, DeviceCrops):
            batch = self.batches.batch(epoch, indices)
        else:
            batch = self.batches.batch_at(self.step, epoch, indices)
        if self.teacher is not None and "teacher" not in batch and block.kind != "S":
            batch["teacher"] = teacher_targets(self.teacher, batch)
        terms = objectives.phase_losses(self.model, block, batch, self.config, self.device)
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        average_gradients(self.model.parameters(), self.context)
        for name in block.optimizers:
            self.optimizers[name].step()
        self.step += 1
        return {"step": self.step, "epoch": epoch, "block": block.index, "phase": block.kind,
                "lr": bases[block.optimizers[0]] * factor,
                **{k: v.detach() for k, v in terms.items()}}

    # -- the run -------------------------------------------------------------------------------
    @property
    def _stop(self) -> int:
        if self.max_steps is None:
            return self.total_steps
        return min(self.total_steps, self.max_steps)

    def run(self) -> dict[str, Any]:
        """Train until the schedule ends (or ``max_steps``, or the deadline); returns a short
        summary. The loss terms are fetched from the device every ``run.log_every`` steps and
        before every checkpoint, so ``log.csv`` on disk always holds every row up to the
        checkpoint's step."""
        main = self.context.is_main
        log = None
        if main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            import yaml

            (self.out_dir / "config.yaml").write_text(yaml.safe_dump(self.config.to_dict(),
                                                                     sort_keys=False))
            log = StepLog(self.out_dir, resume_step=self.step,
                          tensorboard=self.config.run.tensorboard)
        validator = None
        if main:
            validator = start_validation(self.data, self.out_dir, self.step, self.model,
                                         self._trained_decoder(), self.config.model.init)
        bar = progress_bar(show=None if main and self.progress else False, total=self._stop,
                           initial=self.step, dynamic_ncols=True, unit="step")
        every, log_every = self.config.run.checkpoint_every, self.config.run.log_every
        start_step, started = self.step, time.perf_counter()
        pending: list[dict[str, Any]] = []
        last_row: dict[str, Any] = {}
        try:
            self.model.train()
            while self.step < self._stop:
                tick = time.perf_counter()
                row = self.train_step()
                self.wall_time += time.perf_counter() - tick
                row["wall_time"] = round(self.wall_time, 3)
                pending.append(row)
                block = block_at(self.blocks, row["epoch"])
                block_done = self.step == block.end * self.steps_per_epoch
                late = self.deadline is not None and time.monotonic() >= self.deadline
                checkpoint = (block_done or self.step % every == 0 or self.step >= self._stop
                              or late)
                if not (checkpoint or self.step % log_every == 0):
                    continue
                tick = time.perf_counter()
                rows = fetch_rows(pending)  # waits for the device
                self.wall_time += time.perf_counter() - tick
                pending, last_row = [], rows[-1]
                for done in rows:
                    if log is not None:
                        log.write(done, flush=done["step"] % 20 == 0)
                bar.set_description(f"{block.kind} block {block.index}/{len(self.blocks) - 1} "
                                    f"ep {row['epoch']}")
                bar.set_postfix(progress_postfix(last_row), refresh=False)
                bar.update(len(rows))
                if checkpoint:
                    if log is not None:
                        log.sync()  # every row up to the checkpoint's step is on disk
                    if validator is not None and block_done:
                        validator.score(self.model, self._trained_decoder(), step=self.step,
                                        epoch=row["epoch"], block=block.index, phase=block.kind)
                    self.save(block_end=block if block_done else None, final=late)
                    if validator is not None and block_done:
                        validator.keep_best(self.out_dir)
                if late:
                    self.stopped_at_deadline = self.step < self._stop
                    break
        finally:
            bar.close()
            if log is not None:
                log.close()
            if not isinstance(self.batches, DeviceCrops):
                self.batches.close()
        if main and self.step > start_step:
            plot_losses(self.out_dir / "log.csv", self.out_dir / "losses.png",
                        val_csv=self.out_dir / "val.csv" if validator else None)
        steps = self.step - start_step
        return {"step": self.step, "total_steps": self.total_steps, "steps_run": steps,
                "seconds": time.perf_counter() - started, "last": last_row,
                "stopped_at_deadline": self.stopped_at_deadline,
                "best": validator.keep_best(self.out_dir) if validator else None}
