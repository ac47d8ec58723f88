"""Latency, peak memory and GFLOP/s of one fused frame vs frame size, per preset, backend and
tiling mode: one table (Markdown) and one plot (PNG).

Usage: ``python benchmarks/size_sweep.py [--sizes 256x256,640x480,...,8000x6000]
[--presets lite,paper] [--backends torch,onnxruntime] [--modes off,auto] [--threads N]
[--max-seconds 1800] [--resume] [--out docs/results/size_sweep]``

- Each case runs in a fresh Python process (as ``benchmarks/model_memory.py``), so its peak
  resident set size (``ru_maxrss``) is that one fused frame plus the interpreter, torch and the
  model. Frames up to 1 megapixel get one warm-up run before the timed one.
- ``tiling``: ``off`` (whole frame) or ``auto`` (what ``critnet fuse`` does by default:
  :func:`critnet.model.tiled.resolve_tile`; the ``tile`` column shows the size it chose, ``–``
  where the frame fits untiled). onnxruntime runs untiled only (``docs/inference.md``), so its
  ``auto`` rows are listed as skipped.
- A case is skipped, with the reason in the table, when its estimated peak exceeds
  ``--memory-share`` of the available memory (untiled: ``untiled_bytes_per_pixel``; tiled: one
  tile's window; onnxruntime: 1.5× the torch estimate), or when its estimated time (the same
  preset/backend/mode's seconds per pixel at the largest size done so far) exceeds
  ``--max-seconds``.
- GFLOP/s: the model's FLOPs for that frame (counted once per preset with
  ``torch.utils.flop_counter.FlopCounterMode`` at 64×64 and scaled by the pixel count: every
  operation is a convolution or a C×C×HW product, linear in pixels) divided by the latency. Tiled
  frames recompute halos and the encoders, which is not counted: their GFLOP/s is useful work.
  ``plain conv``: a 64-channel 3×3 channels-last convolution at 640×480, timed in the same
  run (the practical peak of this machine with these threads).
- Tiled cases that fit untiled are checked against the untiled result (``max |Δ|``);
  onnxruntime against torch untiled.
- Incremental: every finished case is written to ``<out>.json`` at once (atomically); with
  ``--resume`` measured cases are kept and only the others (and earlier skipped ones) run;
  ``<out>.md`` and ``<out>.png`` are rewritten after every case, with every case of the file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time, torch
from critnet.model import build_model
from critnet.model.tiled import resolve_tile, tiled_forward
preset, backend, mode, height, width, check, threads = sys.argv[1:8]
height, width, threads = int(height), int(width), int(threads)
torch.set_num_threads(threads)
torch.manual_seed(0)
model = build_model(preset).eval()
ir, vis = torch.rand(1, 1, height, width), torch.rand(1, 1, height, width)
if backend == "onnxruntime":
    from critnet.pipeline.backends import OnnxRuntimeBackend
    tile, run = None, OnnxRuntimeBackend.from_model(model, threads)
else:
    model = model.to(memory_format=torch.channels_last)
    tile = resolve_tile(mode, model, ir.shape)
    run = model if tile is None else (lambda a, b: tiled_forward(model, a, b, tile))
with torch.inference_mode():
    if height * width <= 2**20:
        run(ir, vis)
    start = time.perf_counter()
    fused = run(ir, vis)
    seconds = time.perf_counter() - start
peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
error = None
if check == "1" and (tile is not None or backend != "torch"):
    model = model.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        error = (model(ir, vis) - fused).abs().max().item()
print(json.dumps({"peak_gb": peak_gb, "seconds": seconds, "tile": tile, "max_abs_diff": error}))
"""

HEADER = ("| preset | backend | tiling | size (W×H) | megapixels | tile | latency (s) | "
          "peak RSS (GB) | GFLOP/s | plain conv GFLOP/s | max abs diff vs untiled |")
RULE = "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
BASE_GB = 0.25  # interpreter, torch and the model (benchmarks/model_memory.py's baseline row)
ORT_MEMORY_FACTOR = 1.5  # onnxruntime's arena over the torch estimate (an allowance, not measured)


def gflop_per_pixel(preset: str) -> float:
    """The untiled forward's GFLOP per pixel, counted at 64×64."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from critnet.model import build_model

    model = build_model(preset).eval()
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(torch.rand(1, 1, 64, 64), torch.rand(1, 1, 64, 64))
    return counter.get_total_flops() / 64**2 / 1e9


def plain_conv_gflops(threads: int) -> float:
    """GFLOP/s of a 64-channel 3×3 channels-last convolution at 640×480 (median of 3)."""
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    conv = nn.Conv2d(64, 64, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x = torch.rand(1, 64, 480, 640).contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        conv(x)
        for _ in range(3):
            start = time.perf_counter()
            conv(x)
            times.append(time.perf_counter() - start)
    return 2 * 64 * 64 * 9 * 480 * 640 / statistics.median(times) / 1e9


def estimated_gb(preset: str, mode: str, backend: str, height: int, width: int) -> float:
    """Estimated peak RSS of one case (the model's own estimates; see the module docstring)."""
    from critnet.model import build_model
    from critnet.model.tiled import halos, resolve_tile, untiled_bytes_per_pixel

    model = build_model(preset)
    per_pixel = untiled_bytes_per_pixel(model)
    tile = resolve_tile(mode if backend == "torch" else "off", model, (1, 1, height, width))
    if tile is None:
        need = per_pixel * height * width * (ORT_MEMORY_FACTOR if backend != "torch" else 1)
    else:
        window = tile + 2 * halos(model, model.default_decoder)[1]
        need = per_pixel * window**2 + 3 * 4 * height * width  # one tile + inputs and output
    return BASE_GB + need / 2**30


def measure(case: dict, check: bool, threads: int) -> dict:
    args = [case[k] for k in ("preset", "backend", "mode")] + [
        str(case["height"]), str(case["width"]), str(int(check)), str(threads)]
    done = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or [f"killed ({done.returncode})"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def case_key(case: dict) -> str:
    return f"{case['preset']}/{case['backend']}/{case['mode']}/{case['width']}x{case['height']}"


def skip_reason(case: dict, results: dict, args: argparse.Namespace, available_gb: float) -> str:
    if case["backend"] != "torch" and case["mode"] != "off":
        return "skipped: onnxruntime runs untiled only"
    need = estimated_gb(case["preset"], case["mode"], case["backend"], case["height"],
                        case["width"])
    if need > args.memory_share * available_gb:
        return f"skipped: needs ≈ {need:.1f} GB, {available_gb:.1f} GB available"
    pixels = case["height"] * case["width"]
    done = [r for r in results.values() if "seconds" in r and all(
        r[k] == case[k] for k in ("preset", "backend", "mode")) and r["pixels"] < pixels]
    if done:
        largest = max(done, key=lambda r: r["pixels"])
        estimate = largest["seconds"] / largest["pixels"] * pixels
        if estimate > args.max_seconds:
            return f"skipped: ≈ {estimate:.0f} s estimated > --max-seconds {args.max_seconds:.0f}"
    return ""


def table_row(row: dict) -> str:
    size = f"{row['width']}×{row['height']}"
    first = (f"| {row['preset']} | {row['backend']} | {row['mode']} | {size} | "
             f"{row['pixels'] / 1e6:.2f} |")
    if "seconds" not in row:
        return first + f" – | – | – | – | – | {row.get('skipped') or row.get('error')} |"
    diff = row["max_abs_diff"]
    return first + (f" {row['tile'] or '–'} | {row['seconds']:.2f} | {row['peak_gb']:.2f} | "
                    f"{row['gflops']:.1f} | {row['conv_gflops']:.1f} | "
                    f"{'–' if diff is None else f'{diff:.1e}'} |")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (latency, memory) = plt.subplots(1, 2, figsize=(11, 4))
    measured = [r for r in rows if "seconds" in r]
    for key in sorted({(r["preset"], r["backend"], r["mode"]) for r in measured}):
        points = sorted((r["pixels"] / 1e6, r["seconds"], r["peak_gb"]) for r in measured
                        if (r["preset"], r["backend"], r["mode"]) == key)
        label = " ".join(key)
        latency.plot([p[0] for p in points], [p[1] for p in points], "o-", label=label)
        memory.plot([p[0] for p in points], [p[2] for p in points], "o-", label=label)
    for axes, name in ((latency, "latency (s)"), (memory, "peak RSS (GB)")):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("megapixels")
        axes.set_ylabel(name)
        axes.grid(True, which="both", alpha=0.3)
    if measured:
        latency.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_json(path: Path, data: dict) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=1))
    os.replace(temporary, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256x256,640x480,1024x1024,2048x2048,4096x4096,"
                                           "8000x6000", help="W×H list")
    parser.add_argument("--presets", default="lite,paper")
    parser.add_argument("--backends", default="torch,onnxruntime")
    parser.add_argument("--modes", default="off,auto")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-seconds", type=float, default=1800.0,
                        help="skip a case whose estimated latency exceeds this")
    parser.add_argument("--memory-share", type=float, default=0.8,
                        help="skip a case whose estimated peak exceeds this share of free memory")
    parser.add_argument("--no-check", action="store_true", help="skip the untiled comparison")
    parser.add_argument("--resume", action="store_true", help="keep the cases already measured")
    parser.add_argument("--out", type=Path, default=Path("docs/results/size_sweep"))
    args = parser.parse_args()

    import torch

    from critnet.model.tiled import available_bytes

    args.out.parent.mkdir(parents=True, exist_ok=True)
    json_path = args.out.with_suffix(".json")
    results = {}
    if args.resume and json_path.exists():
        results = json.loads(json_path.read_text())["cases"]  # skipped cases are retried
    conv = plain_conv_gflops(args.threads)
    flops = {preset: gflop_per_pixel(preset) for preset in args.presets.split(",")}
    print(f"torch {torch.__version__}, {args.threads} threads; plain conv {conv:.1f} GFLOP/s",
          flush=True)
    sizes = sorted((tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")),
                   key=lambda wh: wh[0] * wh[1])
    cases = [{"preset": p, "backend": b, "mode": m, "width": w, "height": h, "pixels": w * h}
             for p in args.presets.split(",") for b in args.backends.split(",")
             for m in args.modes.split(",") for w, h in sizes]
    print(HEADER + "\n" + RULE, flush=True)
    for case in sorted(cases, key=lambda c: (c["pixels"], c["preset"], c["backend"], c["mode"])):
        key = case_key(case)
        if "seconds" not in results.get(key, {}):
            available_gb = available_bytes() / 2**30
            reason = skip_reason(case, results, args, available_gb)
            row = dict(case)
            if reason:
                row["skipped"] = reason
            else:
                fits = not skip_reason(dict(case, mode="off", backend="torch"), {}, args,
                                       available_gb)
                row |= measure(case, check=fits and not args.no_check, threads=args.threads)
                if "seconds" in row:
                    row |= {"gflops": flops[case["preset"]] * case["pixels"] / row["seconds"],
                            "conv_gflops": conv, "threads": args.threads}
            results[key] = row
            write_json(json_path, {"torch": torch.__version__, "cases": results})
        print(table_row(results[key]), flush=True)
        ordered = list(results.values())  # every case of the file, this run's and earlier
        ordered.sort(key=lambda r: (r["preset"], r["backend"], r["mode"], r["pixels"]))
        args.out.with_suffix(".md").write_text(
            "\n".join([HEADER, RULE, *map(table_row, ordered)]) + "\n")
        plot(ordered, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
