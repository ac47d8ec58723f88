"""critnet.evaluation.tables: one renderer for every table format; marks follow each metric's
direction;
the first column is an argument (Table 1's "Configuration", Table 5's λ)."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from critnet.errors import InputError
from critnet.evaluation.tables import FORMATS, format_table, rank_marks

SUMMARY = {
    "A": {"CC": 0.5, "Qcv": 400.0},
    "B": {"CC": 0.7, "Qcv": 900.0},
    "C": {"CC": 0.6, "Qcv": 300.0},
}


def test_ranking_respects_lower_better_and_ignores_nan() -> None:
    means = {"A": {"EN": 7.0, "Qcv": 300.0}, "B": {"EN": 6.0, "Qcv": 200.0},
             "C": {"EN": 6.5, "Qcv": math.nan}}
    marks = rank_marks(means, ["EN", "Qcv"])
    assert marks == {("A", "EN"): "best", ("C", "EN"): "second", ("B", "Qcv"): "best",
                     ("A", "Qcv"): "second"}


def test_one_row_and_ties() -> None:
    assert rank_marks({"A": {"EN": 7.0}}, ["EN"]) == {}
    tied = rank_marks({"A": {"EN": 7.0}, "B": {"EN": 7.0}, "C": {"EN": 1.0}}, ["EN"])
    assert tied == {("A", "EN"): "best", ("B", "EN"): "best", ("C", "EN"): "second"}


def test_markdown_bold_best_italic_second_and_arrows() -> None:
    lines = format_table(SUMMARY, ["CC", "Qcv"], "markdown", first="Configuration").splitlines()
    assert lines[0] == "| Configuration | CC ↑ | Qcv ↓ |"
    assert lines[1] == "|---|---:|---:|"
    assert lines[2] == "| A | 0.5000 | *400.0000* |"
    assert lines[3] == "| B | **0.7000** | 900.0000 |"
    assert lines[4] == "| C | *0.6000* | **300.0000** |"


def test_markdown_default_first_column_and_caption() -> None:
    lines = format_table(SUMMARY, ["CC"], caption="TNO").splitlines()
    assert lines[:3] == ["**TNO**", "", "| Method | CC ↑ |"]


def test_missing_metric_shows_nan_and_is_never_marked() -> None:
    text = format_table({"A": {"CC": 0.5}, "B": {}}, ["CC"])
    assert "| B | NaN |" in text and "| A | **0.5000** |" in text


def test_latex_marks_arrows_caption_and_first_column() -> None:
    text = format_table(SUMMARY, ["CC", "Qcv"], "latex", caption="w/o MIT", first="λ_edge",
                        digits=2)
    assert r"\textbf{0.70}" in text and r"\textit{0.60}" in text
    assert r"\caption{w/o MIT}" in text
    assert "\n" + r"$\lambda$\_edge & CC $\uparrow$ & Qcv $\downarrow$ \\" + "\n" in text
    assert "\nMethod & " in format_table(SUMMARY, ["CC"], "latex")


def test_csv_full_precision_first_column_and_extra_columns() -> None:
    summary = {"A": {"CC": 1 / 3}, "B": {}}
    text = format_table(summary, ["CC"], "csv", extra={"A": {"kind": "x"}})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["method", "CC", "kind"]
    assert float(rows[1][1]) == 1 / 3 and rows[1][2] == "x"
    assert rows[2][0] == "B" and math.isnan(float(rows[2][1])) and rows[2][2] == ""
    assert format_table(summary, ["CC"], "csv", first="Configuration").startswith(
        "Configuration,CC\n")


def test_json_numbers_and_null_for_nan() -> None:
    data = json.loads(format_table({"A": {"CC": 0.5, "EN": math.nan}}, ["CC", "EN"], "json"))
    assert data == {"A": {"CC": 0.5, "EN": None}}


def test_text_aligned_with_marks_and_first_column() -> None:
    lines = format_table(SUMMARY, ["CC"], "text", first="Run").splitlines()
    assert lines[0].split() == ["Run", "CC", "↑"]
    assert lines[2].endswith("0.7000*") and lines[3].endswith("0.6000+")
    assert lines[1].endswith("0.5000 ")
    assert len({len(line) for line in lines[:4]}) == 1


def test_default_columns_and_unknown_format() -> None:
    assert format_table(SUMMARY, None, "csv").splitlines()[0] == "method,CC,Qcv"
    assert set(FORMATS) == {"markdown", "latex", "csv", "json", "text"}
    with pytest.raises(InputError, match="unknown table format 'html'"):
        format_table(SUMMARY, ["CC"], "html")
