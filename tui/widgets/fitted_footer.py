"""A footer that fits its width: the keys that do not fit are left out, least needed first.

Textual's footer lays its keys out in one row and cuts the last one off ("f2 Memor…") when the
terminal is narrow. This one leaves out whole keys instead, in the reverse of ``priority`` (action
names, most needed first); a key left out still works, and F1 and the command palette list it.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

__all__ = ["FittedFooter"]

# Cells around a key's text in the default (non-compact) footer: one either side of the key, one after
# the description (the command palette's key: its left border, no left padding, one cell at the right).
_KEY_PADDING = 3
_PALETTE_PADDING = 3


def _width(key: FooterKey, padding: int) -> int:
    return len(key.key_display) + len(key.description) + padding


class FittedFooter(Footer):
    """``priority``: the footer's actions, most needed first; actions not named go last."""

    def __init__(self, priority: Sequence[str]) -> None:
        super().__init__()
        self.priority = list(priority)
        self._fitted_width = 0

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        palette = [k for k in keys if isinstance(k, FooterKey) and k.has_class("-command-palette")]
        shown = [k for k in keys if isinstance(k, FooterKey) and k not in palette]
        budget = self.app.size.width - sum(_width(k, _PALETTE_PADDING) for k in palette)
        self._fitted_width = self.app.size.width

        def rank(key: FooterKey) -> int:
            return self.priority.index(key.action) if key.action in self.priority else len(self.priority)

        by_need = sorted(shown, key=rank)
        while by_need and sum(_width(k, _KEY_PADDING) for k in by_need) > budget:
            by_need.pop()
        yield from (k for k in keys if k in by_need or k in palette or not isinstance(k, FooterKey))

    def on_resize(self, event: events.Resize) -> None:
        if self.app.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)
