"""Paper-style result tables (Tables 1–5) for the bench outputs: a thin layer over
:func:`critnet.evaluate.format_table` (bold best, italic second, ↑/↓ per column) that adds a
renamable first column (``Configuration``, ``λ_edge, λ_JG``) and extra CSV columns.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence

from critnet.evaluate import format_table

Summary = Mapping[str, Mapping[str, float]]


def format_value(value: float) -> str:
    """The paper's precision, 4 decimals (Q^CV too, as printed); NaN as ``NaN``."""
    return "NaN" if math.isnan(value) else f"{value:.4f}"


def _complete(summary: Summary, metrics: Sequence[str]) -> dict[str, dict[str, float]]:
    return {row: {m: float(values.get(m, math.nan)) for m in metrics}
            for row, values in summary.items()}


def markdown_table(summary: Summary, metrics: Sequence[str], *, first: str = "Method") -> str:
    """Markdown table of ``{row label: {metric: value}}``; bold best, italic second per column.

    Args:
        summary: rows in display order; a missing metric shows as NaN.
        metrics: column order (registry names).
        first: title of the row-label column.
    """
    text = format_table(_complete(summary, metrics), list(metrics), "markdown")
    return text.replace("| Method |", f"| {first} |", 1)


def latex_table(summary: Summary, metrics: Sequence[str], *, caption: str = "",
                first: str = "Method") -> str:
    """LaTeX ``table`` laid out like the paper's: ``\\textbf`` best, ``\\textit`` second,
    ``$\\uparrow$``/``$\\downarrow$`` in the header."""
    text = format_table(_complete(summary, metrics), list(metrics), "latex",
                        caption=caption or None)
    label = first.replace("_", r"\_").replace("λ", r"$\lambda$")
    return text.replace("Method & ", label + " & ", 1)


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
