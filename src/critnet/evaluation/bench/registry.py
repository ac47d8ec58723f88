"""The benchmark registry: every dataset (Tables 2–4) and training study (Tables 1, 5) that
``critnet bench`` knows, in one place (docs/design.md §4).

Adding a dataset is one :class:`DatasetSpec` entry in :data:`DATASETS`; the CLI's choices, the
report's sections and commands, and the paper table shown beside it all follow from it. Adding a
study is one :class:`Study` entry in :data:`STUDIES` (``critnet bench <key>`` appears with it).
Sections of ``docs/RESULTS.md`` follow the order of :data:`DATASETS`, then :data:`STUDIES`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from critnet.errors import InputError

RESULTS_DIR = "docs/results"  # where the committed bench outputs live (one folder per key)


@dataclass(frozen=True)
class DatasetSpec:
    """How to find one benchmark dataset under the data root.

    Attributes:
        key: CLI name (``roadscene50``, ``tno42``, ...) and results folder name.
        title: human name for tables and plots.
        folder: pair folder under the data root (holding ``ir/`` and ``vi/``).
        select: ``(data folder, all stems) -> test stems`` (sorted).
        fused_dirs: ``(root-relative folder, subfolder)`` pairs; every method folder
            ``root/folder/<METHOD>/subfolder/`` holding the test stems is a comparison row. Earlier
            entries win when two folders provide the same method name.
        note: one line on how this set relates to the paper's.
        paper_table: the published table closest to it (key of
            :data:`critnet.evaluation.bench.paper_tables.TABLES`), shown beside it in the report.
        masks: root-relative folder of target masks named by test stems (any subset): the
            comparison gains a target-retention column (:mod:`critnet.metrics.retention`).
    """

    key: str
    title: str
    folder: str
    select: Callable[[Path, list[str]], list[str]]
    fused_dirs: tuple[tuple[str, str], ...] = ()
    note: str = ""
    paper_table: str | None = None
    masks: str | None = None

    @property
    def command(self) -> str:
        """The command that writes this dataset's section of the report."""
        return f"critnet bench compare --dataset {self.key} --out {RESULTS_DIR}/{self.key}"


@dataclass(frozen=True)
class Study:
    """One training study: variants trained on one schedule, compared on one dataset.

    Attributes:
        key: ``ablation`` or ``lambda`` (the ``critnet bench`` subcommand, results folder).
        title: report heading (``Ablation (Table 1)``).
        help: the subcommand's one-line help.
        paper_table: key into :data:`critnet.evaluation.bench.paper_tables.TABLES`.
        dataset: key of :data:`DATASETS` it is evaluated on.
        runs: ``(row label, config stem)`` in table order (labels as in the paper's table).
        figure: the paper's figure this study's grid corresponds to.
        first_column: title of the row-label column of its table.
    """

    key: str
    title: str
    help: str
    paper_table: str
    dataset: str
    runs: tuple[tuple[str, str], ...]
    figure: str
    first_column: str

    @property
    def command(self) -> str:
        """The command that writes this study's section of the report."""
        return (f"critnet bench {self.key} --runs {RESULTS_DIR}/runs "
                f"--out {RESULTS_DIR}/{self.key}")


def all_stems(_folder: Path, stems: list[str]) -> list[str]:
    """Every pair of the folder is a test pair."""
    return sorted(stems)


def roadscene_test50(folder: Path, stems: list[str]) -> list[str]:
    """The stems flagged ``in_cddfuse_test50`` in ``folder/subsets.csv``.

    Raises:
        InputError: ``subsets.csv`` missing, or a listed stem has no pair.
    """
    table = folder / "subsets.csv"
    if not table.is_file():
        raise InputError(f"{table}: not found (needed for the RoadScene 50-pair test subset)")
    with table.open(newline="") as handle:
        chosen = {row["stem"] for row in csv.DictReader(handle)
                  if row.get("in_cddfuse_test50", "").strip() == "1"}
    missing = sorted(chosen - set(stems))
    if missing:
        raise InputError(f"{folder}: test stems listed in subsets.csv have no pair: {missing[:5]}")
    return sorted(chosen)


def tno42(_folder: Path, stems: list[str]) -> list[str]:
    """The 42 numbered TNO pairs (``NN_name``) of Tang's TNO set."""
    return sorted(s for s in stems if re.match(r"^\d\d_", s))


DATASETS: dict[str, DatasetSpec] = {s.key: s for s in [
    DatasetSpec("roadscene50", "RoadScene (50-pair test subset)", "roadscene", roadscene_test50,
                (("peer_fused", "roadscene50"), ("peer_fused", "roadscene")),
                "paper: 38 pairs of an unpublished split; here the public CDDFuse 50-pair subset",
                "table2"),
    DatasetSpec("tno42", "TNO-42", "tno", tno42,
                (("peer_fused", "tno42"), ("peer_fused", "tno"), ("tno_fused", "")),
                "paper: 40 TNO + VOT2020-RGBT pairs; here the Linfeng-Tang TNO 42 (no VOT)",
                "table3", masks="tno_masks"),
    DatasetSpec("otcbvs", "OTCBVS (2 pairs)", "otcbvs", all_stems,
                (("peer_fused", "otcbvs"), ("vifb_fused", "")),
                "paper: 40 OTCBVS pairs; here the 2 OSU Color-Thermal pairs shipped with VIFB",
                "table4"),
    DatasetSpec("vifb21", "VIFB-21", "vifb", all_stems,
                (("peer_fused", "vifb21"), ("peer_fused", "vifb"), ("vifb_fused", "")),
                "not in the paper; VIFB's 21 pairs (published outputs are colour, scored grey)"),
    DatasetSpec("msrs", "MSRS (5 pairs)", "msrs", all_stems, (("peer_fused", "msrs"),),
                "not in the paper; 5 MSRS samples"),
]}

STUDIES: dict[str, Study] = {s.key: s for s in [
    Study("ablation", "Ablation (Table 1)",
          "Train (or reuse) the three ablations and the full model, evaluate on TNO-42 "
          "(Table 1, Fig. 3).",
          "table1", "tno42",
          (("w/o MIT", "ablation_no_mit"), ("w/o SIPRIA", "ablation_no_sipria"),
           ("w/o MPTP", "ablation_no_mptp"), ("Ours", "cpu")), "Fig. 3", "Configuration"),
    Study("lambda", "λ_edge = λ_JG (Table 5)",
          "Train (or reuse) λ_edge = λ_JG ∈ {1, 20, 50, 100}, evaluate on RoadScene-50 "
          "(Table 5, Fig. 11).",
          "table5", "roadscene50",
          # λ = 20 is the default: the full model's run, never trained twice.
          (("λ = 1", "lambda_1"), ("λ = 20", "cpu"), ("λ = 50", "lambda_50"),
           ("λ = 100", "lambda_100")), "Fig. 11", "λ_edge, λ_JG"),
]}


def section_keys() -> list[str]:
    """Every report section, in order: the datasets, then the studies."""
    return [*DATASETS, *STUDIES]
