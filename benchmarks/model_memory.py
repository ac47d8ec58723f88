"""Peak CPU memory of one fused frame, per preset and image size (what `critnet fuse` runs:
channels-last, ``torch.inference_mode``, batch 1).

Usage: ``python benchmarks/model_memory.py [--sizes 640x480,1024x1024] [--presets lite,paper]``

Each (preset, size) runs in a fresh Python process, so its peak resident set size
(``ru_maxrss``) is that one forward pass plus the interpreter, torch and the model (printed as
the ``baseline`` row: the same process without the forward). Memory grows linearly with the pixel
count; use the table to pick a preset for large frames.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, time, torch
from critnet.model import build_model
preset, height, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = build_model(preset).eval().to(memory_format=torch.channels_last)
seconds = 0.0
if height:
    ir, vis = torch.rand(1, 1, height, width), torch.rand(1, 1, height, width)
    start = time.perf_counter()
    with torch.inference_mode():
        model(ir, vis)
    seconds = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_gb": peak_kb / 2**20, "seconds": seconds}))
"""


def measure(preset: str, height: int, width: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, preset, str(height), str(width)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x480,1024x1024,2048x2048")
    parser.add_argument("--presets", default="lite,paper")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    print("| preset | size (W×H) | megapixels | peak RSS (GB) | forward (s) |")
    print("|---|---|---:|---:|---:|")
    base = measure("lite", 0, 0)
    print(f"| baseline | (no forward) | 0 | {base['peak_gb']:.2f} | – |")
    for preset in args.presets.split(","):
        for width, height in sizes:
            row = measure(preset, height, width)
            print(f"| {preset} | {width}×{height} | {width * height / 1e6:.2f} | "
                  f"{row['peak_gb']:.2f} | {row['seconds']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
