"""What the agent remembers about the user: list, forget the selected memory, forget all, refresh.

Every action goes through the target's SDK client (see :mod:`..memory`); a target
that cannot answer it leaves a notice in the panel, never an exception.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from genie_agent.errors import GenieAgentError

from ..memory import MemoryActionName, MemoryEntry, memory_action, when
from ..targets import ChatTarget
from ..widgets.notice import Notice

__all__ = ["ConfirmScreen", "MemoryScreen"]


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: ``y`` confirms, ``n`` or Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "dismiss(True)", "Yes"),
        Binding("n,escape", "dismiss(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body", classes="modal-body"):
            yield Static(self.question, classes="modal-title")
            yield Static("y confirms · n or Esc cancels", classes="dim")


class MemoryScreen(ModalScreen[None]):
    """The memory panel over the chat. ``entries`` holds the memories last listed; ``busy`` is on while
    a request is in flight (tests wait on it)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f2", "dismiss(None)", "Close"),
        Binding("d,delete", "forget", "Forget"),
        Binding("a", "forget_all", "Forget all"),
        Binding("r,f5", "refresh", "Refresh"),
    ]

    def __init__(self, target: ChatTarget) -> None:
        super().__init__()
        self.target = target
        self.entries: list[MemoryEntry] = []
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="memory-body", classes="modal-body"):
            yield Static("Memories — what the agent remembers about you", classes="modal-title")
            yield Static("Loading…", id="memory-status", classes="dim")
            yield Vertical(id="memory-notices")
            yield OptionList(id="memory-list")
        yield Footer()

    @property
    def option_list(self) -> OptionList:
        return self.query_one("#memory-list", OptionList)

    def on_mount(self) -> None:
        self.option_list.focus()
        self.action_refresh()

    # --- actions -----------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        """List the memories again."""
        self._run("list")

    def action_forget(self) -> None:
        """Forget the highlighted memory."""
        index = self.option_list.highlighted
        if index is None or not self.entries:
            self.app.notify("There is no memory to forget.", severity="warning")
            return
        self._run("forget", self.entries[index].id)

    def action_forget_all(self) -> None:
        """Forget every memory, after a confirmation."""
        if not self.entries:
            self.app.notify("There is no memory to forget.", severity="warning")
            return
        count = len(self.entries)
        question = f"Forget all {count} memor{'y' if count == 1 else 'ies'} the agent has about you?"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._run("forget_all")

        self.app.push_screen(ConfirmScreen(question), confirmed)

    def _run(self, action: MemoryActionName, memory_id: str | None = None) -> None:
        self.busy = True
        self._request(action, memory_id)

    @work(exclusive=True, group="memory", exit_on_error=False)
    async def _request(self, action: MemoryActionName, memory_id: str | None) -> None:
        status = self.query_one("#memory-status", Static)
        status.update("Forgetting…" if action != "list" else "Loading…")
        try:
            done = ""
            if action != "list":
                outcome = await memory_action(self.target, action, memory_id)
                done = f"{outcome.text} "
            listed = await memory_action(self.target, "list")
            await self._show(listed.memories)
            if listed.disabled:
                await self._notice(Notice(listed.text, kind="warning"))
                status.update(done.strip())
            else:
                count = len(listed.memories)
                status.update(f"{done}{count} memor{'y' if count == 1 else 'ies'} on {self.target.label}.")
        except GenieAgentError as exc:
            status.update("")
            await self._notice(Notice(exc.message, exc.hint, kind="error"))
        except Exception as exc:  # a bug must show up in the panel, not end the app
            status.update("")
            await self._notice(Notice(f"Unexpected error: {type(exc).__name__}: {exc}", kind="error"))
        finally:
            self.busy = False

    async def _notice(self, notice: Notice | None) -> None:
        box = self.query_one("#memory-notices")
        await box.remove_children()
        if notice is not None:
            await box.mount(notice)

    async def _show(self, entries: tuple[MemoryEntry, ...]) -> None:
        await self._notice(None)
        options = self.option_list
        previous = options.highlighted
        self.entries = list(entries)
        options.clear_options()
        options.add_options([Option(_label(e), id=e.id) for e in entries])
        if entries:
            options.highlighted = min(previous or 0, len(entries) - 1)
        else:
            options.add_option(
                Option(Text("The agent remembers nothing about you yet.", style="dim"), disabled=True)
            )


def _label(entry: MemoryEntry) -> Text:
    text = Text()
    text.append(f"{entry.kind:<11}", style="bold")
    text.append(entry.text)
    text.append(f"  {when(entry)}", style="dim")
    return text
