"""The chat app: a conversation with the agent on any target, its answers streamed as they arrive.

Layout: header (target), the conversation (:class:`ChatLog` of :class:`TurnView`), the question box,
the footer with the keys. A turn runs in an exclusive worker: asking again or Esc cancels the one in
flight. Turns go through the target's SDK client (:mod:`genie_agent.client`); the conversation state
(``thread_id``, ``genie_conversation_ids``) is the session's, handed to the client before each turn,
so a stateless endpoint keeps the thread and a reopened chat continues its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header
from textual.worker import Worker, get_current_worker

from genie_agent.client import ThreadState
from genie_agent.client.base import request_body
from genie_agent.errors import GenieAgentError

from .feedback import RATING_COMMANDS, FeedbackActions
from .messages import PromptSubmitted, TurnCancelled, TurnCompleted, TurnFailed
from .screens.help import HelpScreen
from .screens.memory import MemoryScreen
from .screens.sessions import SessionsScreen
from .screens.target_picker import TargetScreen
from .sessions import PromptHistory, Session, SessionStore
from .stream import TurnReader, parse_outputs
from .targets import ChatTarget, RequestBody, TargetSpec
from .widgets.chat_log import ChatLog
from .widgets.fitted_footer import FittedFooter
from .widgets.notice import Notice
from .widgets.prompt_input import PromptInput
from .widgets.rating import TurnRating
from .widgets.turn_view import TurnView

__all__ = ["GenieChatApp", "TargetFactory"]

TargetFactory = Callable[[TargetSpec], ChatTarget]

_SLASH = {
    "/new": "new_chat",
    "/sessions": "sessions",
    "/memories": "memories",
    "/sql": "toggle_sql",
    "/copy": "copy_sql",
    "/export": "export",
    "/chart": "genie_chart",
    "/target": "pick_target",
    "/theme": "change_theme",
    "/help": "help",
    "/quit": "quit",
}


class GenieChatApp(FeedbackActions):
    """``genie-agent chat``. Tests build it over a target and drive it with ``run_test()``.

    ``make_target`` builds a target from a pick in the target screen (None: picking is off);
    ``clock`` times the status line (tests pass a fixed one for stable snapshots).
    """

    CSS_PATH = "app.tcss"
    TITLE = "genie-agent"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel_turn", "Cancel"),
        Binding("ctrl+n", "new_chat", "New"),
        Binding("ctrl+o", "sessions", "Sessions"),
        Binding("ctrl+s", "toggle_sql", "SQL"),
        Binding("ctrl+y", "copy_sql", "Copy SQL"),
        Binding("ctrl+r", "export", "CSV"),
        Binding("ctrl+g", "genie_chart", "Genie chart", show=False),
        Binding("ctrl+t", "pick_target", "Target", show=False),
        Binding("f1", "help", "Help"),
        Binding("f2", "memories", "Memories"),
        Binding("pageup", "scroll_log(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_log(1)", "Scroll down", show=False),
    ]
    # The footer's keys, most needed first: a narrow terminal leaves the last ones out of the footer
    # (they still work; F1 and the command palette list them).
    FOOTER_PRIORITY = (
        "cancel_turn",
        "rate('up')",
        "rate('down')",
        "help",
        "new_chat",
        "toggle_sql",
        "sessions",
        "memories",
        "export",
        "comment",
        "copy_sql",
    )

    turn_running: reactive[bool] = reactive(False, init=False)

    def __init__(
        self,
        target: ChatTarget,
        *,
        home: Path,
        make_target: TargetFactory | None = None,
        known_targets: Sequence[TargetSpec] = (),
        clock: Callable[[], float] = time.monotonic,
        export_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.target = target
        self.make_target = make_target
        self.known_targets = list(known_targets)
        self.clock = clock
        self.export_dir = export_dir or Path.cwd()
        self.store = SessionStore(home / "tui")
        self.history = PromptHistory(home / "tui" / "history.json")
        self.session = Session(target=target.label)
        self._turn: Worker[None] | None = None

    # --- layout ------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield ChatLog(self.target.label)
        # The memory panel is a screen over the chat (F2, the palette's "Memories", /memories), offered
        # when ``self.target.features.memory`` is on: see ``action_memories``.
        yield PromptInput(self.history, id="prompt")
        yield FittedFooter(self.FOOTER_PRIORITY)

    def on_mount(self) -> None:
        self.sub_title = self.target.label
        prompt = self.query_one(PromptInput)
        # Nobody watches a headless app (tests, screenshots): a blinking cursor only makes them differ.
        prompt.cursor_blink = not self.is_headless
        prompt.focus()
        self.connect_target()

    async def on_unmount(self) -> None:
        if self._turn is not None:
            self._turn.cancel()
        await self.target.aclose()

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect_target(self) -> None:
        """Warm the target up (build the embedded agent, resolve credentials) while the user types."""
        target = self.target
        self.sub_title = f"{target.label} · starting…"
        try:
            await target.connect()
        except GenieAgentError as exc:
            if target is self.target:
                self.sub_title = f"{target.label} · not connected"
                await self.chat_log.mount(Notice(exc.message, exc.hint, kind="error"))
            return
        except Exception as exc:  # never let a target's bug take the app down
            if target is self.target:
                self.sub_title = f"{target.label} · not connected"
                await self.chat_log.mount(Notice(f"{type(exc).__name__}: {exc}", kind="error"))
            return
        if target is self.target:
            self.sub_title = target.label

    # --- asking ------------------------------------------------------------------------------------
    @on(PromptSubmitted)
    async def _prompt(self, event: PromptSubmitted) -> None:
        text = event.text
        if text.split()[0].lower() in RATING_COMMANDS:
            self.rating_command(text)
            return
        if text.startswith("/"):
            command = text.split()[0].lower()
            action = _SLASH.get(command)
            if action is None:
                self.notify(f"Unknown command {command}. Try /help.", severity="warning")
                return
            await self.run_action(action)
            return
        await self.ask(text)

    @property
    def thread(self) -> ThreadState:
        """The conversation the next question continues: the session's."""
        return ThreadState(self.session.thread_id, dict(self.session.genie_conversation_ids))

    def request_body(self, question: str) -> RequestBody:
        """The Responses request the client sends for ``question``, continuing the session's thread."""
        return request_body(question, self.thread)

    async def ask(self, question: str) -> None:
        """Start a turn (cancelling the one in flight, if any)."""
        if self._turn is not None and self._turn.is_running:
            self._turn.cancel()
        view = TurnView(question, clock=self.clock, show_sql=self.show_sql)
        await self.chat_log.add_turn(view)
        self.turn_running = True
        self._turn = self.run_turn(view, self.thread)

    @work(exclusive=True, group="turn", exit_on_error=False)
    async def run_turn(self, view: TurnView, thread: ThreadState) -> None:
        reader = TurnReader()
        question = view.question
        client = self.target.client
        try:
            view.status.routing()
            client.thread = thread
            async for event in client.astream(question):
                for update in reader.take(event):
                    await view.apply(update)
            if view.finished and view.outputs is not None:
                self.post_message(TurnCompleted(question, view.text, view.outputs))
            else:
                message = "The answer ended before it was complete."
                hint = "Try again; if it happens again, check the server's log."
                await view.fail(message, hint)
                self.post_message(TurnFailed(question, message, hint))
        except asyncio.CancelledError:
            await view.cancel()
            self.post_message(TurnCancelled(question))
            raise
        except GenieAgentError as exc:  # unreachable, refused, a broken stream, the agent's own error
            await view.fail(exc.message, exc.hint)
            self.post_message(TurnFailed(question, exc.message, exc.hint))
        except Exception as exc:  # a bug must show up in the conversation, not end the app
            message = f"Unexpected error: {type(exc).__name__}: {exc}"
            hint = "Try again; if it happens again, please report it with the question."
            await view.fail(message, hint)
            self.post_message(TurnFailed(question, message, hint))
        finally:
            if get_current_worker() is self._turn:  # not when a newer turn has replaced this one
                self.turn_running = False

    @on(TurnCompleted)
    def _completed(self, event: TurnCompleted) -> None:
        self.session.target = self.target.label
        self.session.record(event.question, event.text, event.outputs.raw)
        self.query_one(PromptInput).answered(True)
        try:
            self.store.save(self.session)
        except OSError as exc:
            self.notify(f"Could not save the session: {exc}", severity="warning")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_turn":
            return self.turn_running
        if action == "memories":
            return self.target.features.memory
        return True

    def watch_turn_running(self) -> None:
        self.refresh_bindings()

    # --- actions -----------------------------------------------------------------------------------
    def action_cancel_turn(self) -> None:
        """Cancel the turn in flight."""
        if self._turn is not None and self._turn.is_running:
            self._turn.cancel()

    async def action_new_chat(self) -> None:
        """Start a fresh thread (the current chat stays in the sessions list)."""
        self.action_cancel_turn()
        self.session = Session(target=self.target.label)
        await self.chat_log.clear()
        self.query_one(PromptInput).answered(False)
        self.query_one(PromptInput).focus()
        self.notify("New chat: the next question starts a fresh thread.")

    def action_sessions(self) -> None:
        """List earlier chats; Enter reopens one."""
        self.push_screen(SessionsScreen(self.store.list(), current=self.session.id), self._open_session)

    async def _open_session(self, session_id: str | None) -> None:
        if session_id is None:
            return
        session = self.store.load(session_id)
        if session is None:
            self.notify("That session could not be read.", severity="error")
            return
        await self.open_session(session)

    async def open_session(self, session: Session) -> None:
        """Show a stored chat and continue its thread."""
        self.action_cancel_turn()
        await self.chat_log.clear()
        for turn in session.turns:
            rating = turn.rating or {}
            view = TurnView(
                turn.question,
                clock=self.clock,
                show_sql=self.show_sql,
                restored=(turn.text, parse_outputs(turn.outputs)),
                rating=TurnRating(rating["rating"], rating.get("comment"), rating.get("text") or "")
                if rating.get("rating") in ("up", "down")
                else None,
            )
            await self.chat_log.add_turn(view)
        self.session = session
        self.query_one(PromptInput).answered(bool(session.turns))
        if session.target and session.target != self.target.label:
            self.notify(
                f"This chat was on {session.target}; you are talking to {self.target.label}. "
                "Follow-ups continue the thread only where it is known.",
                severity="warning",
                timeout=8,
            )
        self.query_one(PromptInput).focus()

    def action_memories(self) -> None:
        """What the agent remembers about you: list, forget one, forget all."""
        if not self.target.features.memory:
            self.notify(f"{self.target.label} does not offer memories.", severity="warning")
            return
        self.push_screen(MemoryScreen(self.target))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_scroll_log(self, direction: int) -> None:
        log = self.chat_log
        if direction < 0:
            log.scroll_page_up()
        else:
            log.scroll_page_down()

    def action_pick_target(self) -> None:
        """Choose the embedded agent, a URL or a serving endpoint."""
        if self.make_target is None:
            self.notify("Picking a target is not available here.", severity="warning")
            return
        known = list(dict.fromkeys([*self.known_targets, self.target.spec]))
        self.push_screen(TargetScreen(known, current=self.target.spec), self._switch_target)

    async def _switch_target(self, spec: TargetSpec | None) -> None:
        if spec is None or self.make_target is None or spec == self.target.spec:
            return
        try:
            target = self.make_target(spec)
        except GenieAgentError as exc:
            self.notify(f"{exc.message} {exc.hint}", severity="error")
            return
        old, self.target = self.target, target
        self.action_cancel_turn()
        await old.aclose()
        if spec not in self.known_targets:
            self.known_targets.append(spec)
        self.chat_log.set_target(target.label)
        await self.action_new_chat()
        self.refresh_bindings()  # the new target may offer other features (memories)
        self.connect_target()

    # --- command palette ---------------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand("New chat", "Start a fresh thread (Ctrl+N)", self.action_new_chat)
        yield SystemCommand("Switch session", "Reopen an earlier chat (Ctrl+O)", self.action_sessions)
        yield SystemCommand(
            "Pick target", "Embedded agent, a URL or a serving endpoint (Ctrl+T)", self.action_pick_target
        )
        yield SystemCommand(
            "Hide SQL" if self.show_sql else "Show SQL",
            "The SQL of every result (Ctrl+S)",
            self.action_toggle_sql,
        )
        yield SystemCommand("Copy SQL", "Copy the SQL of the current result (Ctrl+Y)", self.action_copy_sql)
        yield SystemCommand("Export CSV", "Export the current result to CSV (Ctrl+R)", self.action_export)
        yield SystemCommand(
            "Rate up", "Thumbs-up for the last answer (+)", lambda: self.rating_command("/up")
        )
        yield SystemCommand(
            "Rate down", "Thumbs-down for the last answer (-)", lambda: self.rating_command("/down")
        )
        yield SystemCommand(
            "Rate with a comment",
            "A comment on the last answer's rating (c)",
            lambda: self.rating_command("/comment"),
        )
        yield SystemCommand("Help", "Keys and commands (F1)", self.action_help)
        if self.target.features.memory:
            yield SystemCommand(
                "Memories", "What the agent remembers about you; forget it (F2)", self.action_memories
            )
        yield from super().get_system_commands(screen)
