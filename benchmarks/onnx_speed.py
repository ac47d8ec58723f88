"""onnxruntime vs torch on the CPU: seconds per fused pair at 640×480, same run, same threads.

Usage: ``python benchmarks/onnx_speed.py [--weights lite --height 480 --width 640 --repeats 7
--threads 2 --clock wall]`` (needs ``pip install 'critnet[onnx]'``).

Rows: torch NCHW eager, torch channels-last (what ``critnet fuse`` runs by default, the
reference of the ratio), onnxruntime as ``--backend onnxruntime`` ships it (the rewritten graph
of :mod:`critnet.pipeline.export_form`, ``ORT_ENABLE_ALL``, no intra-op spin-waiting), the graph
traced
from the model as written (``onnx_bytes(rewrite=False)``, what critnet shipped before), and the
shipped graph with spin-waiting and at the lower graph-optimisation levels. Rounds are
interleaved (each round times every row once), so load from other processes hits all rows
alike; the table gives the median of ``--repeats`` rounds after one warm-up, each row's max |Δ|
against torch, and the load average before and after.

``--clock cpu`` (with ``--threads 1``) times the CPU seconds of the calling thread instead of
wall seconds: on a machine shared with other jobs it measures the work, not the waiting.
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
from critnet.pipeline.backends import OnnxRuntimeBackend
from critnet.pipeline.export import onnx_bytes

LEVELS = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
}


REFERENCE = "torch channels-last (critnet fuse default)"


def _load_average() -> str:
    """The 1-minute load average, or ``n/a`` where /proc is absent."""
    try:
        with open("/proc/loadavg") as file:
            return file.read().split()[0]
    except OSError:
        return "n/a"


def session(graph: bytes, threads: int, level: str, spinning: bool = False) -> ort.InferenceSession:
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
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall seconds, or CPU seconds of this thread (needs --threads 1)")
    args = parser.parse_args()
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu counts this thread only: use it with --threads 1")
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)

    channels_last = critnet.load_model(args.weights)  # as `critnet fuse` loads it on the CPU
    nchw = critnet.load_model(args.weights).to(memory_format=torch.contiguous_format)
    generator = torch.Generator().manual_seed(0)
    ir, vis = torch.rand(2, 1, 1, args.height, args.width, generator=generator)
    feeds = {"ir": ir.numpy(), "vis": vis.numpy()}
    graph = onnx_bytes(nchw)
    sessions = {
        "onnxruntime, graph as written (rewrite=False), level=all":
            session(onnx_bytes(nchw, rewrite=False), args.threads, "all"),
        "onnxruntime shipped graph, level=all spinning=on":
            session(graph, args.threads, "all", spinning=True),
        "onnxruntime shipped graph, level=extended": session(graph, args.threads, "extended"),
        "onnxruntime shipped graph, level=basic": session(graph, args.threads, "basic"),
    }

    shipped = OnnxRuntimeBackend(graph, args.threads)
    rows: dict[str, Callable[[], np.ndarray]] = {
        "torch NCHW eager": lambda: nchw(ir, vis).numpy(),
        REFERENCE: lambda: channels_last(ir, vis).numpy(),
        "onnxruntime as shipped (OnnxRuntimeBackend)": lambda: shipped(ir, vis).numpy(),
    }
    for name, s in sessions.items():
        rows[name] = lambda s=s: s.run(None, feeds)[0]

    load_before = _load_average()
    with torch.inference_mode():
        reference = nchw(ir, vis).numpy()
        times: dict[str, list[float]] = {name: [] for name in rows}
        errors = {name: float(np.abs(run() - reference).max()) for name, run in rows.items()}
        for _ in range(args.repeats):
            for name, run in rows.items():
                start = clock()
                run()
                times[name].append(clock() - start)

    base = statistics.median(times[REFERENCE])
    unit = "CPU s of this thread" if args.clock == "cpu" else "s"
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, {args.threads} threads, "
          f"{args.width}x{args.height}, median of {args.repeats} interleaved rounds, "
          f"load average {load_before} before, {_load_average()} after")
    print()
    print(f"| run | {unit} per pair | speed-up vs channels-last | max abs diff vs torch |")
    print("|---|---|---|---|")
    for name, values in times.items():
        seconds = statistics.median(values)
        print(f"| {name} | {seconds:.3f} | {base / seconds:.2f}× | {errors[name]:.1e} |")


if __name__ == "__main__":
    main()
