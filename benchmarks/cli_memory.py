"""Peak memory of ``critnet fuse`` on one large colour pair, end to end and step by step.

Usage: ``python benchmarks/cli_memory.py [--size 4096] [--weights lite] [--backend auto]
[--steps-only | --cli-only] [--no-network-step] [--keep DIR]``

- The pair: the RoadScene pair ``FLIR_09525`` (from ``$CRITNET_DATA``) upscaled bicubically to
  SIZE×SIZE, IR grey and visible RGB, written as PNG into a temporary folder (``--keep DIR``
  reuses / keeps it).
- ``cli``: ``critnet fuse IR VIS -o out.png`` in a child process (``--tile auto``, as a user
  runs it); its peak resident set (``ru_maxrss`` from ``os.wait4``) and wall time.
- ``steps``: a child process runs the CLI's steps one at a time and prints, for each, the peak
  resident set reached during it (``VmHWM``, reset before each step through
  ``/proc/self/clear_refs``) and what stays resident after it: reading the IR and the visible
  image, fusing (batching, colour conversion, the network, back to RGB) and writing. The
  network step alone is measured too, on the visible luma, so the rest of ``fuse`` is the
  colour conversion's cost.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = r"""
import sys, time
import numpy as np, torch
import critnet
from critnet.io import read_image, read_ir, write_image
from critnet.io.kinds import to_batch
from critnet.pipeline.colour import rgb_to_ycbcr
from critnet.pipeline.fusion import fuse_tensors
from critnet.pipeline.single import fuse_arrays

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 2**20  # kB -> GB
def reset():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
def step(name, run):
    reset()
    start = time.perf_counter()
    result = run()
    print(f"| {name} | {status('VmHWM'):.2f} | {status('VmRSS'):.2f} | "
          f"{time.perf_counter() - start:.1f} |", flush=True)
    return result

ir_path, vis_path, out_path, weights, backend = sys.argv[1:6]
print("| step | peak RSS during it (GB) | RSS after it (GB) | seconds |")
print("|---|---:|---:|---:|")
model = step("load weights", lambda: critnet.load_model(weights, backend=backend))
ir = step("read IR", lambda: read_ir(ir_path)[0])
vis = step("read visible", lambda: read_image(vis_path)[0])
if sys.argv[6] == "network":
    def network():
        y = rgb_to_ycbcr(to_batch(vis))[:, :1].copy()  # numpy (critnet.io.kinds.to_batch)
        return fuse_tensors(model, torch.from_numpy(to_batch(ir)), torch.from_numpy(y))
    step("luma + network only", network)
fused = step("fuse (colour + network)", lambda: fuse_arrays(model, ir, vis))
step("write PNG", lambda: write_image(out_path, fused))
"""


def make_pair(folder: Path, size: int) -> tuple[Path, Path]:
    """The upscaled RoadScene pair in ``folder`` (made once)."""
    from PIL import Image

    from critnet.io.paths import data_root

    ir, vis = folder / f"ir_{size}.png", folder / f"vis_{size}.png"
    if not (ir.exists() and vis.exists()):
        source = data_root() / "roadscene"
        for role, target, mode in (("ir", ir, "L"), ("vi", vis, "RGB")):
            with Image.open(source / role / "FLIR_09525.jpg") as image:
                big = image.convert(mode).resize((size, size), Image.Resampling.BICUBIC)
            big.save(target)
    return ir, vis


def run_cli(ir: Path, vis: Path, out: Path, weights: str, backend: str) -> tuple[float, float]:
    """Peak RSS (GB) and wall seconds of ``critnet fuse`` in a child process."""
    command = [sys.executable, "-c", "from critnet.cli import main; main()", "fuse", str(ir),
               str(vis), "-o", str(out), "--overwrite", "--weights", weights, "--backend",
               backend, "--device", "cpu"]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, code, usage = os.wait4(child.pid, 0)
    if code != 0:
        raise SystemExit(f"critnet fuse failed (status {code})")
    return usage.ru_maxrss / 2**20, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--weights", default="lite")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--steps-only", action="store_true")
    parser.add_argument("--cli-only", action="store_true")
    parser.add_argument("--no-network-step", action="store_true",
                        help="skip the separate network-only step (saves one network run)")
    parser.add_argument("--keep", type=Path, help="folder for the pair and outputs (kept)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="critnet-memory-"))
    folder.mkdir(parents=True, exist_ok=True)
    ir, vis = make_pair(folder, args.size)
    print(f"pair: {args.size}×{args.size} grey IR + RGB visible PNG, weights {args.weights}, "
          f"backend {args.backend}\n", flush=True)
    if not args.steps_only:
        peak, seconds = run_cli(ir, vis, folder / "cli.png", args.weights, args.backend)
        print(f"critnet fuse: peak RSS {peak:.2f} GB, {seconds:.1f} s wall\n", flush=True)
    if args.cli_only:
        return
    subprocess.run([sys.executable, "-c", STEPS, str(ir), str(vis), str(folder / "steps.png"),
                    args.weights, args.backend,
                    "skip" if args.no_network_step else "network"], check=True)


if __name__ == "__main__":
    main()
