"""Training steps per second with the pairs preloaded vs streamed from disk (issue 21).

Usage: ``python benchmarks/train_data.py [--pairs 40 --steps 20 --warmup 3 --preset lite
--batch 8 --crop 120 --workers 0,1,2 --threads 2 --json train_data.json]``

Writes ``--pairs`` RoadScene training pairs at full size (PNG IR, colour JPEG visible, as a user's
folder would hold them) to a temporary folder, then for each loading mode trains a fresh
trainer on that folder (``data.loading: preload`` on the device table, or ``stream`` with each
``--workers`` count of DataLoader processes) and times ``--steps`` phaseM stage-1 steps after
``--warmup`` untimed ones (the streamed reader's start-up is in the warm-up). The time to build
the data (reading every pair once) is reported separately. Needs the shared data
(``CRITNET_DATA``).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from critnet.io.paths import data_root
from critnet.train import TrainConfig, Trainer
from critnet.train.data.roadscene import roadscene_split


def write_pairs(root: Path, count: int) -> tuple[Path, Path]:
    source = data_root() / "roadscene"
    ir_dir, vis_dir = root / "ir", root / "vis"
    ir_dir.mkdir(parents=True)
    vis_dir.mkdir()
    for stem in roadscene_split(source, "train")[:count]:
        with Image.open(source / "ir" / f"{stem}.jpg") as image:
            image.save(ir_dir / f"{stem}.png")
        with Image.open(source / "vi" / f"{stem}.jpg") as image:
            image.save(vis_dir / f"{stem}.jpg", quality=95)
    return ir_dir, vis_dir


def measure(config: dict, out: Path, warmup: int, steps: int) -> dict[str, float]:
    tick = time.perf_counter()
    trainer = Trainer(TrainConfig.from_dict(config), out, progress=False)
    build = time.perf_counter() - tick
    trainer.model.train()
    for _ in range(warmup):
        trainer.train_step()
    tick = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    seconds = time.perf_counter() - tick
    if hasattr(trainer.batches, "close"):
        trainer.batches.close()
    return {"build_s": build, "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--preset", default="lite")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=120)
    parser.add_argument("--workers", default="0,1,2")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=Path("train_data.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        ir_dir, vis_dir = write_pairs(Path(tmp) / "pairs", args.pairs)
        modes = [("preload", 0)] + [("stream", int(w)) for w in args.workers.split(",")]
        for loading, workers in modes:
            config = {"model": {"preset": args.preset},
                      "data": {"crop": args.crop, "loading": loading, "workers": workers,
                               "sources": [{"ir": str(ir_dir), "vis": str(vis_dir)}]},
                      "schedule": {"epochs": 100, "phase_len": 100, "batch_size": args.batch},
                      "run": {"device": "cpu", "threads": args.threads}}
            name = loading if loading == "preload" else f"stream, {workers} workers"
            results[name] = measure(config, Path(tmp) / name.replace(", ", "_"), args.warmup,
                                    args.steps)
    print(f"{args.pairs} RoadScene pairs at full size, {args.preset}, batch {args.batch}, crop "
          f"{args.crop}, phaseM stage 1, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}\n")
    print("| loading | data build (s) | steps/s | s/step |\n|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['build_s']:.1f} | {r['steps_per_s']:.2f} | "
              f"{1 / r['steps_per_s']:.3f} |")
    args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                     "results": results}, indent=1))


if __name__ == "__main__":
    main()
