"""Latency and peak memory of one fused frame per tiling mode, preset and frame size.

Usage: ``python benchmarks/tiling_memory.py [--sizes 256x256,2048x2048,4096x4096,8000x6000]
[--presets lite,paper] [--modes off,auto,512] [--out benchmarks/tiling]``

Each case runs in a fresh Python process (as ``benchmarks/model_memory.py``), so its peak
resident set size (``ru_maxrss``) is that one fused frame plus the interpreter, torch and the
model. ``off`` cases whose estimated untiled peak exceeds the available memory are skipped
(they would be killed). Tiled cases are also checked against the untiled result where it fits
(``max |Δ|``). Writes ``<out>.md`` (table) and ``<out>.png`` (plot). The ``backend`` column is
``torch``; other inference backends add rows with their own name.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, resource, sys, time, torch
from critnet.model import build_model
from critnet.model.tiled import resolve_tile, tiled_forward
preset, height, width, mode, check = sys.argv[1:6]
height, width = int(height), int(width)
torch.manual_seed(0)
model = build_model(preset).eval().to(memory_format=torch.channels_last)
ir, vis = torch.rand(1, 1, height, width), torch.rand(1, 1, height, width)
tile = resolve_tile(mode, model, ir.shape)
start = time.perf_counter()
with torch.inference_mode():
    fused = model(ir, vis) if tile is None else tiled_forward(model, ir, vis, tile)
seconds = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
error = None
if check == "1" and tile is not None:
    with torch.inference_mode():
        error = (model(ir, vis) - fused).abs().max().item()
print(json.dumps({"peak_gb": peak_kb / 2**20, "seconds": seconds, "tile": tile,
                  "max_abs_diff": error}))
"""

HEADER = ("| backend | preset | size (W×H) | megapixels | tiling | tile | latency (s) | "
          "peak RSS (GB) | max abs diff vs untiled |")


def measure(preset: str, height: int, width: int, mode: str, check: bool) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, preset, str(height), str(width), mode, str(int(check))],
        capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def fits_untiled(preset: str, height: int, width: int) -> bool:
    from critnet.model import build_model
    from critnet.model.tiled import available_bytes, untiled_bytes_per_pixel

    need = untiled_bytes_per_pixel(build_model(preset)) * height * width
    return need <= 0.8 * available_bytes()


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (latency, memory) = plt.subplots(1, 2, figsize=(11, 4))
    keys = sorted({(r["backend"], r["preset"], r["mode"]) for r in rows if "seconds" in r})
    for key in keys:
        points = sorted((r["megapixels"], r["seconds"], r["peak_gb"]) for r in rows
                        if (r["backend"], r["preset"], r["mode"]) == key and "seconds" in r)
        label = " ".join(key)
        latency.plot([p[0] for p in points], [p[1] for p in points], "o-", label=label)
        memory.plot([p[0] for p in points], [p[2] for p in points], "o-", label=label)
    for axes, name in ((latency, "latency (s)"), (memory, "peak RSS (GB)")):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("megapixels")
        axes.set_ylabel(name)
        axes.grid(True, which="both", alpha=0.3)
    latency.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256x256,1024x1024,2048x2048,4096x4096,8000x6000")
    parser.add_argument("--presets", default="lite,paper")
    parser.add_argument("--modes", default="off,auto,512")
    parser.add_argument("--no-check", action="store_true", help="skip the untiled comparison")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/tiling"))
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    rows, lines = [], [HEADER, "|---|---|---|---:|---|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for preset in args.presets.split(","):
        for width, height in sizes:
            fits = fits_untiled(preset, height, width)
            for mode in args.modes.split(","):
                row = {"backend": "torch", "preset": preset, "mode": mode,
                       "megapixels": width * height / 1e6}
                if mode == "off" and not fits:
                    row["error"] = "skipped: estimated untiled peak exceeds free memory"
                else:
                    row |= measure(preset, height, width, mode, check=fits and not args.no_check)
                rows.append(row)
                if "error" in row:
                    cells = f"| – | – | – | {row['error']} |"
                else:
                    diff = row["max_abs_diff"]
                    cells = (f"| {row['tile'] or '–'} | {row['seconds']:.2f} | "
                             f"{row['peak_gb']:.2f} | {'–' if diff is None else f'{diff:.1e}'} |")
                lines.append(f"| torch | {preset} | {width}×{height} | {row['megapixels']:.2f} | "
                             f"{mode} " + cells)
                print(lines[-1], flush=True)
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    plot(rows, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
