"""The README's keys table of the terminal chat says what the code binds: every key the chat's own
widgets and screens bind, every slash command, every key of the help screen; and it names no key that
nothing binds."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from textual.app import App
from textual.binding import Binding

import genie_agent_tui
from genie_agent_tui.app import _SLASH, GenieChatApp
from genie_agent_tui.feedback import RATING_COMMANDS
from genie_agent_tui.screens.help import HELP_TEXT

README = Path(__file__).resolve().parents[2] / "README.md"

_NAMED = {
    "escape": "Esc",
    "enter": "Enter",
    "tab": "Tab",
    "shift+tab": "Shift+Tab",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "home": "Home",
    "end": "End",
    "delete": "Del",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "plus": "+",
    "minus": "-",
    "slash": "/",
}


def display(key: str) -> str:
    """A Textual key as the README writes it: ``ctrl+home`` -> ``Ctrl+Home``, ``f2`` -> ``F2``."""
    if key in _NAMED:
        return _NAMED[key]
    if key.startswith("ctrl+"):
        rest = key.removeprefix("ctrl+")
        return "Ctrl+" + _NAMED.get(rest, rest.capitalize())
    if re.fullmatch(r"f\d+", key):
        return key.upper()
    return key


def _keys(cls: type) -> set[str]:
    """The keys a class binds itself (its own ``BINDINGS``, not inherited ones)."""
    keys: set[str] = set()
    for binding in cls.__dict__.get("BINDINGS", []):
        spec = binding.key if isinstance(binding, Binding) else binding[0]
        keys.update(display(k.strip()) for k in spec.split(","))
    return keys


def own_classes() -> list[type]:
    """Every class of the chat package that declares ``BINDINGS``."""
    found = []
    for info in pkgutil.walk_packages(genie_agent_tui.__path__, genie_agent_tui.__name__ + "."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and "BINDINGS" in cls.__dict__:
                found.append(cls)
    return found


def bound_anywhere() -> set[str]:
    """Every key bound by the chat's classes or what they inherit from Textual, and the palette's key."""
    keys = {display(App.COMMAND_PALETTE_BINDING)}
    for cls in own_classes():
        for base in cls.__mro__:
            keys |= _keys(base)
    return keys


def readme_keys_table() -> list[tuple[str, str]]:
    """The rows (key, does) of the keys table in '## The terminal chat'."""
    section = README.read_text().split("## The terminal chat", 1)[1].split("\n## ", 1)[0]
    table = section.split("| key | does |\n|---|---|\n", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines():
        key, does = line.strip("|").split(" | ", 1)
        rows.append((key.strip(), does.strip()))
    return rows


def key_tokens(cell: str) -> set[str]:
    """The keys a key cell names: ``Tab, Shift+Tab / PgUp, PgDn``; ``/`` alone or last (``s / /``) is
    the slash key, else it separates keys."""
    if cell == "/":
        return {"/"}
    if cell.endswith(" / /"):
        return key_tokens(cell.removesuffix(" / /")) | {"/"}
    return {t.strip(",") for t in cell.split() if t != "/"}


def documented_keys() -> set[str]:
    """Keys in the table's key column, and keys written as code in its descriptions (`` `g` ``)."""
    rows = readme_keys_table()
    keys = set().union(*(key_tokens(key) for key, _ in rows))
    for _, does in rows:
        keys |= {c for c in re.findall(r"`([^`]+)`", does) if not c.startswith(("/", "$"))}
    return keys


def test_every_key_the_chat_binds_is_in_the_readme():
    classes = own_classes()
    assert GenieChatApp in classes and len(classes) >= 10  # the walk found the app and its widgets
    documented = documented_keys()
    missing = {f"{cls.__name__}: {key}" for cls in classes for key in _keys(cls) - documented}
    assert not missing, f"bound but not in the README's keys table: {sorted(missing)}"


def test_the_readme_names_no_key_that_nothing_binds():
    rows = readme_keys_table()
    named = set().union(*(key_tokens(key) for key, _ in rows))
    unbound = named - bound_anywhere()
    assert not unbound, f"in the README's keys table but bound nowhere: {sorted(unbound)}"


def test_every_slash_command_is_in_the_readme_and_the_help():
    section = README.read_text().split("## The terminal chat", 1)[1].split("\n## ", 1)[0]
    for command in [*_SLASH, *RATING_COMMANDS]:
        assert re.search(rf"`{command}[` ]", section), f"{command} is not in the README"
        assert re.search(rf"`{command}[` ]", HELP_TEXT), f"{command} is not in the help screen"


def test_every_key_of_the_help_screen_is_in_the_readme():
    table = [line for line in HELP_TEXT.splitlines() if line.startswith("| ") and "---" not in line]
    help_keys = set().union(*(key_tokens(line.strip("|").split(" | ")[0].strip()) for line in table[1:]))
    assert {"Ctrl+G", "F2", "s", "/"} <= help_keys  # the help's table was read
    missing = help_keys - documented_keys()
    assert not missing, f"in the help screen but not in the README's keys table: {sorted(missing)}"
