"""Tiled inference on onnxruntime (three graphs, ``critnet.pipeline.tiled_runtime``) against torch
tiling (``critnet.model.tiled``) on large frames: seconds per frame and max |Δ|.

Usage: ``python benchmarks/tiled_onnx_speed.py [--sizes 1024,2048] [--tile 256] [--weights lite]
[--repeat 1] [--threads 2]``

Both run the same 256-px tiles (what ``--tile auto`` picks for frames too large to fuse whole)
on one random pair per size, in this process, after one warm-up call at 512² (the tiling graphs
come from the graph cache, ``$CRITNET_CACHE``); the best of ``--repeat`` runs is shown with the
machine's 1-minute load average.
"""

from __future__ import annotations

import argparse
import os
import time

import torch


def best_seconds(run, repeat: int) -> tuple[float, torch.Tensor]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1024,2048")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--weights", default="lite")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import critnet
    from critnet.model.tiled import tiled_forward

    auto = critnet.load_model(args.weights, backend="auto")
    if hasattr(auto, "torch_backend"):  # bundled weights load as their shipped graph (issue 31)
        auto = auto.torch_backend()
    auto.threads = args.threads
    model = auto.torch_model
    warm = torch.rand(1, 1, 512, 512)
    auto.tiled_forward(warm, warm, args.tile)
    print("| size | tile | torch tiled (s) | onnxruntime tiled (s) | speed-up | max abs diff | "
          "load |")
    print("|---|---:|---:|---:|---:|---:|---:|", flush=True)
    for size in (int(s) for s in args.sizes.split(",")):
        generator = torch.Generator().manual_seed(size)
        ir, vis = (torch.rand(1, 1, size, size, generator=generator) for _ in range(2))
        with torch.inference_mode():
            torch_s, expected = best_seconds(
                lambda a=ir, b=vis: tiled_forward(model, a, b, args.tile), args.repeat)
        ort_s, got = best_seconds(lambda a=ir, b=vis: auto.tiled_forward(a, b, args.tile),
                                  args.repeat)
        diff = (got - expected).abs().max().item()
        print(f"| {size}² | {args.tile} | {torch_s:.1f} | {ort_s:.1f} | {torch_s / ort_s:.2f}× | "
              f"{diff:.1e} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
