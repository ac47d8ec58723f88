"""bf16 autocast against fp32 in training: one forward pass and the loss terms of each phase.

Usage: ``python benchmarks/train_precision.py [--preset paper --batch 2 --crop 120 --device cpu
--weights PATH]``

Builds the model (random initial weights of ``--preset``, or ``--weights``), cuts one batch of
synthetic pairs, and computes the loss terms of M1, S (label from ``D_fuse0``) and M2 once in
fp32 and once under bf16 autocast (``run.precision: bf16``: attention statistics, fusion
decoders and losses in fp32). Prints the relative difference of every term and the largest
one per phase.
"""

from __future__ import annotations

import argparse

import torch

from critnet.model import build_model
from critnet.train import objectives
from critnet.train.config import LossSection
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.synthetic import synthetic_pairs
from critnet.weights import load_weights


def phase_terms(model, batch, kind: str) -> dict[str, torch.Tensor]:
    loss = LossSection()
    if kind == "M1":
        return objectives.phase_m1(model, batch, loss)
    if kind == "S":
        return objectives.phase_s(model, batch, loss, "fuse0")
    return objectives.phase_m2(model, batch, loss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--crop", type=int, default=120)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = load_weights(args.weights) if args.weights else build_model(args.preset)
    model = model.to(args.device).eval()
    crops = RoadSceneCrops(synthetic_pairs(args.batch, 330, 500), crop=args.crop)
    batch = {k: v.to(args.device) for k, v in crops.batch(0, list(range(args.batch))).items()}
    label = args.weights or f"{args.preset} (random init)"
    print(f"# bf16 autocast vs fp32: {label}, batch {args.batch}, crop {args.crop}, "
          f"{args.device}\n")
    print("| phase | term | fp32 | bf16 | relative difference |")
    print("|---|---|---|---|---|")
    worst = {}
    with torch.no_grad():
        for kind in ("M1", "S", "M2"):
            ref = phase_terms(model, batch, kind)
            with torch.autocast(torch.device(args.device).type, dtype=torch.bfloat16):
                low = phase_terms(model, batch, kind)
            for key, value in ref.items():
                rel = abs(float(low[key]) - float(value)) / max(abs(float(value)), 1e-12)
                worst[kind] = max(worst.get(kind, 0.0), rel)
                print(f"| {kind} | {key} | {float(value):.6g} | {float(low[key]):.6g} | "
                      f"{rel:.2e} |")
    print("\nLargest relative difference: "
          + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))


if __name__ == "__main__":
    main()
