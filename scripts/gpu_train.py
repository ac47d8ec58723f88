"""Train the paper preset in one timed GPU window, then fuse and score (docs/training.md,
"GPU run").

Usage (``scripts/gpu_train.sh`` sets the environment and calls this)::

    python scripts/gpu_train.py --out OUT [--data gpu_data] [--budget 540] [--eval-reserve 120]
        [--probe-seconds 20] [--checkpoint-seconds 120] [--precision fp32] [--log-every 100]
        [--eval-limit N] [--resume-from DIR] [--config configs/paper.yaml]

1. **Resume or probe.** With ``OUT/checkpoint.pt`` (or ``--resume-from DIR`` holding one, copied
   into ``OUT`` first) the run continues that checkpoint with its own config. Otherwise a
   throw-away trainer measures the steps per second of each phase kind (M1, S, M2) for
   ``--probe-seconds`` each, and the longest schedule that fits the time left is chosen
   (:func:`critnet.train.budget.fit_epochs`): ``--config`` itself (the paper's 1000 epochs) if it
   fits, else the same five blocks shortened, named ``<config>_e<epochs>``.
2. **Train** into ``OUT`` with a checkpoint about every ``--checkpoint-seconds`` and a deadline
   ``--eval-reserve`` seconds before the end of ``--budget`` (counted from ``--started``): past
   it the trainer stops at a checkpoint and exports the weights; running this again resumes.
3. **Evaluate** the weights on RoadScene-50 and TNO-42 with ``critnet bench compare``'s code
   (fused images cached, scores computed in parallel into its score cache first), beside the
   ``--reference`` weights (default: the bundled ``lite``).
4. **Package** ``OUT`` as at most 8 files of at most 16 MiB: ``weights.safetensors``,
   ``checkpoint.pt``, ``log.csv``, ``losses.png``, ``config.yaml``, ``scores.md``, ``scores.json``
   and ``fused.tar`` (per dataset: our fused images, ``scores.csv``, ``table.*``,
   ``results.json``). Block snapshots and the evaluation's working files stay in ``--scratch``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from critnet.evaluation.bench.compare import RunOptions, compare
from critnet.evaluation.bench.datasets import Dataset, load_dataset
from critnet.evaluation.bench.methods import (
    Method,
    load_gray,
    materialise,
    model_method,
    weights_label,
)
from critnet.evaluation.bench.scores import read_scores, write_scores
from critnet.evaluation.evaluate import score_pair
from critnet.evaluation.tables import format_table
from critnet.metrics import PAPER_METRICS, resolve_metric_names
from critnet.train import TrainConfig, Trainer, load_config
from critnet.train.budget import block_count, fit_epochs, schedule_seconds, shortened
from critnet.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.log import plot_losses
from critnet.train.speed import phase_rates

EVAL_DATASETS = ("roadscene50", "tno42")
MAX_FILES = 8
MAX_BYTES = 16 * 2**20
RESUME_FILES = ("checkpoint.pt", "log.csv", "weights.safetensors", "losses.png", "config.yaml",
                "scores.json")
STARTED = time.time()


def say(message: str) -> None:
    print(f"[gpu_train {time.time() - STARTED:6.1f} s] {message}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the run folder (8 files)")
    parser.add_argument("--config", type=Path, default=Path("configs/paper.yaml"))
    parser.add_argument("--data", type=Path, default=None,
                        help="data root (default: CRITNET_DATA / critnet.io.paths.data_root())")
    parser.add_argument("--scratch", type=Path, default=None,
                        help="block snapshots, probe and evaluation files (default: OUT.work "
                             "beside OUT)")
    parser.add_argument("--started", type=float, default=None,
                        help="UNIX time the budget counts from (default: now)")
    parser.add_argument("--budget", type=float, default=540.0, help="seconds for everything")
    parser.add_argument("--eval-reserve", type=float, default=120.0,
                        help="seconds kept for evaluation and packaging")
    parser.add_argument("--probe-seconds", type=float, default=20.0,
                        help="timed seconds per phase kind in the rate probe")
    parser.add_argument("--checkpoint-seconds", type=float, default=120.0)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--eval-limit", type=int, default=None,
                        help="score only the first N pairs of each dataset (rehearsals)")
    parser.add_argument("--reference", action="append", default=None,
                        help="weights scored beside ours (default: lite; 'none' for none)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes for scoring")
    parser.add_argument("--stop-after", type=float, default=None,
                        help="stop training this many seconds after it starts (rehearses the "
                             "deadline guard)")
    parser.add_argument("--resume-from", type=Path, default=None,
                        help="a previous run's returned files, continued when OUT has no "
                             "checkpoint")
    return parser.parse_args()


# -- 1. resume or probe ----------------------------------------------------------------------
def seed_from(previous: Path, out: Path) -> bool:
    """Copy a previous run's files into ``out`` unless ``out`` has a checkpoint already."""
    if (out / CHECKPOINT_NAME).exists() or not (previous / CHECKPOINT_NAME).is_file():
        return False
    out.mkdir(parents=True, exist_ok=True)
    for name in RESUME_FILES:
        if (previous / name).is_file():
            shutil.copy2(previous / name, out / name)
    return True


def run_settings(config: TrainConfig, args: argparse.Namespace,
                 checkpoint_every: int) -> TrainConfig:
    return replace(config, run=replace(config.run, log_every=args.log_every,
                                       precision=args.precision,
                                       checkpoint_every=checkpoint_every))


def choose_config(base: TrainConfig, dataset: RoadSceneCrops, args: argparse.Namespace,
                  device: torch.device, scratch: Path, train_deadline: float
                  ) -> tuple[TrainConfig, dict[str, Any]]:
    """Probe the rates, fit the schedule into the time left before ``train_deadline``."""
    probe_config = run_settings(base, args, base.run.checkpoint_every)
    shutil.rmtree(scratch / "probe", ignore_errors=True)
    trainer = Trainer(probe_config, scratch / "probe", device=device, dataset=dataset,
                      progress=False)
    rates = phase_rates(trainer, warmup=5, seconds=args.probe_seconds)
    steps_per_epoch = trainer.steps_per_epoch
    del trainer
    if device.type == "cuda":
        torch.cuda.empty_cache()
    per_s = {kind: rate.steps_per_s for kind, rate in rates.items()}
    say("probe: " + ", ".join(f"{k} {v:.2f} steps/s" for k, v in per_s.items()))
    # margin: model build, checkpoints (~0.5 s each), the loss plot
    budget = (train_deadline - time.time()) * 0.97 - 10
    blocks = block_count(base)
    epochs = fit_epochs(per_s, budget, steps_per_epoch, full_epochs=base.schedule.epochs,
                        blocks=blocks)
    if epochs == 0:
        epochs = blocks  # the shortest schedule; the deadline guard stops it
    chosen = shortened(base, epochs)
    seconds = schedule_seconds(epochs, blocks, steps_per_epoch, per_s)
    total_steps = epochs * steps_per_epoch
    checkpoint_every = max(1, round(total_steps / seconds * args.checkpoint_seconds))
    chosen = run_settings(chosen, args, checkpoint_every)
    say(f"schedule: {chosen.name}, {epochs} epochs in {blocks} blocks of "
        f"{chosen.schedule.phase_len}, {total_steps} steps, predicted {seconds:.0f} s of "
        f"{budget:.0f} s; checkpoint every {checkpoint_every} steps")
    probe = {"rates": {k: {"steps": r.steps, "seconds": round(r.seconds, 3),
                           "steps_per_s": round(r.steps_per_s, 3)} for k, r in rates.items()},
             "train_budget_s": round(budget, 1), "predicted_train_s": round(seconds, 1),
             "epochs": epochs, "full_epochs": base.schedule.epochs}
    return chosen, probe


# -- 3. evaluate -----------------------------------------------------------------------------
def _score_job(job: tuple[str, Path, Path, dict[str, Path], list[str]]
               ) -> tuple[str, dict[str, dict[str, float]]]:
    stem, ir, vis, fused, metrics = job
    images = {name: load_gray(path) for name, path in fused.items()}
    return stem, score_pair(load_gray(ir), load_gray(vis), images, metrics)


def prescore(ds: Dataset, methods: list[Method], fused: dict[str, dict[str, Path]],
             metrics: list[str], cache_path: Path, workers: int) -> None:
    """Fill ``compare``'s score cache in parallel (it then finds every score cached)."""
    cache = read_scores(cache_path)
    sources = {m.name: m.source for m in methods}
    jobs = []
    for stem, ir, vis in ds.pairs:
        todo = {m.name: fused[m.name][stem] for m in methods
                if any(cache.get((m.name, stem, k), (0, ""))[1] != m.source for k in metrics)}
        if todo:
            jobs.append((stem, ir, vis, todo, metrics))
    if not jobs:
        return
    # spawn, not fork: this process holds a CUDA context and threads by now
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(jobs))),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        for stem, values in pool.map(_score_job, jobs):
            for name, row in values.items():
                cache.update({(name, stem, k): (v, sources[name]) for k, v in row.items()})
    write_scores(cache_path, cache)


def evaluate(weights: Path, args: argparse.Namespace, data: Path, scratch: Path,
             device: str) -> dict[str, dict[str, Any]]:
    """Fuse and score each evaluation dataset; returns ``{key: summary}``."""
    references = [] if args.reference == ["none"] else (args.reference or ["lite"])
    given = [f"run={weights}", *references] if references else [str(weights)]
    metrics = resolve_metric_names(PAPER_METRICS)
    results = {}
    for key in EVAL_DATASETS:
        ds = load_dataset(key, data)
        if args.eval_limit:
            ds = Dataset(ds.spec, ds.root, ds.pairs[:args.eval_limit])
        folder = scratch / "eval" / key
        methods = [model_method(*weights_label(w, len(given)), device=device) for w in given]
        fused = {m.name: materialise(m, ds, folder, progress=False) for m in methods}
        say(f"{key}: fused {len(ds.pairs)} pairs")
        prescore(ds, methods, fused, metrics, folder / "scores.csv", args.workers)
        say(f"{key}: scored")
        result = compare(ds, folder, methods="ours", weights=given, metrics=metrics,
                         options=RunOptions(data_root=data, device=device, plots=False,
                                            progress=False, costs_dir=scratch / "no_costs",
                                            command="scripts/gpu_train.py"))
        ours = methods[0]
        results[key] = {"title": ds.spec.title, "pairs": len(ds.pairs), "mean": result.mean,
                        "ours": ours.name, "folder": folder,
                        "fused": folder / "fused" / ours.slug, "metrics": metrics,
                        "notes": result.notes}
    return results


# -- 4. package ------------------------------------------------------------------------------
def scores_markdown(run: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    facts = {k: v for k, v in run.items() if k != "history"}  # earlier runs: scores.json
    lines = ["# GPU training run", "", "```json", json.dumps(facts, indent=1), "```", ""]
    for result in results.values():
        lines += [f"## {result['title']} ({result['pairs']} pairs, grey)", "",
                  format_table(result["mean"], result["metrics"], "markdown"), ""]
        lines += [f"- {note}" for note in result["notes"]]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_tar(path: Path, members: list[tuple[Path, str]]) -> Path:
    with tarfile.open(path, "w") as tar:
        for source, name in members:
            tar.add(source, arcname=name)
    return path


def package(out: Path, run: dict[str, Any], results: dict[str, dict[str, Any]]) -> None:
    """Leave at most :data:`MAX_FILES` files of at most :data:`MAX_BYTES` in ``out``."""
    (out / "scores.md").write_text(scores_markdown(run, results))
    (out / "scores.json").write_text(json.dumps({
        "runs": run["history"],
        "datasets": {k: {"title": r["title"], "pairs": r["pairs"], "mean": r["mean"]}
                     for k, r in results.items()}}, indent=1, allow_nan=True) + "\n")
    per_dataset = {}
    for key, result in results.items():
        members = [(p, f"{key}/fused/{p.name}") for p in sorted(result["fused"].glob("*.png"))]
        members += [(result["folder"] / name, f"{key}/{name}")
                    for name in ("scores.csv", "table.md", "table.csv", "results.json")
                    if (result["folder"] / name).is_file()]
        per_dataset[key] = members
    for stale in out.glob("fused*.tar"):
        stale.unlink()
    everything = [m for members in per_dataset.values() for m in members]
    tars = [write_tar(out / "fused.tar", everything)] if everything else []
    if tars and tars[0].stat().st_size > MAX_BYTES:
        tars[0].unlink()
        tars = [write_tar(out / f"fused_{key}.tar", members)
                for key, members in per_dataset.items()]
    files = sorted(p for p in out.iterdir() if p.is_file())
    if len(files) > MAX_FILES and (out / "config.yaml").is_file() and tars:
        # the config is also inside checkpoint.pt: fold it into the first tar
        with tarfile.open(tars[0], "a") as tar:
            tar.add(out / "config.yaml", arcname="config.yaml")
        (out / "config.yaml").unlink()
        files = sorted(p for p in out.iterdir() if p.is_file())
    for path in files:
        size = path.stat().st_size
        flag = "  OVER 16 MiB" if size > MAX_BYTES else ""
        say(f"  {path.name}: {size / 2**20:.2f} MiB{flag}")
    extra = [p.name for p in out.iterdir() if p.is_dir()]
    if len(files) > MAX_FILES or extra:
        say(f"WARNING: {len(files)} files and folders {extra} in {out} (at most {MAX_FILES} "
            f"files come back from the device)")


# -- the run ---------------------------------------------------------------------------------
def main() -> None:
    global STARTED
    args = parse_args()
    STARTED = args.started or STARTED
    hard_deadline = STARTED + args.budget
    train_deadline = hard_deadline - args.eval_reserve
    out = args.out
    scratch = args.scratch or out.with_name(out.name + ".work")
    scratch.mkdir(parents=True, exist_ok=True)
    data = args.data or Path(os.environ.get("CRITNET_DATA", "gpu_data"))
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu")
                          if args.device == "auto" else args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"CPU ({torch.get_num_threads()} threads)"
    say(f"device {name}, torch {torch.__version__}, python {platform.python_version()}, "
        f"budget {args.budget:.0f} s, data {data}")
    if args.resume_from is not None and seed_from(args.resume_from, out):
        say(f"copied the previous run from {args.resume_from} into {out}")
    history: list[dict[str, Any]] = []
    if (out / "scores.json").is_file():
        history = json.loads((out / "scores.json").read_text()).get("runs", [])
    dataset = RoadSceneCrops.from_root(data / "roadscene", "train", crop=120, flips=True)
    say(f"loaded {len(dataset)} training pairs")

    resume = (out / CHECKPOINT_NAME).is_file()
    run: dict[str, Any] = {"device": name, "torch": torch.__version__, "resumed": resume}
    if resume:
        payload = load_checkpoint(out / CHECKPOINT_NAME)
        config = TrainConfig.from_dict(payload["config"])
        run["resumed_at_step"] = payload["step"]
        say(f"resuming {config.name} at step {payload['step']}")
        del payload
    else:
        config, run["probe"] = choose_config(load_config(args.config), dataset, args, device,
                                             scratch, train_deadline)
    if (config.data.crop, config.data.flips) != (dataset.crop, dataset.flips) or \
            config.run.seed != dataset.seed:
        dataset = RoadSceneCrops(dataset.pairs, crop=config.data.crop, flips=config.data.flips,
                                 seed=config.run.seed)
    deadline = train_deadline
    if args.stop_after is not None:
        deadline = min(deadline, time.time() + args.stop_after)
    trainer = Trainer(config, out, device=device, resume=resume, dataset=dataset,
                      deadline=time.monotonic() + (deadline - time.time()), progress=True)
    say(f"training {config.name} from step {trainer.step} of {trainer.total_steps}")
    summary = trainer.run()
    say(f"trained {summary['steps_run']} steps in {summary['seconds']:.0f} s "
        f"({summary['steps_run'] / max(summary['seconds'], 1e-9):.2f} steps/s); step "
        f"{summary['step']} of {summary['total_steps']}"
        + (" (stopped at the deadline)" if summary["stopped_at_deadline"] else ""))
    run.update(config=config.name, epochs=config.schedule.epochs, step=summary["step"],
               total_steps=summary["total_steps"], steps_run=summary["steps_run"],
               train_s=round(summary["seconds"], 1),
               stopped_at_deadline=summary["stopped_at_deadline"],
               precision=config.run.precision)
    del trainer
    if device.type == "cuda":
        torch.cuda.empty_cache()
    blocks = scratch / "blocks"
    blocks.mkdir(exist_ok=True)
    for snapshot in out.glob("block*.safetensors"):
        shutil.move(snapshot, blocks / snapshot.name)
    if not (out / "losses.png").is_file():
        plot_losses(out / "log.csv", out / "losses.png")

    results: dict[str, dict[str, Any]] = {}
    try:
        results = evaluate(out / "weights.safetensors", args, data, scratch, str(device))
    finally:
        run["wall_s"] = round(time.time() - STARTED, 1)
        run["history"] = [*history, {k: v for k, v in run.items() if k != "history"}]
        package(out, run, results)
        say(f"done in {time.time() - STARTED:.0f} s of {args.budget:.0f} s")


if __name__ == "__main__":
    main()
