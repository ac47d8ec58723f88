"""Model size and CPU speed: parameters, MACs and forward time at 640×480 for each preset.

Usage: ``python benchmarks/model_speed.py [--height 480 --width 640 --repeats 3 --threads 2]``

Prints, in one run: each preset's parameter count, multiply–accumulates (Conv2d by hooks, plus
the two C×C×HW matmuls of every channel attention), the median forward time of ``--repeats``
timed runs after one warm-up (``torch.inference_mode``), the achieved GFLOP/s (2 FLOP per MAC),
and the same figures for a plain 64-channel 3×3 convolution (the machine's practical peak), so
the paper preset's efficiency is a ratio measured in the same run. SeAFusion's CPU time on this
machine (1.772 s at 640×480, ``data/peer_fused/TIMINGS.md``) is quoted for the speed target.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from critnet.model import PRESETS, build_model
from critnet.model.attention import ChannelCrossAttention

SEAFUSION_640x480_S = 1.772  # data/peer_fused/TIMINGS.md, same machine type, torch 2.13 CPU


def count_macs(model: nn.Module, height: int, width: int) -> int:
    """Multiply–accumulates of one forward pass at ``height×width`` (batch 1)."""
    total = 0
    pixels = height * width

    def conv_hook(module: nn.Conv2d, _inputs, output) -> None:
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total += output.numel() * k

    def attention_hook(module: ChannelCrossAttention, inputs, _output) -> None:
        nonlocal total
        channels = inputs[0].shape[1]
        total += 2 * channels * channels * pixels  # Q·Kᵀ and attn·V

    handles = [m.register_forward_hook(conv_hook) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    handles += [m.register_forward_hook(attention_hook) for m in model.modules()
                if isinstance(m, ChannelCrossAttention)]
    with torch.inference_mode():
        model(torch.rand(1, 1, height, width), torch.rand(1, 1, height, width))
    for handle in handles:
        handle.remove()
    return total


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    h, w = args.height, args.width

    conv = nn.Conv2d(64, 64, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x64 = torch.rand(1, 64, h, w).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        conv_s = median_time(lambda: conv(x64), args.repeats)
    conv_gflops = 2 * 64 * 64 * 9 * h * w / conv_s / 1e9
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {w}x{h}")
    print(f"plain 64-ch 3x3 conv (channels-last): {conv_s * 1e3:.1f} ms, {conv_gflops:.1f} "
          "GFLOP/s (peak ref)")
    print()
    print("| preset | params | GMACs | forward s NCHW | forward s channels-last (as `critnet "
          "fuse`) | GFLOP/s | % of conv peak | vs SeAFusion 1.772 s |")
    print("|---|---|---|---|---|---|---|---|")
    for name in PRESETS:
        torch.manual_seed(0)
        model = build_model(name).eval()
        params = sum(p.numel() for p in model.parameters())
        macs = count_macs(model, h, w)
        ir, vis = torch.rand(1, 1, h, w), torch.rand(1, 1, h, w)
        with torch.inference_mode():
            nchw_s = median_time(lambda m=model, a=ir, b=vis: m(a, b), args.repeats)
            model.to(memory_format=torch.channels_last)
            seconds = median_time(lambda m=model, a=ir, b=vis: m(a, b), args.repeats)
        gflops = 2 * macs / seconds / 1e9
        print(f"| {name} | {params:,} | {macs / 1e9:.1f} | {nchw_s:.3f} | {seconds:.3f} "
              f"| {gflops:.1f} | {100 * gflops / conv_gflops:.0f}% "
              f"| {SEAFUSION_640x480_S / seconds:.2f}× |")

if __name__ == "__main__":
    main()
