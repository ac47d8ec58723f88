"""Paper-style tables: best/second marks follow each metric's direction; Markdown, LaTeX, CSV;
the first column can be renamed (Table 1's "Configuration", Table 5's λ)."""

from __future__ import annotations

import csv
import io

from critnet.bench.table import csv_table, latex_table, markdown_table

SUMMARY = {
    "A": {"CC": 0.5, "Qcv": 400.0},
    "B": {"CC": 0.7, "Qcv": 900.0},
    "C": {"CC": 0.6, "Qcv": 300.0},
}


def test_markdown_bold_best_italic_second_and_arrows() -> None:
    lines = markdown_table(SUMMARY, ["CC", "Qcv"], first="Configuration").splitlines()
    assert lines[0] == "| Configuration | CC ↑ | Qcv ↓ |"
    assert lines[2] == "| A | 0.5000 | *400.0000* |"
    assert lines[3] == "| B | **0.7000** | 900.0000 |"
    assert lines[4] == "| C | *0.6000* | **300.0000** |"


def test_missing_metric_shows_nan_and_is_never_marked() -> None:
    text = markdown_table({"A": {"CC": 0.5}, "B": {}}, ["CC"])
    assert "| B | NaN |" in text and "| A | **0.5000** |" in text


def test_latex_uses_textbf_textit_and_renamed_first_column() -> None:
    text = latex_table(SUMMARY, ["CC", "Qcv"], caption="w/o MIT", first="λ_edge")
    assert r"\textbf{0.7000}" in text and r"\textit{0.6000}" in text
    assert r"$\downarrow$" in text and r"$\lambda$\_edge & " in text


def test_csv_keeps_full_precision_and_extra_columns() -> None:
    summary = {"A": {"CC": 1 / 3}}
    rows = list(csv.reader(io.StringIO(csv_table(summary, ["CC"], extra={"A": {"kind": "x"}}))))
    assert rows[0] == ["method", "CC", "kind"]
    assert float(rows[1][1]) == 1 / 3 and rows[1][2] == "x"
