"""Cost of each comparison row: parameters, CPU forward time per 640×480 pair and peak RAM, read
from ``docs/results/costs.csv`` (peers, written by hand from ``data/peer_fused/TIMINGS.md`` with the
source line cited) and ``docs/results/costs_measured.csv`` (C-RITNet, written by
``benchmarks/cost.py``).

Times measured on a shared machine at different loads are comparable only within one run, so each
row carries the SeAFusion forward time of its own run and the tables show the ratio to it.

CSV columns: ``method, params, ms_640x480, seafusion_ms_same_run, peak_ram_mb, run, source``
(``peak_ram_mb`` empty where it was not measured).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from critnet.errors import InputError

COST_FILES = ("costs.csv", "costs_measured.csv")
COLUMNS = ("method", "params", "ms_640x480", "seafusion_ms_same_run", "peak_ram_mb", "run",
           "source")
# Display columns of the comparison tables, in order.
HEADERS = ("Params", "CPU ms @640×480", "× SeAFusion", "Peak RAM MB")


@dataclass(frozen=True)
class Cost:
    """One method's cost.

    Attributes:
        params: trainable parameters.
        ms: median forward time of one 640×480 pair on 2 CPU threads, milliseconds.
        seafusion_ms: SeAFusion's forward time in the same run (same load), milliseconds.
        peak_ram_mb: peak resident memory of the process, MB; NaN when not measured.
        run: when and at what load it was measured.
        source: where the numbers come from.
    """

    params: int
    ms: float
    seafusion_ms: float
    peak_ram_mb: float
    run: str
    source: str

    @property
    def ratio(self) -> float:
        """Forward time relative to SeAFusion's in the same run."""
        return self.ms / self.seafusion_ms


def read_costs(path: str | os.PathLike) -> dict[str, Cost]:
    """``{method: Cost}`` from one cost CSV.

    Raises:
        InputError: a missing column or a value that is not a number (the message names the file
            and row).
    """
    path = Path(path)
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing columns {missing}")
        costs = {}
        for line, row in enumerate(reader, start=2):
            try:
                costs[row["method"]] = Cost(
                    int(row["params"]), float(row["ms_640x480"]),
                    float(row["seafusion_ms_same_run"]),
                    float(row["peak_ram_mb"]) if row["peak_ram_mb"].strip() else math.nan,
                    row["run"], row["source"])
            except ValueError as error:
                raise InputError(f"{path}:{line}: {error}") from None
    return costs


def load_costs(folder: str | os.PathLike) -> dict[str, Cost]:
    """Every cost row found in ``folder`` (:data:`COST_FILES`; absent files are skipped, a later
    file wins on a repeated method)."""
    costs: dict[str, Cost] = {}
    for name in COST_FILES:
        if (Path(folder) / name).is_file():
            costs.update(read_costs(Path(folder) / name))
    return costs


def cost_cells(costs: Mapping[str, Cost], rows: list[str]) -> dict[str, dict[str, str]]:
    """``{row: {header: text}}`` for :data:`HEADERS`; rows without a cost show ``—``, unmeasured
    RAM ``not measured``."""
    cells = {}
    for row in rows:
        cost = costs.get(row)
        if cost is None:
            cells[row] = dict.fromkeys(HEADERS, "—")
            continue
        cells[row] = {
            HEADERS[0]: f"{cost.params:,}",
            HEADERS[1]: f"{cost.ms:,.0f}",
            HEADERS[2]: f"{cost.ratio:.2f}",
            HEADERS[3]: "not measured" if math.isnan(cost.peak_ram_mb)
            else f"{cost.peak_ram_mb:,.0f}",
        }
    return cells
