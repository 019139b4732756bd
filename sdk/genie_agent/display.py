"""A turn result as a notebook shows it (HTML) and as a terminal shows it (rich).

Both show the answer, each result's first :data:`SHOWN_ROWS` rows with its row count, the SQL that
produced it and the visualization hint; cells are written as the answers write them
(:func:`genie_agent.formatting.format_cell`: years and ids as they are, measures with separators).
Every text from a result is escaped: a value may hold markup. rich is imported on first use.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .column_kinds import MEASURE_FORMATS, column_formats
from .formatting import format_cell

if TYPE_CHECKING:
    from rich.console import RenderableType

    from .contract import ResultTable, TurnResult, VisualizationHint

__all__ = ["SHOWN_ROWS", "result_html", "result_rich", "turn_html", "turn_rich"]

SHOWN_ROWS = 20
"""Rows of a result shown; the rest are in the result (and its DataFrame)."""

_MUTED = "color:#6b7280;font-size:0.9em"


def _cells(table: ResultTable) -> tuple[list[bool], list[list[str]]]:
    """Whether each column is a measure (right-aligned), and the shown rows as text."""
    rows = table.rows[:SHOWN_ROWS]
    formats = column_formats(table.columns, rows, table.column_types)
    measures = [f in MEASURE_FORMATS for f in formats]
    width = len(table.columns)
    text = [[format_cell(row[i] if i < len(row) else None, formats[i]) for i in range(width)] for row in rows]
    return measures, text


def _caption(table: ResultTable) -> str:
    count = max(table.row_count, len(table.rows))
    words = [f"{count:,} row{'s' if count != 1 else ''}"]
    if count > SHOWN_ROWS and table.rows:
        words.append(f"first {min(SHOWN_ROWS, len(table.rows))} shown")
    if table.truncated:
        words.append("cut off by the space")
    return ", ".join(words)


def _hint_line(hint: VisualizationHint | None) -> str:
    if hint is None:
        return ""
    axes = ", ".join(f"{k} {v}" for k, v in (("x", hint.x), ("y", hint.y), ("series", hint.series)) if v)
    title = f" of {hint.title}" if hint.title else ""
    return (
        f"Chart: {hint.type}{title}"
        + (f" ({axes})" if axes else "")
        + (f": {hint.reason}" if hint.reason else "")
    )


def _route_line(result: TurnResult) -> str:
    if result.route is None or not result.route.kind:
        return ""
    where = f" → {', '.join(result.route.domains)}" if result.route.domains else ""
    return result.route.kind + where + ("" if result.status == "ok" else f" · {result.status}")


def _tables(result: TurnResult) -> list[ResultTable]:
    return [*([result.combined] if result.combined is not None else []), *result.results]


# --- HTML -----------------------------------------------------------------------------------------


def result_html(table: ResultTable) -> str:
    """One result: its name and row count, its first rows as a table, its SQL folded away."""
    e = html.escape
    head = f"<div><strong>{e(table.domain)}</strong> <span style='{_MUTED}'>"
    if table.error is not None:
        return head + f"failed</span></div><div>{e(table.error)}</div>"
    parts = [head + f"{e(_caption(table))}</span></div>"]
    if table.columns:
        measures, rows = _cells(table)
        align = ["text-align:right" if m else "text-align:left" for m in measures]
        header = "".join(f"<th style='{a}'>{e(c)}</th>" for c, a in zip(table.columns, align, strict=True))
        cells = (
            "".join(f"<td style='{a}'>{e(c)}</td>" for c, a in zip(row, align, strict=True)) for row in rows
        )
        body = "".join(f"<tr>{row}</tr>" for row in cells)
        parts.append(f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>")
    if table.sql:
        parts.append(f"<details><summary>SQL</summary><pre>{e(table.sql)}</pre></details>")
    return "<div class='genie-agent-result' style='margin:0.6em 0'>" + "".join(parts) + "</div>"


def _markdown_html(text: str) -> str:
    """The answer's markdown, simply: paragraphs, bold, bullet lists; a table stays as written."""
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if all(line.lstrip().startswith("|") for line in lines):
            blocks.append(f"<pre>{html.escape(block)}</pre>")
            continue
        inline = [re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(line)) for line in lines]
        if all(line.lstrip().startswith(("- ", "* ")) for line in lines):
            items = "".join(f"<li>{line.lstrip()[2:]}</li>" for line in inline)
            blocks.append(f"<ul>{items}</ul>")
        else:
            blocks.append("<p>" + "<br>".join(inline) + "</p>")
    return "".join(blocks)


def turn_html(result: TurnResult) -> str:
    """The turn: where it went, the answer, the chart it suggests, and each result."""
    e = html.escape
    route = _route_line(result)
    parts = [f"<div style='{_MUTED}'>{e(route)}</div>"] if route else []
    parts.append(_markdown_html(result.text))
    if result.error is not None:
        parts.append(f"<p><strong>{e(result.error.message)}</strong><br>{e(result.error.hint)}</p>")
    if result.suggested_questions:
        parts.append("<ul>" + "".join(f"<li>{e(q)}</li>" for q in result.suggested_questions) + "</ul>")
    hint = _hint_line(result.visualization_hint)
    if hint:
        parts.append(f"<div style='{_MUTED}'>{e(hint)}</div>")
    parts.extend(result_html(t) for t in _tables(result))
    return "<div class='genie-agent-turn'>" + "".join(parts) + "</div>"


# --- rich -----------------------------------------------------------------------------------------


def result_rich(table: ResultTable) -> RenderableType:
    """One result as rich renders it: a table titled with its space, its SQL below."""
    from rich.console import Group
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    if table.error is not None:
        return Text.assemble((table.domain, "bold"), (" failed: ", "dim"), table.error)
    grid = Table(title=table.domain, caption=_caption(table), title_justify="left", caption_justify="left")
    measures, rows = _cells(table)
    for name, measure in zip(table.columns, measures, strict=True):
        grid.add_column(name, justify="right" if measure else "left")
    for row in rows:
        grid.add_row(*(Text(cell) for cell in row))  # Text: no console markup in values
    parts: list[Any] = [grid] if table.columns else [Text(table.domain, style="bold")]
    if table.sql:
        parts.append(Syntax(table.sql, "sql", word_wrap=True, background_color="default"))
    return Group(*parts)


def _turn_parts(result: TurnResult) -> Iterator[RenderableType]:
    from rich.markdown import Markdown
    from rich.text import Text

    route = _route_line(result)
    if route:
        yield Text(route, style="dim")
    if result.text:
        yield Markdown(result.text)
    if result.error is not None:
        yield Text.assemble((result.error.message, "bold red"), "\n", result.error.hint)
    for question in result.suggested_questions:
        yield Text(f"• {question}")
    hint = _hint_line(result.visualization_hint)
    if hint:
        yield Text(hint, style="dim")
    for table in _tables(result):
        yield result_rich(table)


def turn_rich(result: TurnResult) -> RenderableType:
    """The turn as rich renders it (``rich.print(result)``, IPython with rich's extension)."""
    from rich.console import Group

    return Group(*_turn_parts(result))
