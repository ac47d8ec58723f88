"""Tables of metric means, laid out like the paper's Tables 1–5: the one renderer behind
``critnet evaluate`` and ``critnet bench``.

Quick use::

    from critnet.evaluation.tables import format_table
    means = {"SeAFusion": {"CC": 0.61, "Qcv": 420.0}, "Ours": {"CC": 0.66, "Qcv": 380.0}}
    print(format_table(means, ["CC", "Qcv"], "markdown", first="Configuration"))

Headers carry ↑/↓ from each metric's ``lower_better``; per column the best value is bold and the
second italic (ties share a rank, NaN never ranks, a one-row table is not marked). Values show
with ``digits`` decimals (4, the paper's precision, Q^CV included); NaN shows as ``NaN``, and a
metric absent under a metric convention (``absent=``) as ``—`` (empty in CSV, null in JSON).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Collection, Mapping, Sequence

from critnet.errors import InputError
from critnet.metrics.conventions import lower_better

Means = Mapping[str, Mapping[str, float]]  # row label -> metric -> value, rows in display order
FORMATS = ("markdown", "latex", "csv", "json", "text")


ABSENT = "—"


def _arrow(metric: str) -> str:
    return "↓" if lower_better(metric) else "↑"


def rank_marks(means: Means, metrics: Sequence[str]) -> dict[tuple[str, str], str]:
    """``{(row, metric): "best" | "second"}`` per column, respecting ``lower_better``.

    Ties share a rank; NaN (or a missing value) never ranks. With one row nothing is marked.
    """
    marks: dict[tuple[str, str], str] = {}
    if len(means) < 2:
        return marks
    for metric in metrics:
        sign = 1.0 if lower_better(metric) else -1.0
        column = {row: _value(values, metric) for row, values in means.items()}
        ranked = sorted({sign * v for v in column.values() if not math.isnan(v)})
        for row, value in column.items():
            if math.isnan(value):
                continue
            if sign * value == ranked[0]:
                marks[(row, metric)] = "best"
            elif len(ranked) > 1 and sign * value == ranked[1]:
                marks[(row, metric)] = "second"
    return marks


def format_value(value: float, digits: int = 4) -> str:
    """``value`` with ``digits`` decimals; NaN as ``NaN``."""
    return "NaN" if math.isnan(value) else f"{value:.{digits}f}"


def format_table(means: Means, metrics: Sequence[str] | None = None, fmt: str = "markdown", *,
                 first: str | None = None, digits: int = 4, caption: str | None = None,
                 extra: Mapping[str, Mapping[str, str]] | None = None,
                 absent: Collection[str] = ()) -> str:
    """Rows × metrics table of ``means`` in one format.

    Args:
        means: ``{row label: {metric: value}}`` (row order kept); a missing metric is NaN.
        metrics: columns (registry names); default: the keys of the first row.
        fmt: ``markdown`` (``**best**``, ``*second*``), ``latex`` (``\\textbf``/``\\textit``,
            ``$\\uparrow$``/``$\\downarrow$``), ``csv`` (full float precision, no marks),
            ``json`` (``{row: {metric: number | null}}``) or ``text`` (aligned, ``*``/``+`` marks).
        first: title of the row-label column (``Configuration``, ``λ_edge, λ_JG``); default
            ``Method`` (``method`` in CSV). LaTeX writes ``λ`` as ``$\\lambda$``. Unused by JSON.
        digits: decimals shown (not CSV / JSON).
        caption: Markdown title line / LaTeX caption.
        extra: further text columns after the metrics, ``{row: {column: text}}`` (e.g. the
            cost columns of :mod:`critnet.evaluation.bench.costs`), never ranked, empty where a row
            has
            none; column order is first appearance (not JSON).
        absent: metrics the convention does not define: ``—`` in every row (empty in CSV,
            null in JSON), never marked.

    Raises:
        InputError: unknown ``fmt``.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown table format {fmt!r}; use one of {', '.join(FORMATS)}")
    metrics = list(next(iter(means.values()), {}) if metrics is None else metrics)
    if fmt == "json":
        return json.dumps({row: {m: None if m in absent else json_number(_value(values, m))
                                 for m in metrics}
                           for row, values in means.items()}, indent=2)
    extra = extra or {}
    if fmt == "csv":
        return _csv(means, metrics, first or "method", extra, absent)
    marks = rank_marks(means, [m for m in metrics if m not in absent])
    render = {"markdown": _markdown, "latex": _latex, "text": _text}[fmt]
    return render(means, metrics, marks, first or "Method", digits, caption, extra, absent)


def json_number(value: float) -> float | None:
    """``value`` for JSON: NaN and ±inf become ``None`` (``null``)."""
    return None if math.isnan(value) or math.isinf(value) else float(value)


def _value(values: Mapping[str, float], metric: str) -> float:
    return float(values.get(metric, math.nan))


def _extra_columns(extra: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The extra column names in order of first appearance."""
    return list(dict.fromkeys(c for columns in extra.values() for c in columns))


def _cells(means: Means, metrics: Sequence[str], marks: Mapping[tuple[str, str], str],
           digits: int, style: Mapping[str, str],
           extra: Mapping[str, Mapping[str, str]], absent: Collection[str]
           ) -> dict[str, list[str]]:
    """``{row: [formatted cell per metric, then per extra column]}`` with ``style[mark]``
    applied to marked cells and :data:`ABSENT` for the ``absent`` metrics."""
    columns = _extra_columns(extra)
    return {row: [style.get(marks.get((row, m), ""), "{}").format(
        ABSENT if m in absent else format_value(_value(values, m), digits)) for m in metrics]
        + [extra.get(row, {}).get(c, "") for c in columns]
        for row, values in means.items()}


def _markdown(means: Means, metrics: Sequence[str], marks: Mapping[tuple[str, str], str],
              first: str, digits: int, caption: str | None,
              extra: Mapping[str, Mapping[str, str]], absent: Collection[str]) -> str:
    lines = [f"**{caption}**", ""] if caption else []
    head = [f"{m} {_arrow(m)}" for m in metrics] + _extra_columns(extra)
    lines += [f"| {first} | " + " | ".join(head) + " |", "|---|" + "---:|" * len(head)]
    cells = _cells(means, metrics, marks, digits, {"best": "**{}**", "second": "*{}*"}, extra,
                   absent)
    lines += [f"| {row} | " + " | ".join(values) + " |" for row, values in cells.items()]
    return "\n".join(lines) + "\n"


def _latex(means: Means, metrics: Sequence[str], marks: Mapping[tuple[str, str], str],
           first: str, digits: int, caption: str | None,
           extra: Mapping[str, Mapping[str, str]], absent: Collection[str]) -> str:
    arrows = {"↑": "$\\uparrow$", "↓": "$\\downarrow$"}
    head = [f"{_tex(m)} {arrows[_arrow(m)]}" for m in metrics]
    head += [_tex(c).replace("×", "$\\times$") for c in _extra_columns(extra)]
    lines = ["\\begin{table}[t]", "\\centering"]
    if caption:
        lines.append(f"\\caption{{{_tex(caption)}}}")
    lines += [f"\\begin{{tabular}}{{l{'c' * len(head)}}}", "\\hline",
              _tex(first).replace("λ", "$\\lambda$") + " & " + " & ".join(head) + " \\\\",
              "\\hline"]
    cells = _cells(means, metrics, marks, digits,
                   {"best": "\\textbf{{{}}}", "second": "\\textit{{{}}}"},
                   {row: {c: _tex(v) for c, v in cols.items()} for row, cols in extra.items()},
                   absent)
    lines += [f"{_tex(row)} & " + " & ".join(values) + " \\\\" for row, values in cells.items()]
    lines += ["\\hline", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def _text(means: Means, metrics: Sequence[str], marks: Mapping[tuple[str, str], str],
          first: str, digits: int, _caption: str | None,
          extra: Mapping[str, Mapping[str, str]], absent: Collection[str]) -> str:
    cells = _cells(means, metrics, marks, digits, {"best": "{}*", "second": "{}+", "": "{} "},
                   extra, absent)
    rows = [[first, *(f"{m} {_arrow(m)}" for m in metrics), *_extra_columns(extra)]]
    rows += [[row, *values] for row, values in cells.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                     for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
    out.append("(* best, + second; ↑ higher is better, ↓ lower is better)")
    return "\n".join(out) + "\n"


def _csv(means: Means, metrics: Sequence[str], first: str,
         extra: Mapping[str, Mapping[str, str]], absent: Collection[str]) -> str:
    extra_columns = _extra_columns(extra)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([first, *metrics, *extra_columns])
    for row, values in means.items():
        writer.writerow([row, *("" if m in absent else repr(_value(values, m)) for m in metrics),
                         *(extra.get(row, {}).get(c, "") for c in extra_columns)])
    return buffer.getvalue()


def _tex(text: str) -> str:
    for char in "\\&%$#_{}":
        text = text.replace(char, "\\" + char)
    return text
