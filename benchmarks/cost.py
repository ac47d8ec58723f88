"""C-RITNet's cost row for the comparison tables: parameters, forward time per 640×480 pair and
peak RAM, written to ``docs/results/costs_measured.csv`` (read by
:mod:`critnet.evaluation.bench.costs`).

Usage: ``python benchmarks/cost.py [--weights lite --repeats 7 --threads 2 --out PATH]``

- Forward: the bundled weights on random 640×480 IR and VIS tensors, channels-last as ``critnet
  fuse`` runs it, under ``torch.inference_mode``; 1 warm-up, then the median of ``--repeats``.
- Peak RAM: the peak resident set (``ru_maxrss``) of a fresh child process that loads the weights
  and runs one forward pass, so the parent's own allocations do not count.
- Load: the 1/5/15-min load average at the start and the end is recorded with the row.
- SeAFusion: its code is not available here, so it cannot run in the same process. The ratio uses
  SeAFusion's forward time from ``data/peer_fused/TIMINGS.md`` (``--seafusion-ms``; default the
  loaded 2026-11-27 run, 3.580 s, 1-min load 2.2–4.0, the closest to a shared machine's load).
  A ratio across two runs is only as good as the loads match: rerun on a quiet machine with
  ``--seafusion-ms 1772`` (the idle 2026-11-25 run) for the reference number.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from critnet.evaluation.bench.costs import COLUMNS
from critnet.io.atomic import atomic_path
from critnet.weights import load_weights

HEIGHT, WIDTH = 480, 640
SEAFUSION_LOADED_MS = 3580.0  # TIMINGS.md "Added 2026-11-27", run 1: mean of 3.621 and 3.538 s


def build(weights: str) -> torch.nn.Module:
    """The model, eval mode, channels-last (as ``critnet fuse``)."""
    return load_weights(weights).eval().to(memory_format=torch.channels_last)


def forward_ms(model: torch.nn.Module, repeats: int) -> float:
    """Median forward time of one 640×480 pair in milliseconds, after one warm-up."""
    ir, vis = torch.rand(1, 1, HEIGHT, WIDTH), torch.rand(1, 1, HEIGHT, WIDTH)
    times = []
    with torch.inference_mode():
        model(ir, vis)
        for _ in range(repeats):
            start = time.perf_counter()
            model(ir, vis)
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def peak_rss_mb(weights: str, threads: int) -> float:
    """Peak resident memory (MB) of a fresh process loading ``weights`` and fusing one pair."""
    child = (f"import resource, torch\n"
             f"torch.set_num_threads({threads})\n"
             f"from critnet.weights import load_weights\n"
             f"m = load_weights({weights!r}).eval().to(memory_format=torch.channels_last)\n"
             f"with torch.inference_mode():\n"
             f"    m(torch.rand(1, 1, {HEIGHT}, {WIDTH}), torch.rand(1, 1, {HEIGHT}, {WIDTH}))\n"
             f"print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", child], check=True, capture_output=True,
                          text=True)
    return int(done.stdout.split()[-1]) / 1024  # Linux ru_maxrss is in KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="lite")
    parser.add_argument("--label", default="C-RITNet", help="the comparison row it costs")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seafusion-ms", type=float, default=SEAFUSION_LOADED_MS)
    parser.add_argument("--out", default="docs/results/costs_measured.csv")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    model = build(args.weights)
    params = sum(p.numel() for p in model.parameters())
    ms = forward_ms(model, args.repeats)
    ram = peak_rss_mb(args.weights, args.threads)
    load_end = os.getloadavg()
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    loads = "/".join(f"{v:.2f}" for v in load_start) + " -> " + "/".join(
        f"{v:.2f}" for v in load_end)
    row = {"method": args.label, "params": params, "ms_640x480": f"{ms:.1f}",
           "seafusion_ms_same_run": f"{args.seafusion_ms:g}", "peak_ram_mb": f"{ram:.0f}",
           "run": f"{stamp} UTC busy machine (1/5/15-min load {loads}); lead reruns quiet",
           "source": f"benchmarks/cost.py --weights {args.weights} --repeats {args.repeats} "
                     f"--threads {args.threads} (torch {torch.__version__}); SeAFusion "
                     f"{args.seafusion_ms:g} ms from data/peer_fused/TIMINGS.md (its code is "
                     "not here; not the same run)"}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerow(row)
    with atomic_path(Path(args.out)) as tmp:
        tmp.write_text(buffer.getvalue())
    print(buffer.getvalue(), end="")
    print(f"ratio to SeAFusion: {ms / args.seafusion_ms:.3f}; parent ru_maxrss "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
