"""Every bundled weights × backend against SeAFusion, timed in the same process (issue 22).

Usage::

    python benchmarks/speed_table.py --vif-benchmark PATH [--repeats 5 --threads 2]
        [--out docs/results/speed/speed_table.md]

``PATH`` is a checkout of ``Linfeng-Tang/VIF-Benchmark`` (it holds SeAFusion's
``SeAFusion/FusionNet.py`` and ``Checkpoint/SeAFusion/SeAFusion.pth``); no peer code is kept in
this repository. SeAFusion's network is loaded from there (``torch.load(weights_only=True)``) and
timed first and last; every row's ratio is its median forward time over the mean of those two
SeAFusion medians, so the ratio holds under the load of the run (absolute times do not).

Per row: parameters, multiply–accumulates at 640×480 (convolutions by hooks plus the attention
matmuls, :func:`model_speed.count_macs`), the median forward time of ``--repeats`` timed runs
after one warm-up on one 640×480 pair (``torch.inference_mode``; onnxruntime: the exported graph
on its CPU provider as ``critnet fuse --backend onnxruntime`` runs it), frames per second and the
ratio to SeAFusion. Prints a Markdown table and writes it with ``--out``; ``--costs-out`` writes
the comparison tables' cost rows (``docs/results/costs_measured.csv``, read by
:mod:`critnet.evaluation.bench.costs`): per bundled weights, the ``--costs-backend`` row (default
``onnxruntime``, what ``critnet fuse`` runs when it is installed) with this run's SeAFusion.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_speed import count_macs  # noqa: E402

from critnet.io.atomic import atomic_path  # noqa: E402
from critnet.pipeline.backends import for_streams, make_backend  # noqa: E402
from critnet.pipeline.overlap import ordered_map  # noqa: E402
from critnet.weights import bundled_weights, load_weights  # noqa: E402

H, W = 480, 640


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def stream_fps(runner: torch.nn.Module, ir: torch.Tensor, vis: torch.Tensor,
               frames: int) -> float | None:
    """Frames per second of ``frames`` pairs fused as a video stream is
    (:func:`critnet.pipeline.backends.for_streams`: two one-thread frames at once on
    onnxruntime), or ``None`` where streams run one frame at a time (torch)."""
    model, workers = for_streams(runner)
    if workers == 1:
        return None
    model(ir, vis)  # the new sessions' warm-up
    start = time.perf_counter()
    list(ordered_map(lambda _: model(ir, vis), range(frames), workers))
    return frames / (time.perf_counter() - start)


def seafusion(checkout: Path) -> torch.nn.Module:
    """SeAFusion's published network and weights from a VIF-Benchmark checkout."""
    source = checkout / "SeAFusion" / "FusionNet.py"
    weights = checkout / "Checkpoint" / "SeAFusion" / "SeAFusion.pth"
    for path in (source, weights):
        if not path.is_file():
            raise SystemExit(f"{path}: not found (give a Linfeng-Tang/VIF-Benchmark checkout)")
    spec = importlib.util.spec_from_file_location("seafusion_net", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.FusionNet(output=1)
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vif-benchmark", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backends", default="torch,onnxruntime")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--costs-out", type=Path, default=None)
    parser.add_argument("--costs-backend", default="onnxruntime")
    parser.add_argument("--weights", nargs="+", default=None, metavar="[NAME=]WEIGHTS",
                        help="Weights to time (bundled names or paths; default: every bundled).")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ir, vis = torch.rand(1, 1, H, W), torch.rand(1, 1, H, W)
    sea = seafusion(args.vif_benchmark)
    with torch.inference_mode():
        sea_ms = [median_ms(lambda: sea(vis, ir), args.repeats)]
    rows = []
    chosen = [w.split("=", 1) if "=" in w else (w, w) for w in args.weights or bundled_weights()]
    for name, source in chosen:
        model = load_weights(source).eval()
        params = sum(p.numel() for p in model.parameters())
        macs = count_macs(model, H, W)
        for backend in args.backends.split(","):
            runner = model if backend == "torch" else make_backend(model, backend, "fp32")
            if backend == "torch":
                runner = model.to(memory_format=torch.channels_last)
            with torch.inference_mode():
                ms = median_ms(lambda r=runner: r(ir, vis), args.repeats)
                fps = stream_fps(runner, ir, vis, 4 * args.repeats)
            rows.append((name, backend, params, macs, ms, fps))
            print(f"{name} {backend}: {ms:.1f} ms", file=sys.stderr, flush=True)
    with torch.inference_mode():
        sea_ms.append(median_ms(lambda: sea(vis, ir), args.repeats))
    reference = sum(sea_ms) / 2
    load = os.getloadavg()[0]
    lines = [f"640×480, {args.threads} threads, torch {torch.__version__}, median of "
             f"{args.repeats} after a warm-up; 1-min load at the end {load:.2f}. SeAFusion "
             f"(same process, first/last): {sea_ms[0]:.0f} / {sea_ms[1]:.0f} ms.", "",
             "| weights | backend | params | GMACs | ms / pair | pairs/s | × SeAFusion | "
             "stream frames/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, backend, params, macs, ms, fps in rows:
        stream = "—" if fps is None else f"{fps:.1f}"
        lines.append(f"| {name} | {backend} | {params:,} | {macs / 1e9:.2f} | {ms:.0f} | "
                     f"{1000 / ms:.1f} | {ms / reference:.3f} | {stream} |")
    lines.append(f"| SeAFusion | torch | {sum(p.numel() for p in sea.parameters()):,} | — | "
                 f"{reference:.0f} | {1000 / reference:.1f} | 1 | — |")
    lines += ["", "stream frames/s: the same pair fused as a video stream is (two frames at once, "
              "each on a one-thread onnxruntime session; critnet.pipeline.backends.for_streams), "
              f"{4 * args.repeats} frames, network only."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out) as tmp:
            tmp.write_text(text)
    if args.costs_out is not None:
        names = {name for name, *_ in rows}
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["method", "params", "ms_640x480", "seafusion_ms_same_run", "peak_ram_mb",
                         "run", "source"])
        for name, backend, params, _, ms, _ in rows:
            if backend != args.costs_backend:
                continue
            label = "C-RITNet" if len(names) == 1 else f"C-RITNet ({name})"
            writer.writerow([label, params, f"{ms:.1f}", f"{reference:.0f}", "",
                             f"{stamp}, 1-min load {load:.2f}, {backend}, SeAFusion timed in the "
                             f"same process", f"benchmarks/speed_table.py --threads {args.threads}"
                             f" --repeats {args.repeats}"])
        with atomic_path(args.costs_out) as tmp:
            tmp.write_text(out.getvalue())


if __name__ == "__main__":
    main()
