"""Training speed: steps per second of each phase kind (M1, S, M2) on the available device.

Usage: ``python benchmarks/train_speed.py [--preset paper --batch 8 --crop 120 --warmup 3
--steps 10 --precision fp32 --device auto --json train_speed.json]``

Builds a trainer on synthetic pairs of RoadScene's typical size (330×500; the speed does not
depend on the content), runs ``--warmup`` untimed and ``--steps`` timed steps from the start of
the first block of each phase kind (:func:`critnet.train.speed.phase_rates`, the device
synchronised before and after), prints a Markdown table with the time the paper's schedule
(1000 epochs in blocks of 200, 22 steps per epoch) would take at these rates, and writes the
figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import torch

from critnet.train.budget import schedule_seconds
from critnet.train.speed import phase_rates, schedule_mean_s, speed_trainer

PAPER_EPOCHS, PAPER_BLOCKS, PAPER_STEPS_PER_EPOCH = 1000, 5, 22
PAIRS = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=120)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--memory-format", choices=("auto", "channels_last", "contiguous"),
                        default="auto")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=Path("train_speed.json"))
    args = parser.parse_args()

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" \
        else args.device
    with tempfile.TemporaryDirectory() as scratch:
        trainer = speed_trainer(scratch, preset=args.preset, batch=args.batch, crop=args.crop,
                                steps=args.warmup + args.steps, precision=args.precision,
                                memory_format=args.memory_format, threads=args.threads,
                                device=device, pairs=PAIRS)
        rates = phase_rates(trainer, warmup=args.warmup, steps=args.steps)
    per_s = {kind: rate.steps_per_s for kind, rate in rates.items()}
    paper_s = schedule_seconds(PAPER_EPOCHS, PAPER_BLOCKS, PAPER_STEPS_PER_EPOCH, per_s)
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else \
        f"CPU ({torch.get_num_threads()} threads, {platform.processor() or platform.machine()})"
    print(f"# Training speed: preset {args.preset}, batch {args.batch}, crop {args.crop}, "
          f"{args.precision}, {name}\n")
    print("| phase | steps/s | ms/step | timed steps |")
    print("|---|---|---|---|")
    for kind, rate in rates.items():
        print(f"| {kind} | {rate.steps_per_s:.2f} | {1000 / rate.steps_per_s:.1f} | "
              f"{rate.steps} |")
    mean = schedule_mean_s(per_s)
    print(f"\nMean step over the five-block schedule (M1 + 2·S + 2·M2) / 5: {mean:.2f} s.")
    print(f"\nThe paper schedule ({PAPER_EPOCHS} epochs, "
          f"{PAPER_EPOCHS * PAPER_STEPS_PER_EPOCH:,} steps) at these rates: "
          f"{paper_s / 60:.1f} min.")
    report = {"preset": args.preset, "batch": args.batch, "crop": args.crop,
              "precision": args.precision, "memory_format": args.memory_format,
              "device": name, "torch": torch.__version__, "warmup": args.warmup,
              "rates": {k: {"steps": r.steps, "seconds": r.seconds,
                            "steps_per_s": r.steps_per_s} for k, r in rates.items()},
              "schedule_mean_step_s": mean, "paper_schedule_s": paper_s}
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
