"""Every error genie-agent defines is in one tree, split by whose fault it is, as errors.py draws it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

from genie_agent import errors
from genie_agent.errors import BackendError, ConfigError, GenieAgentError, UserInputError

PACKAGES = ("genie_agent", "genie_agent_cli", "genie_agent_tui")  # sdk/genie_agent, deploy_scripts, tui
BRANCHES = (UserInputError, ConfigError, BackendError)

# Never raised past its own package, so outside the tree: the emulator's HTTP error is what the stand-in
# for Databricks answers (its server writes it as a response). Adding a class here must be as deliberate.
OUTSIDE = {
    "genie_agent.genie_api.errors.ApiError",
    # The Postgres question limiter's signal to itself that a waiting question moves to the process's
    # own limiter (the database failed): caught where it is raised, never seen by a caller.
    "genie_agent.capacity.postgres._FellBack",
    # Each caught by its one caller and turned into that caller's answer: the emulator's FAILED
    # statement and its 400 for a table it does not hold; the metric view loader's ConfigError.
    "genie_agent.genie_api.statement_sql.StatementFailure",
    "genie_agent.workspace_spaces.sql_names.UnknownTableError",
    "genie_agent.metric_views.expressions.ExpressionError",
}

# The command line's exit code per class (deploy_scripts/cli_base.py reads ``exit_code``).
EXIT_CODES = {
    "GenieAgentError": 1,
    "UserInputError": 2,
    "UnknownSpaceError": 2,
    "UnsafeRequestError": 2,
    "ThreadNotAvailableError": 2,
    "AuthenticationError": 1,
    "PermissionDeniedError": 1,
    "EvaluationGateError": 1,
    "ConfigError": 2,
    "BackendError": 1,
    "BackendTimeoutError": 1,
    "RateLimitedError": 1,
    "SpaceApiError": 1,
    "MemoryUnavailableError": 1,
    "LakebaseUnavailableError": 1,
    "VisualizationUnavailableError": 1,
    "TargetError": 1,
    "TargetUnreachableError": 1,
    "TargetAuthError": 1,
    "TargetRequestError": 1,
    "MemoryActionError": 1,
    "SpaceFailedError": 1,
    "UnknownTurnError": 2,
    "TurnNotTracedError": 2,
    "PlanError": 2,
}


def _defined_errors() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of the packages, by ``module.Name``."""
    found: dict[str, type[BaseException]] = {}
    for package in PACKAGES:
        root = importlib.import_module(package)
        names = [package] + [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.")]
        for name in names:
            module = importlib.import_module(name)
            for value in vars(module).values():
                if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name:
                    found[f"{name}.{value.__qualname__}"] = value
    return found


def _drawn_tree() -> dict[str, str | None]:
    """errors.py's drawing: each class name -> the name of the class it hangs from (None for the root)."""
    doc = errors.__doc__ or ""
    block = doc[doc.index("::\n\n") + 4 :].split("\n\n")[0]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = re.search(r"\b([A-Z]\w*Error)\b", line)
        if match is None:
            continue
        column, name = match.start(), match.group(1)
        while stack and stack[-1][0] >= column:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((column, name))
    return parents


@pytest.fixture(scope="module")
def defined() -> dict[str, type[BaseException]]:
    return _defined_errors()


def test_the_walk_finds_the_errors_of_every_package(defined: dict[str, type[BaseException]]) -> None:
    modules = {cls.__module__ for cls in defined.values()}
    assert {"genie_agent.errors", "genie_agent.memory.errors", "genie_agent.client.errors"} <= modules
    assert len(defined) >= len(EXIT_CODES)


def test_every_error_is_under_exactly_one_fault_branch(defined: dict[str, type[BaseException]]) -> None:
    outside = {path for path, cls in defined.items() if not issubclass(cls, GenieAgentError)}
    assert outside == OUTSIDE
    for path, cls in defined.items():
        if path in OUTSIDE or cls in (GenieAgentError, *BRANCHES):
            continue
        under = [branch.__name__ for branch in BRANCHES if issubclass(cls, branch)]
        assert len(under) == 1, f"{path} is under {under or 'no branch'}: give it one of {BRANCHES}"
    for branch in BRANCHES:
        assert branch.__bases__ == (GenieAgentError,)


def test_the_drawn_tree_is_the_real_tree(defined: dict[str, type[BaseException]]) -> None:
    drawn = _drawn_tree()
    in_tree = {cls.__name__: cls for path, cls in defined.items() if path not in OUTSIDE}
    assert len(in_tree) == len(defined) - len(OUTSIDE), "two error classes share a name"
    assert set(drawn) == set(in_tree), "errors.py must draw every error class, and only those"
    for name, parent in drawn.items():
        bases = [base.__name__ for base in in_tree[name].__bases__]
        assert bases == [parent or "Exception"], f"{name} is drawn under {parent}, defined under {bases}"


def test_each_error_keeps_its_exit_code(defined: dict[str, type[BaseException]]) -> None:
    codes = {cls.__name__: getattr(cls, "exit_code", None) for p, cls in defined.items() if p not in OUTSIDE}
    assert codes == EXIT_CODES


def test_a_child_keeps_message_hint_and_retryable() -> None:
    from genie_agent.identity import PermissionDeniedError
    from genie_agent.memory.errors import MemoryUnavailableError
    from genie_agent_tui.targets import TargetRequestError

    denied = PermissionDeniedError("You may not use the sales space.", "Ask for access.")
    assert (
        isinstance(denied, UserInputError)
        and str(denied) == "You may not use the sales space. (Ask for access.)"
    )
    down = MemoryUnavailableError("recall memories: sqlite memory failed")
    assert down.retryable and down.hint.startswith("The answer is not affected")
    refused = TargetRequestError("The endpoint answered 500.", "Try again.", status=500)
    assert isinstance(refused, BackendError) and refused.status == 500 and refused.retryable is False
