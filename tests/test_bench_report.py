"""Paper tables transcribed; RESULTS.md assembled from fragments beside them (pending otherwise)."""

from __future__ import annotations

import json
from pathlib import Path

from critnet.evaluation.bench.paper_tables import TABLES
from critnet.evaluation.bench.report import build_report, paper_row_for, side_by_side, write_report
from critnet.metrics import PAPER_METRICS


def test_paper_tables_hold_the_six_metrics_for_every_row() -> None:
    assert list(TABLES) == ["table1", "table2", "table3", "table4", "table5"]
    for table in TABLES.values():
        for row in table.rows.values():
            assert tuple(row) == PAPER_METRICS
    assert TABLES["table2"].rows["Ours"]["CC"] == 0.6786
    assert TABLES["table4"].rows["LRRNet"]["Qcv"] == 1492.4342
    assert TABLES["table1"].rows["Ours"] == TABLES["table3"].rows["Ours"]
    assert list(TABLES["table5"].rows) == ["λ = 1", "λ = 20", "λ = 50", "λ = 100"]


def test_empty_results_give_a_template_with_commands_and_paper_tables(tmp_path: Path) -> None:
    text = build_report(tmp_path)
    assert "## Ablation (Table 1): pending" in text
    assert "`critnet bench ablation --runs docs/results/runs --out docs/results/ablation`" in text
    assert "| w/o MIT | *0.6874* |" in text  # second best of Table 1's CC
    assert "`critnet bench compare --dataset tno42 --out docs/results/tno42`" in text


def _fragment(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({
        "dataset": "tno42", "title": "TNO-42", "note": "here the TNO 42", "pairs": 42,
        "metrics": ["CC", "Qcv"], "paper_table": "table3", "first_column": "Method",
        "methods": [{"name": "LRRNet", "kind": "published", "source": "peer_fused/LRRNet/tno"},
                    {"name": "LP", "kind": "baseline", "source": "critnet.evaluation.baselines.lp"},
                    {"name": "C-RITNet", "kind": "ours", "source": "weights lite.safetensors"}],
        "mean": {"LRRNet": {"CC": 0.5, "Qcv": 500.0}, "LP": {"CC": 0.6, "Qcv": 700.0},
                 "C-RITNet": {"CC": 0.55, "Qcv": 400.0}},
        "std": {}, "notes": ["a note"], "command": "critnet bench compare --dataset tno42",
    }))


def test_fragment_becomes_a_section_beside_the_paper(tmp_path: Path) -> None:
    _fragment(tmp_path / "results" / "tno42")
    out = write_report(tmp_path / "results", tmp_path / "docs" / "RESULTS.md")
    text = out.read_text()
    assert "## TNO-42 — 42 pairs" in text
    assert "| C-RITNet | *0.5500* | **400.0000** |" in text
    assert "| C-RITNet / Ours | 0.5500 / 0.6991 | 400.0000 / 427.2510 |" in text
    assert "| LRRNet | 0.5000 / 0.6749 | 500.0000 / 976.6410 |" in text
    assert "Rows: published: LRRNet; baseline: LP; ours: C-RITNet." in text
    assert "](../results/tno42/grid.png)" in text
    assert "- a note" in text
    assert "## Ablation (Table 1): pending" in text


def test_row_matching() -> None:
    table = TABLES["table2"]
    assert paper_row_for("C-RITNet (lite)", table) == "Ours"
    assert paper_row_for("LRRNet", table) == "LRRNet"
    assert paper_row_for("LP", table) is None
    assert side_by_side({"LP": {"CC": 1.0}}, table, ["CC"]) == ""


def test_hand_written_findings_are_included(tmp_path):
    from critnet.evaluation.bench.report import FINDINGS_NAME, build_report

    (tmp_path / FINDINGS_NAME).write_text("## What the measurements say\n\nPlain words.\n")
    text = build_report(tmp_path)
    assert "## What the measurements say" in text and "Plain words." in text
