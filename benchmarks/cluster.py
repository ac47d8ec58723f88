"""Pairs per second of a folder run: the local run (``fuse_folder``) against Ray Data
(``fuse_folder_ray``) with 1 and 2 workers, for ``tiny`` and ``lite``; what Ray adds per pair and
at start; peak memory.

Usage: ``python benchmarks/cluster.py [--pairs 24] [--size 640x480] [--weights tiny lite]
[--out FILE.md]``

- Inputs: RoadScene pairs (``$CRITNET_DATA/roadscene``, IR grey and visible colour JPEG) resized
  to ``--size`` and saved as JPEG in a temporary folder; random images when the data is absent.
- Each case is one child process (the import of critnet and torch not timed; the model load,
  Ray's start and shutdown and the workers' model loads timed), outputs written to a fresh
  folder, backend ``auto`` (onnxruntime). Cases: ``local`` (one process, 2 threads, reading
  ahead and writing behind in threads), ``ray x1`` (one worker with 2 CPUs / 2 threads),
  ``ray x2`` (two workers, 1 CPU / thread each), batch size 1.
- Steady seconds per pair: local, (run − model load) / pairs; Ray, the time between the first
  and the last pair's result coming back, / (pairs − 1). Fixed = end-to-end time − pairs ×
  steady (Ray: its start, actors and their model loads, the first pair's wait, the shutdown).
  Ray's overhead per pair = steady(ray x1) − steady(local), both on 2 threads.
- The onnxruntime graph is exported (cached) before the timed runs.
- Peak memory: the largest sum of the resident set sizes of the child and all its descendants
  (Ray's GCS, raylet and workers are children of the driver), sampled every 0.1 s; shared pages
  are counted once per process, so it over-counts.
- The machine's 1-minute load average is printed: other processes on these cores (a training
  run) slow every number down; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CASES = {"local": (None, None), "ray x1": (1, 2), "ray x2": (2, 1)}  # workers, cpus each


def make_inputs(folder: Path, count: int, size: tuple[int, int]) -> tuple[Path, Path]:
    import numpy as np
    from PIL import Image

    from critnet.io.paths import data_root

    source = data_root() / "roadscene"
    stems = sorted(p.stem for p in (source / "vi").glob("*.jpg"))[:count]
    rng = np.random.default_rng(0)
    ir_dir, vis_dir = folder / "ir", folder / "vi"
    for target in (ir_dir, vis_dir):
        target.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        stem = f"{i:04d}"
        if i < len(stems):
            with Image.open(source / "ir" / f"{stems[i]}.jpg") as ir, \
                    Image.open(source / "vi" / f"{stems[i]}.jpg") as vis:
                ir_image = ir.convert("L").resize(size)
                vis_image = vis.convert("RGB").resize(size)
        else:
            ir_image = Image.fromarray(rng.integers(0, 256, size[::-1], dtype=np.uint8))
            vis_image = Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8))
        ir_image.save(ir_dir / f"{stem}.jpg", quality=95)
        vis_image.save(vis_dir / f"{stem}.jpg", quality=95)
    return ir_dir, vis_dir


def run_one(case: str, weights: str, ir: str, vis: str, out: str) -> None:
    """Child process: one run; prints its timings as JSON."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from critnet.pipeline.cluster import fuse_folder_ray
    from critnet.pipeline.folder import fuse_folder
    from critnet.pipeline.loading import load_model

    workers, cpus = CASES[case]
    start = time.perf_counter()
    if workers is None:
        model = load_model(weights, backend="auto")
        loaded = time.perf_counter()
        report = fuse_folder(ir, vis, out, model)
        end = time.perf_counter()
        result = {"fixed": loaded - start, "per_pair": (end - loaded) / len(report.fused)}
    else:
        import logging

        import ray

        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR,
                 log_to_driver=False)
        stamps: list[float] = []
        report = fuse_folder_ray(ir, vis, out, weights=weights, workers=workers,
                                 cpus_per_worker=cpus,
                                 progress=lambda _n: stamps.append(time.perf_counter()))
        ray.shutdown()  # timed: part of a run's cost
        end = time.perf_counter()
        per_pair = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
        # fixed: Ray's start, the actors' model loads, the first pair's wait, the shutdown
        result = {"fixed": (end - start) - len(stamps) * per_pair, "per_pair": per_pair}
    print(json.dumps({**result, "seconds": end - start, "fused": len(report.fused)}))


def warm_graph_cache(weights: str) -> None:
    """Export the onnxruntime graph once, so no timed run pays for it."""
    import numpy as np

    import critnet

    model = critnet.load_model(weights, backend="auto")
    critnet.fuse(np.zeros((32, 32), np.uint8), np.zeros((32, 32), np.uint8), model)


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def measure(case: str, weights: str, ir: Path, vis: Path, out: Path) -> dict:
    child = subprocess.Popen([sys.executable, __file__, "--one", case, weights, str(ir),
                              str(vis), str(out)], stdout=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        while child.poll() is None:
            peak[0] = max(peak[0], _tree_rss(child.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = child.communicate()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"{case} {weights} failed ({child.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "peak_mb": peak[0] / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--weights", nargs="+", default=["tiny", "lite"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.one:
        run_one(*args.one)
        return
    size = tuple(int(v) for v in args.size.split("x"))
    lines = [f"{args.pairs} pairs at {args.size}; load average at start "
             f"{os.getloadavg()[0]:.1f}", "",
             "| weights | run | pairs/s end to end | s/pair steady | pairs/s steady | "
             "fixed s | peak MB |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    steady: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="critnet-cluster-bench-") as tmp:
        ir, vis = make_inputs(Path(tmp, "in"), args.pairs, size)
        for weights in args.weights:
            warm_graph_cache(weights)
            for case in CASES:
                run = measure(case, weights, ir, vis,
                              Path(tmp, f"out-{weights}-{case.replace(' ', '')}"))
                assert run["fused"] == args.pairs, run
                steady[weights, case] = run["per_pair"]
                lines.append(f"| {weights} | {case} | {args.pairs / run['seconds']:.2f} | "
                             f"{run['per_pair']:.3f} | {1 / run['per_pair']:.2f} | "
                             f"{run['fixed']:.1f} | {run['peak_mb']:.0f} |")
                print(lines[-1], f"(load {os.getloadavg()[0]:.1f})", flush=True)
    lines.append("")
    for weights in args.weights:
        local, one, two = (steady[weights, case] for case in CASES)
        lines.append(f"{weights}: Ray adds {one - local:+.3f} s per pair (ray x1 - local, "
                     f"steady); steady pairs/s ray x2 / local = {local / two:.2f}, "
                     f"ray x1 / local = {local / one:.2f}")
    lines.append(f"load average at end {os.getloadavg()[0]:.1f}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
