"""What every ``genie-agent`` command shares: the group that reports a ``GenieAgentError`` (once, here),
the context object, and the decorators that fill and read it.

A subcommand raises; :class:`GenieAgentGroup` prints the error's message, its problems and its hint on
stderr (and, under ``--json``, one ``{"status": "error", ...}`` object on stdout) and exits with the
error class's ``exit_code``: 1 a failure, 2 bad input or configuration. Settings are loaded when a
command asks for them (:func:`pass_settings`), after its own options were read, so ``--json``
(:func:`json_option`, kept on the context object) applies to configuration errors too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import update_wrapper
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

from genie_agent.errors import GenieAgentError, UserInputError

if TYPE_CHECKING:
    from genie_agent.config import Settings

__all__ = ["EXIT_BAD_INPUT", "EXIT_ERROR", "CliState", "GenieAgentGroup", "json_option", "pass_settings"]

EXIT_ERROR, EXIT_BAD_INPUT = GenieAgentError.exit_code, UserInputError.exit_code

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class CliState:
    """The context object (``ctx.obj``): whether the command prints JSON, and the settings once loaded."""

    as_json: bool = False
    loaded: Settings | None = None

    def settings(self) -> Settings:
        """The effective settings, loaded on first use; raises ConfigError with every problem."""
        if self.loaded is None:
            from genie_agent.config import load_settings

            self.loaded = load_settings()
        return self.loaded


def _report(exc: GenieAgentError, *, as_json: bool) -> None:
    """The error as the command line shows it: JSON on stdout (``as_json``), message, problems, hint."""
    problems = getattr(exc, "problems", [])
    if as_json:
        error = {"type": type(exc).__name__, "message": exc.message, "hint": exc.hint, "problems": problems}
        click.echo(json.dumps({"status": "error", "error": error}))
    click.secho(f"Error: {exc.message}", fg="red", err=True)
    for problem in problems:
        click.echo(f"  - {problem}", err=True)
    if exc.hint:
        click.echo(f"Hint: {exc.hint}", err=True)


class GenieAgentGroup(click.Group):
    """A group whose subcommands raise ``GenieAgentError``: reported once here, exit code from its class."""

    def invoke(self, ctx: click.Context) -> Any:
        state = ctx.ensure_object(CliState)
        try:
            return super().invoke(ctx)
        except GenieAgentError as exc:
            _report(exc, as_json=state.as_json)
            raise click.exceptions.Exit(exc.exit_code) from None


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.ensure_object(CliState).as_json = value
    return value


def json_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--json`` (passed as ``as_json``), also kept on the context object for error reports."""
    return click.option("--json", "as_json", is_flag=True, help=help, callback=_remember_json)


def pass_settings(f: Callable[Concatenate[Settings, P], R]) -> Callable[P, R]:
    """Pass the settings as the command's first argument (loaded on first use; a ConfigError is reported)."""

    def new_func(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx = click.get_current_context()
        return ctx.invoke(f, ctx.ensure_object(CliState).settings(), *args, **kwargs)

    return update_wrapper(new_func, f)
