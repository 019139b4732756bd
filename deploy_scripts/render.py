"""Terminal rendering of a turn result for ``genie-agent ask``: the answer, its tables, its SQL."""

from __future__ import annotations

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from genie_agent.formatting import format_value, is_number
from genie_agent.turn import TurnResult

__all__ = ["render_result"]


def render_result(result: TurnResult, console: Console | None = None) -> None:
    """The answer as Markdown, then each result as a table, then how to continue the thread."""
    console = console or Console()
    console.print(Markdown(result.text))
    for table in result.results:
        if table.error is not None or not table.columns:
            continue
        console.print(f"\n[bold]{table.domain}[/bold]: {table.text}", highlight=False)
        view = Table(show_lines=False)
        numeric = [
            bool(table.rows) and all(is_number(r[i]) or r[i] is None for r in table.rows)
            for i in range(len(table.columns))
        ]
        for name, is_num in zip(table.columns, numeric, strict=True):
            view.add_column(name, justify="right" if is_num else "left")
        for row in table.rows[:50]:
            view.add_row(*(format_value(v) for v in row))
        if table.row_count > 50:
            view.caption = f"first 50 of {table.row_count} rows" + (" (truncated)" if table.truncated else "")
        console.print(view)
        if table.sql:
            console.print(f"[dim]{table.sql}[/dim]", highlight=False)
    if result.suggested_questions and result.status in ("clarify", "out_of_scope", "refused"):
        console.print("You could ask:")
        for q in result.suggested_questions:
            console.print(f"  • {q}", highlight=False)
    if not result.grounding["ok"]:
        console.print(
            f"[yellow]Unsupported numbers: {', '.join(result.grounding['unsupported_numbers'])}[/yellow]"
        )
    console.print(
        f"[dim]thread {result.thread_id} — continue with --thread-id {result.thread_id}[/dim]",
        highlight=False,
    )
