"""How close a training step comes to the machine's convolution speed (issue 30).

Usage: ``python benchmarks/train_roofline.py [--preset paper --threads 2 --steps 4
--json train_roofline.json]``

1. The roofline: a plain 64-channel 3×3 convolution (batch 8, 120×120, the paper's crop), its
   forward and both backward products (input and weight gradients), in both memory layouts;
   GFLOP/s = 3 · 2 · MACs / seconds (median of 5).
2. Each phase kind's training step (M1, S, M2) on a throw-away trainer in each layout:
   its FLOPs counted by ``torch.utils.flop_counter.FlopCounterMode`` over one step
   (convolutions, matrix products, both directions), its time (``phase_rates``), the achieved
   GFLOP/s and the fraction of the roofline.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from critnet.train.speed import phase_rates, schedule_mean_s, speed_trainer


def conv_roofline(layout: torch.memory_format, batch: int = 8, size: int = 120,
                  channels: int = 64, repeats: int = 5) -> float:
    """GFLOP/s of one 3×3 ``channels``→``channels`` convolution's forward + backward."""
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(memory_format=layout)
    x = torch.randn(batch, channels, size, size).contiguous(memory_format=layout)
    x.requires_grad_(True)
    macs = batch * size * size * channels * channels * 9
    times = []
    for _ in range(repeats + 1):
        tick = time.perf_counter()
        conv(x).sum().backward()
        times.append(time.perf_counter() - tick)
    return 3 * 2 * macs / statistics.median(times[1:]) / 1e9


def step_flops(trainer, kind: str) -> float:
    """FLOPs of one training step of phase ``kind`` (the trainer is moved to that block)."""
    block = next(b for b in trainer.blocks if b.kind == kind)
    trainer.step = block.start * trainer.steps_per_epoch
    with FlopCounterMode(display=False) as counter:
        trainer.train_step()
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--json", type=Path, default=Path("train_roofline.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    report = {"preset": args.preset, "threads": args.threads, "torch": torch.__version__,
              "cpu": platform.processor() or platform.machine(), "layouts": {}}
    print(f"# Training step vs the convolution roofline: preset {args.preset}, batch 8, 120×120, "
          f"{args.threads} threads\n")
    print("| layout | 64→64 3×3 conv fwd+bwd GFLOP/s | phase | GFLOP per step | s per step | "
          "GFLOP/s | of roofline |")
    print("|---|---|---|---|---|---|---|")
    for name, layout in (("contiguous", torch.contiguous_format),
                         ("channels_last", torch.channels_last)):
        roof = conv_roofline(layout)
        with tempfile.TemporaryDirectory() as scratch:
            trainer = speed_trainer(scratch, preset=args.preset, steps=args.warmup + args.steps,
                                    memory_format=name, threads=args.threads)
            flops = {kind: step_flops(trainer, kind) for kind in ("M1", "S", "M2")}
            rates = phase_rates(trainer, warmup=args.warmup, steps=args.steps)
        rows = {}
        for kind, rate in rates.items():
            seconds = 1 / rate.steps_per_s
            achieved = flops[kind] / seconds / 1e9
            rows[kind] = {"gflop": flops[kind] / 1e9, "s": seconds, "gflops": achieved,
                          "of_roofline": achieved / roof}
            print(f"| {name} | {roof:.0f} | {kind} | {flops[kind] / 1e9:.0f} | {seconds:.2f} | "
                  f"{achieved:.0f} | {achieved / roof:.0%} |")
        mean = schedule_mean_s({k: r.steps_per_s for k, r in rates.items()})
        print(f"| {name} | | schedule mean | | {mean:.2f} | | |")
        report["layouts"][name] = {"roofline_gflops": roof, "phases": rows,
                                   "schedule_mean_s": mean}
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
