"""A horizontal axis: a line with a tick under each labelled position, and the labels beneath."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

__all__ = ["fit", "legend", "ruler", "spread_marks"]


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _place(
    marks: Sequence[tuple[int, str]], width: int, *, strict: bool
) -> list[tuple[int, int, str]] | None:
    """(tick column, label start, label) of each mark whose label fits two spaces after the one
    before; with ``strict``, None as soon as one does not."""
    placed: list[tuple[int, int, str]] = []
    end = -3  # the last cell of the label before
    for col, label in marks:
        start = min(max(col - (len(label) - 1) // 2, 0), max(width - len(label), 0))
        if start < end + 3 or start + len(label) > width:
            if strict:
                return None
            continue
        placed.append((col, start, label))
        end = start + len(label) - 1
    return placed


def spread_marks(marks: Sequence[tuple[int, str]], width: int) -> list[tuple[int, str]]:
    """Every k-th mark, for the smallest k whose labels all fit side by side (always the first)."""
    for k in range(1, max(len(marks), 1) + 1):
        chosen = list(marks[::k])
        if _place(chosen, width, strict=True) is not None:
            return chosen
    return list(marks[:1])


def ruler(marks: Sequence[tuple[int, str]], length: int, width: int, *, corner: str = "") -> tuple[str, str]:
    """The axis line (``corner`` then ``length`` cells, ``┬`` under each label that fits) and the
    labels line (``width`` cells, aligned with the line's cells after the corner)."""
    placed = _place(marks, width, strict=False) or []
    line = ["─"] * length
    labels = [" "] * width
    for col, start, label in placed:
        if 0 <= col < length:
            line[col] = "┬"
        labels[start : start + len(label)] = label
    return corner + "".join(line), "".join(labels).rstrip()


def legend(names: Sequence[str], colours: Sequence[str], width: int, *, more: int = 0) -> Text:
    """``■ name`` per series in its colour, wrapped to ``width``; ``more`` series left out said last."""
    out = Text(no_wrap=True, overflow="crop")
    used = 0
    entries = [(fit(name, 24) or "(empty)", colour) for name, colour in zip(names, colours, strict=False)]
    for i, (name, colour) in enumerate(entries):
        size = len(name) + 2
        if used and used + 2 + size > width:
            out.append("\n")
            used = 0
        elif i:
            out.append("  ")
            used += 2
        out.append("■ ", style=colour)
        out.append(name)
        used += size
    if more:
        out.append(f"  (+{more} more in the table)", style="dim")
    return out
