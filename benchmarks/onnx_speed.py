"""onnxruntime vs torch on the CPU: seconds per fused pair at 640×480, same run, same threads.

Usage: ``python benchmarks/onnx_speed.py [--weights lite --height 480 --width 640 --repeats 7
--threads 2]`` (needs ``pip install 'critnet[onnx]'``).

Rows: torch NCHW eager, torch channels-last (what ``critnet fuse`` runs today, the reference of
the ratio), and onnxruntime at each graph-optimisation level, with and without intra-op
spin-waiting, all on the graph ``critnet export`` writes (TorchScript exporter). Rounds are
interleaved (each round times every row once), so load from other processes hits all rows
alike; the table gives the median of ``--repeats`` rounds after one warm-up, and each row's
max |Δ| against torch.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
import torch

import critnet
from critnet.backends import OnnxRuntimeBackend
from critnet.export import onnx_bytes

LEVELS = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
}


def session(graph: bytes, threads: int, level: str, spinning: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = LEVELS[level]
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="weights name or path [bundled default]")
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    channels_last = critnet.load_model(args.weights)  # as `critnet fuse` loads it on the CPU
    nchw = critnet.load_model(args.weights).to(memory_format=torch.contiguous_format)
    generator = torch.Generator().manual_seed(0)
    ir, vis = torch.rand(2, 1, 1, args.height, args.width, generator=generator)
    feeds = {"ir": ir.numpy(), "vis": vis.numpy()}
    graph = onnx_bytes(nchw)

    shipped = OnnxRuntimeBackend(graph, args.threads)
    rows: dict[str, Callable[[], np.ndarray]] = {
        "torch NCHW eager": lambda: nchw(ir, vis).numpy(),
        "torch channels-last (critnet fuse today)": lambda: channels_last(ir, vis).numpy(),
        "onnxruntime as shipped (OnnxRuntimeBackend)": lambda: shipped(ir, vis).numpy(),
    }
    for level in LEVELS:
        for spinning in (True, False):
            s = session(graph, args.threads, level, spinning)
            rows[f"onnxruntime level={level} spinning={'on' if spinning else 'off'}"] = \
                lambda s=s: s.run(None, feeds)[0]

    with torch.inference_mode():
        reference = nchw(ir, vis).numpy()
        times: dict[str, list[float]] = {name: [] for name in rows}
        errors = {name: float(np.abs(run() - reference).max()) for name, run in rows.items()}
        for _ in range(args.repeats):
            for name, run in rows.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)

    base = statistics.median(times["torch channels-last (critnet fuse today)"])
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, {args.threads} threads, "
          f"{args.width}x{args.height}, median of {args.repeats} interleaved rounds")
    print()
    print("| run | s per pair | speed-up vs channels-last | max abs diff vs torch |")
    print("|---|---|---|---|")
    for name, values in times.items():
        seconds = statistics.median(values)
        print(f"| {name} | {seconds:.3f} | {base / seconds:.2f}× | {errors[name]:.1e} |")


if __name__ == "__main__":
    main()
