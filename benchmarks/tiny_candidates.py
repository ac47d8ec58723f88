"""Choosing the real-time architecture (issue 22): onnxruntime time of each tiny candidate.

Usage: ``python benchmarks/tiny_candidates.py [--threads 2 --repeats 9]
[--out docs/results/speed/tiny_candidates.md]`` (needs ``critnet[onnx]``).

Speed does not depend on the weights, so every candidate is a seeded random network of its
shape, exported as ``critnet fuse`` exports it (:func:`critnet.pipeline.export.onnx_bytes`: the
export form of :mod:`critnet.pipeline.export_form`, or :mod:`critnet.pipeline.export_affine`
where ``D_fuse`` starts with a 1×1 convolution) and run on onnxruntime's CPU provider with the
backend's settings. Also timed: the first tiny's shape traced as written (``rewrite=False``, the
graph shipped before the export rewrites). Rounds are interleaved (each round times every row
once), so load from other processes hits all rows alike; the table gives the median of
``--repeats`` rounds after one warm-up, parameters, multiply–accumulates at 640×480 and the ratio
to the first row.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_speed import count_macs  # noqa: E402
from onnx_speed import _load_average, session  # noqa: E402

from critnet.io.atomic import atomic_path  # noqa: E402
from critnet.model import CRITNet, CRITNetConfig  # noqa: E402
from critnet.pipeline.export import onnx_bytes  # noqa: E402

H, W = 480, 640
FIRST = {"channels": 8, "growth": 8, "n_dense": 1}
#: (label, config, rewrite): the first tiny, then one change at a time, then the chosen shape.
CANDIDATES = (
    ("first tiny (C = G = 8, 1 layer), graph as written", FIRST, False),
    ("first tiny, export rewrites", FIRST, True),
    ("+ D_fuse first layer 1×1 (affine form)", {**FIRST, "fuse_kernel": 1}, True),
    ("+ separable dense layers and E_ed (**tiny**)",
     {**FIRST, "fuse_kernel": 1, "separable": True}, True),
    ("C = G = 4, 1×1 D_fuse, separable", {"channels": 4, "growth": 4, "n_dense": 1,
                                          "fuse_kernel": 1, "separable": True}, True),
    ("lite shape (C = G = 16, 3 layers), export rewrites",
     {"channels": 16, "growth": 16}, True),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for label, config, rewrite in CANDIDATES:
        torch.manual_seed(0)
        model = CRITNet(CRITNetConfig(**config)).eval()
        params = sum(p.numel() for p in model.parameters())
        macs = count_macs(model, H, W)
        graph = onnx_bytes(model, rewrite=rewrite)
        rows.append([label, params, macs, session(graph, args.threads, "all"), []])
    ir = np.random.default_rng(0).random((1, 1, H, W), dtype=np.float32)
    vis = np.random.default_rng(1).random((1, 1, H, W), dtype=np.float32)
    before = _load_average()
    for round_ in range(args.repeats + 1):
        for row in rows:
            start = time.perf_counter()
            row[3].run(None, {"ir": ir, "vis": vis})
            if round_:
                row[4].append(time.perf_counter() - start)
    after = _load_average()
    base = statistics.median(rows[0][4])
    lines = [f"onnxruntime, {args.threads} threads, 640×480, median of {args.repeats} "
             f"interleaved rounds; load {before} → {after}", "",
             "| candidate | parameters | G MACs | ms | pairs/s | × first row |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, params, macs, _, times in rows:
        ms = statistics.median(times) * 1000
        lines.append(f"| {label} | {params:,} | {macs / 1e9:.2f} | {ms:.1f} | {1000 / ms:.1f} | "
                     f"{ms / 1000 / base:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            tmp.write_text(text)


if __name__ == "__main__":
    main()
