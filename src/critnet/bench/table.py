"""Paper-style result tables (Tables 1–5): one row per method, one column per metric, the best
value in bold and the second best in italic, an arrow per column showing which way is better.

Rendered as Markdown, LaTeX (booktabs) and CSV from one ``{row: {metric: value}}`` mapping.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence

from critnet.metrics import get_metric

Summary = Mapping[str, Mapping[str, float]]


def rank_marks(values: Mapping[str, float], lower_better: bool) -> dict[str, str]:
    """``{row: "best" | "second" | ""}`` for one metric column; NaN is never marked.

    Ties share a mark (two equal best values are both bold; the next distinct value is second).
    """
    finite = sorted({v for v in values.values() if not math.isnan(v)}, reverse=not lower_better)
    marks = {}
    for row, value in values.items():
        if math.isnan(value) or not finite:
            marks[row] = ""
        elif value == finite[0]:
            marks[row] = "best"
        elif len(finite) > 1 and value == finite[1]:
            marks[row] = "second"
        else:
            marks[row] = ""
    return marks


def format_value(metric: str, value: float) -> str:
    """The paper's precision: 4 decimals (Q^CV too, as printed); NaN as ``n/a``."""
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def header_label(metric: str) -> str:
    """Column title with its arrow, e.g. ``Qcv ↓``."""
    return f"{metric} {get_metric(metric).arrow}"


def _marks(summary: Summary, metrics: Sequence[str]) -> dict[str, dict[str, str]]:
    return {m: rank_marks({row: float(vals.get(m, math.nan)) for row, vals in summary.items()},
                          get_metric(m).lower_better) for m in metrics}


def markdown_table(summary: Summary, metrics: Sequence[str], *, first: str = "Method") -> str:
    """Markdown table; bold best, italic second per column.

    Args:
        summary: ``{row label: {metric: mean value}}``, rows in display order.
        metrics: column order (registry names).
        first: title of the row-label column.
    """
    marks = _marks(summary, metrics)
    lines = ["| " + " | ".join([first, *map(header_label, metrics)]) + " |",
             "|" + "---|" + "---:|" * len(metrics)]
    for row, values in summary.items():
        cells = [row.replace("|", "\\|")]
        for m in metrics:
            text = format_value(m, float(values.get(m, math.nan)))
            mark = marks[m][row]
            cells.append(f"**{text}**" if mark == "best" else f"*{text}*" if mark == "second"
                         else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


_LATEX_NAMES = {"Qabf": "$Q^{AB/F}$", "Qcv": "$Q^{CV}$"}


def _latex_escape(text: str) -> str:
    for char, repl in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"),
                       ("#", r"\#"), ("λ", r"$\lambda$")):
        text = text.replace(char, repl)
    return text


def latex_table(summary: Summary, metrics: Sequence[str], *, caption: str = "",
                first: str = "Methods") -> str:
    """LaTeX ``table`` (booktabs) laid out like the paper's; ``\\textbf`` best, ``\\textit``
    second, ``$\\uparrow$``/``$\\downarrow$`` in the header."""
    marks = _marks(summary, metrics)
    arrows = {m: r"$\downarrow$" if get_metric(m).lower_better else r"$\uparrow$" for m in metrics}
    head = " & ".join([first, *(f"{_LATEX_NAMES.get(m, m)} {arrows[m]}" for m in metrics)])
    body = []
    for row, values in summary.items():
        cells = [_latex_escape(row)]
        for m in metrics:
            text = format_value(m, float(values.get(m, math.nan)))
            mark = marks[m][row]
            cells.append(rf"\textbf{{{text}}}" if mark == "best"
                         else rf"\textit{{{text}}}" if mark == "second" else text)
        body.append(" & ".join(cells) + r" \\")
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{_latex_escape(caption)}}}")
    lines += [r"\begin{tabular}{l" + "c" * len(metrics) + "}", r"\toprule", head + r" \\",
              r"\midrule", *body, r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def csv_table(summary: Summary, metrics: Sequence[str], *, first: str = "method",
              extra: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """CSV text: ``first, <metrics...>`` (full float precision), plus optional extra columns
    per row (``extra[row] = {column: text}``)."""
    extra_cols = sorted({c for cols in (extra or {}).values() for c in cols})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([first, *metrics, *extra_cols])
    for row, values in summary.items():
        cells = [repr(float(values.get(m, math.nan))) for m in metrics]
        more = [(extra or {}).get(row, {}).get(c, "") for c in extra_cols]
        writer.writerow([row, *cells, *more])
    return buffer.getvalue()
