"""The benchmark registry: one entry per dataset / study, everything else derived from it; and
no import cycle among the bench and evaluation modules."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest
from bench_helpers import make_data_root
from click.testing import CliRunner

import critnet
from critnet.cli import cli
from critnet.evaluation.bench import registry
from critnet.evaluation.bench.datasets import load_dataset
from critnet.evaluation.bench.paper_tables import TABLES
from critnet.evaluation.bench.registry import (
    DATASETS,
    STUDIES,
    DatasetSpec,
    all_stems,
    section_keys,
)
from critnet.evaluation.bench.report import build_report


def test_entries_are_consistent() -> None:
    assert not set(DATASETS) & set(STUDIES)
    for key, spec in DATASETS.items():
        assert spec.key == key and (spec.paper_table is None or spec.paper_table in TABLES)
    for key, study in STUDIES.items():
        assert study.key == key and study.dataset in DATASETS and study.paper_table in TABLES
    assert section_keys() == [*DATASETS, *STUDIES]


def test_cli_offers_every_dataset_and_study() -> None:
    result = CliRunner().invoke(cli, ["bench", "compare", "--help"])
    assert all(key in result.output for key in DATASETS)
    result = CliRunner().invoke(cli, ["bench", "--help"])
    assert all(key in result.output for key in STUDIES)
    assert "Table 1, Fig. 3" in CliRunner().invoke(cli, ["bench", "ablation", "--help"]).output


def test_adding_a_dataset_is_one_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_data_root(tmp_path / "data")
    spec = DatasetSpec("tnoall", "TNO, every pair", "tno", all_stems, (("tno_fused", ""),),
                       "a test entry", "table3")
    monkeypatch.setitem(registry.DATASETS, "tnoall", spec)
    dataset = load_dataset("tnoall", root)
    assert len(dataset.pairs) == 4 and dataset.fused_methods == {}  # Blur lacks x1_extra
    report = build_report(tmp_path / "no_results")
    assert "## tnoall: pending" in report
    assert "`critnet bench compare --dataset tnoall --out docs/results/tnoall`" in report
    result = CliRunner().invoke(cli, ["bench", "compare", "--help"])
    assert "tnoall" not in result.output  # the CLI's choices were read at import: documented
    monkeypatch.setitem(registry.DATASETS, "tnoall", replace(spec, paper_table=None))
    assert "Paper, " not in build_report(tmp_path / "no_results").split("## tnoall")[1][:200]


def _imports(path: Path, package: Path) -> set[str]:
    """``critnet.*`` modules imported anywhere in ``path`` (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("critnet"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("critnet")}
    return found


def test_no_import_cycle_in_bench_and_evaluate() -> None:
    src = Path(critnet.__file__).parent
    evaluation = src / "evaluation"
    files = {f"critnet.evaluation.bench.{p.stem}": p for p in (evaluation / "bench").glob("*.py")
             if p.stem != "__init__"}
    files |= {"critnet.evaluation.evaluate": evaluation / "evaluate.py",
              "critnet.evaluation.tables": evaluation / "tables.py"}
    graph = {name: _imports(path, src) & set(files) for name, path in files.items()}

    def visit(name: str, stack: tuple[str, ...]) -> None:
        assert name not in stack, f"import cycle: {' -> '.join((*stack, name))}"
        for dep in graph[name]:
            visit(dep, (*stack, name))

    for name in graph:
        visit(name, ())
