"""Paper-style tables: best/second marks follow each metric's direction; Markdown, LaTeX, CSV."""

from __future__ import annotations

import csv
import io
import math

from critnet.bench.table import csv_table, latex_table, markdown_table, rank_marks

SUMMARY = {
    "A": {"CC": 0.5, "Qcv": 400.0},
    "B": {"CC": 0.7, "Qcv": 900.0},
    "C": {"CC": 0.6, "Qcv": 300.0},
}


def test_higher_better_marks_largest_then_second() -> None:
    marks = rank_marks({"A": 0.5, "B": 0.7, "C": 0.6}, lower_better=False)
    assert marks == {"A": "", "B": "best", "C": "second"}


def test_lower_better_marks_smallest() -> None:
    marks = rank_marks({"A": 400.0, "B": 900.0, "C": 300.0}, lower_better=True)
    assert marks == {"A": "second", "B": "", "C": "best"}


def test_ties_share_a_mark_and_nan_is_never_marked() -> None:
    marks = rank_marks({"A": 1.0, "B": 1.0, "C": 0.5, "D": math.nan}, lower_better=False)
    assert marks == {"A": "best", "B": "best", "C": "second", "D": ""}
    assert rank_marks({"A": math.nan}, lower_better=False) == {"A": ""}


def test_markdown_bold_best_italic_second_and_arrows() -> None:
    text = markdown_table(SUMMARY, ["CC", "Qcv"])
    lines = text.splitlines()
    assert lines[0] == "| Method | CC ↑ | Qcv ↓ |"
    assert lines[2] == "| A | 0.5000 | *400.0000* |"
    assert lines[3] == "| B | **0.7000** | 900.0000 |"
    assert lines[4] == "| C | *0.6000* | **300.0000** |"


def test_latex_uses_textbf_textit_and_paper_symbols() -> None:
    text = latex_table(SUMMARY, ["CC", "Qcv"], caption="w/o MIT & more")
    assert r"\textbf{0.7000}" in text and r"\textit{0.6000}" in text
    assert r"$Q^{CV}$ $\downarrow$" in text
    assert r"w/o MIT \& more" in text
    assert text.count(r"\\") == 4  # header + 3 rows


def test_csv_keeps_full_precision_and_extra_columns() -> None:
    summary = {"A": {"CC": 1 / 3}}
    rows = list(csv.reader(io.StringIO(csv_table(summary, ["CC"], extra={"A": {"kind": "x"}}))))
    assert rows[0] == ["method", "CC", "kind"]
    assert float(rows[1][1]) == 1 / 3 and rows[1][2] == "x"
