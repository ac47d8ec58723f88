"""Ranks of every learned method (peers and our weights, not the classic baselines) on the
paper's six metrics, from the ``results.json`` that ``critnet bench compare`` writes: the table
behind ``docs/results/FINDINGS.md`` and the model cards' quality targets.

Usage: ``python benchmarks/learned_ranks.py docs/results/roadscene50/results.json
docs/results/tno42/results.json [--ours-only]``

Per set: each learned row's rank on CC, EN, Q^AB/F, Q^CV (lower is better), SCD and SSIM (1 =
best; ties share the better rank), the mean of the six ranks, the number of firsts and, where the
set has target masks, the retention. Rows are sorted by the mean rank.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SIX = ("CC", "EN", "Qabf", "Qcv", "SCD", "SSIM")
LOWER_IS_BETTER = {"Qcv"}


def learned_ranks(results: dict) -> list[dict]:
    """One dict per learned row: ``name``, ``ours``, the rank per metric, ``mean``, ``firsts``,
    ``Retention`` (or ``None``), sorted by ``mean``."""
    kinds = {m["name"]: m["kind"] for m in results["methods"]}
    rows = {name: means for name, means in results["mean"].items()
            if kinds.get(name) in ("published", "ours")}
    table = []
    for name, means in rows.items():
        ranks = {}
        for metric in SIX:
            sign = 1 if metric in LOWER_IS_BETTER else -1
            mine = sign * means[metric]
            ranks[metric] = 1 + sum(sign * other[metric] < mine for other in rows.values())
        table.append({"name": name, "ours": kinds[name] == "ours", **ranks,
                      "mean": sum(ranks.values()) / len(SIX),
                      "firsts": sum(r == 1 for r in ranks.values()),
                      "Retention": means.get("Retention")})
    return sorted(table, key=lambda row: (row["mean"], row["name"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--ours-only", action="store_true")
    args = parser.parse_args()
    for path in args.results:
        results = json.loads(path.read_text())
        table = learned_ranks(results)
        print(f"\n{results.get('title', path)} ({len(table)} learned rows)\n")
        print("| # | method | " + " | ".join(SIX) + " | mean rank | firsts | retention |")
        print("|---|---|" + "---:|" * (len(SIX) + 3))
        for place, row in enumerate(table, 1):
            if args.ours_only and not row["ours"]:
                continue
            retention = "—" if row["Retention"] is None else f"{row['Retention']:.3f}"
            name = f"**{row['name']}**" if row["ours"] else row["name"]
            print(f"| {place} | {name} | " + " | ".join(str(row[m]) for m in SIX)
                  + f" | {row['mean']:.2f} | {row['firsts']} | {retention} |")


if __name__ == "__main__":
    main()
