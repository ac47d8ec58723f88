"""Time the full metric set on the RoadScene 50-pair test set, and compare the vectorised Qabf
with a plain per-pixel loop port of the reference algorithm.

Usage::

    python benchmarks/metrics_speed.py [--jobs 2] [--loop-images 2] [--fused DIR]

Fused images: ``peer_fused/SeAFusion/roadscene`` (grey, one per test pair) when present, else a
rounded average of the two sources. Data root: ``CRITNET_DATA`` or ``../shared/data``.
"""

from __future__ import annotations

import argparse
import csv
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from critnet.evaluation.evaluate import evaluate_methods, read_image
from critnet.io.paths import data_root
from critnet.metrics import FusionTriple, compute_metrics, get_metric


def qabf_loop(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """VIFB ``metricsQabf`` written plainly: per-pixel loops for the Sobel sums, the strength
    and orientation terms, and the weighted sum (images ×255, zero padding). Slow by design."""
    tg, kg, dg, ta, ka, da = 0.9994, -15.0, 0.5, 0.9879, -22.0, 0.8
    h, w = f.shape

    def edges(x: np.ndarray) -> tuple[list[list[float]], list[list[float]]]:
        x = (x * 255.0).tolist()
        g = [[0.0] * w for _ in range(h)]
        alpha = [[0.0] * w for _ in range(h)]
        kx = ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))
        ky = ((1, 2, 1), (0, 0, 0), (-1, -2, -1))
        for i in range(h):
            for j in range(w):
                sx = sy = 0.0
                for di in (-1, 0, 1):
                    for dj in (-1, 0, 1):
                        ii, jj = i + di, j + dj
                        if 0 <= ii < h and 0 <= jj < w:
                            sx += kx[di + 1][dj + 1] * x[ii][jj]
                            sy += ky[di + 1][dj + 1] * x[ii][jj]
                g[i][j] = math.sqrt(sx * sx + sy * sy)
                alpha[i][j] = math.pi / 2 if sx == 0 else math.atan(sy / sx)
        return g, alpha

    g_a, a_a = edges(a)
    g_b, a_b = edges(b)
    g_f, a_f = edges(f)

    def q(g_s: float, a_s: float, g_ff: float, a_ff: float) -> float:
        if g_s > g_ff:
            strength = g_ff / g_s
        elif g_s == g_ff:
            strength = g_ff
        else:
            strength = g_s / g_ff
        orient = 1 - abs(a_s - a_ff) / (math.pi / 2)
        qg = tg / (1 + math.exp(max(-700.0, min(700.0, kg * (strength - dg)))))
        qa = ta / (1 + math.exp(ka * (orient - da)))
        return qg * qa

    num = den = 0.0
    for i in range(h):
        for j in range(w):
            num += (q(g_a[i][j], a_a[i][j], g_f[i][j], a_f[i][j]) * g_a[i][j]
                    + q(g_b[i][j], a_b[i][j], g_f[i][j], a_f[i][j]) * g_b[i][j])
            den += g_a[i][j] + g_b[i][j]
    return num / den


def test_stems(root: Path) -> list[str]:
    with (root / "roadscene" / "subsets.csv").open() as handle:
        return [row["stem"] for row in csv.DictReader(handle) if row["in_cddfuse_test50"] == "1"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--loop-images", type=int, default=2)
    parser.add_argument("--fused", type=Path, default=None)
    args = parser.parse_args()

    root = data_root()
    if not (root / "roadscene" / "subsets.csv").is_file():
        print(f"RoadScene data not found under {root} (set CRITNET_DATA)", file=sys.stderr)
        return 1
    stems = test_stems(root)
    work = Path(tempfile.mkdtemp(prefix="critnet_bench_"))
    ir_dir, vis_dir = work / "ir", work / "vi"
    fused_dir = args.fused or root / "peer_fused" / "SeAFusion" / "roadscene"
    for folder in (ir_dir, vis_dir):
        folder.mkdir(parents=True, exist_ok=True)
    for stem in stems:  # links: the 50-pair subset as its own folders, nothing copied
        for sub, folder in (("ir", ir_dir), ("vi", vis_dir)):
            src = next((root / "roadscene" / sub).glob(f"{stem}.*"))
            link = folder / src.name
            if not link.exists():
                link.symlink_to(src.resolve())
    if not fused_dir.is_dir():
        fused_dir = work / "average"
        fused_dir.mkdir(exist_ok=True)
        from PIL import Image

        from critnet.metrics import to_gray_uint8
        for stem in stems:
            ir = to_gray_uint8(read_image(next(ir_dir.glob(f"{stem}.*")))).astype(float)
            vis = to_gray_uint8(read_image(next(vis_dir.glob(f"{stem}.*")))).astype(float)
            Image.fromarray(np.floor((ir + vis) / 2 + 0.5).astype(np.uint8)).save(
                fused_dir / f"{stem}.png")

    start = time.perf_counter()
    result = evaluate_methods(ir_dir, vis_dir, {"fused": fused_dir}, "all", jobs=args.jobs)
    total = time.perf_counter() - start
    print(f"fused images: {fused_dir}")
    print(f"all {len(result.metrics)} metrics on {len(result.images)} RoadScene pairs, "
          f"jobs={args.jobs}: {total:.2f} s ({total / len(result.images) * 1000:.0f} ms/pair, "
          "including image reading)")

    first = result.images[0]
    paths = [next(d.glob(f"{first}.*")) for d in (ir_dir, vis_dir, fused_dir)]
    triple = FusionTriple.from_images(*(read_image(p) for p in paths))
    print("per-metric time on one pair (ms, alone, no shared cache):")
    for name in result.metrics:
        fresh = FusionTriple(triple.ir, triple.vis, triple.fused)
        t0 = time.perf_counter()
        get_metric(name).compute(fresh)
        print(f"  {name:10s} {(time.perf_counter() - t0) * 1000:7.1f}")

    loop_time = vec_time = 0.0
    for stem in result.images[:args.loop_images]:
        paths = [next(d.glob(f"{stem}.*")) for d in (ir_dir, vis_dir, fused_dir)]
        t = FusionTriple.from_images(*(read_image(p) for p in paths))
        t0 = time.perf_counter()
        slow = qabf_loop(t.vis, t.ir, t.fused)
        loop_time += time.perf_counter() - t0
        t0 = time.perf_counter()
        fast = compute_metrics(*(read_image(p) for p in paths), ["Qabf"])["Qabf"]
        vec_time += time.perf_counter() - t0
        print(f"Qabf {stem}: loop {slow:.10f} vectorised {fast:.10f} "
              f"(|diff| {abs(slow - fast):.1e})")
    if args.loop_images:
        print(f"Qabf on {args.loop_images} pairs: loop {loop_time:.2f} s, vectorised "
              f"{vec_time:.3f} s, speed-up x{loop_time / vec_time:.0f}")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
