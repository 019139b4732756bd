"""What genie-server accepts as a Genie space: the create and update bodies and their
``serialized_space``, checked as the workspace checks them, each problem said in a 400.

The rules are the documented ones ("Understanding the serialized_space field" in the Genie API docs,
as public clients quote it): ``version`` 1 or 2; only the top-level sections ``version``, ``config``,
``data_sources``, ``instructions``, ``benchmarks``; at least one table or metric view, each named
``catalog.schema.table``, at most 30; ids of 32 lowercase hex characters, unique; lists sorted
(tables by ``identifier``, column configs by ``column_name``, the rest by ``id``); at most one text
instruction; a join specification's ``sql`` is its condition then one of the relationship
annotations; an example question and its SQL are not empty; no string longer than 25,000 characters.
``instructions.sql_snippets`` (as github.com/sean-zhang-dbx/prompt-to-genie ``references/schema.md``
documents it) holds ``measures`` and ``expressions`` (each needs ``id``, ``alias``, ``sql``) and
``filters`` (``id``, ``display_name``, ``sql``, the condition without ``WHERE``); ``sql`` is a list of
strings; their ids are checked and sorted as the other lists' are.
``create`` needs ``warehouse_id`` and ``serialized_space`` (databricks-sdk's ``create_space``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ApiError

__all__ = ["MAX_TABLES", "check_create", "check_serialized", "check_update"]

MAX_TABLES = 30
_MAX_STRING = 25_000
_SECTIONS = frozenset({"version", "config", "data_sources", "instructions", "benchmarks"})
_HEX32 = re.compile(r"[0-9a-f]{32}")
_THREE_PARTS = re.compile(r"[^.\s]+\.[^.\s]+\.[^.\s]+")
_RELATIONSHIPS = frozenset(
    f"--rt=FROM_RELATIONSHIP_TYPE_{kind}--"
    for kind in ("MANY_TO_ONE", "ONE_TO_MANY", "ONE_TO_ONE", "MANY_TO_MANY")
)
_ID_LISTS = (
    ("config", "sample_questions"),
    ("instructions", "text_instructions"),
    ("instructions", "example_question_sqls"),
    ("instructions", "sql_functions"),
    ("instructions", "join_specs"),
    ("benchmarks", "questions"),
)
_SNIPPETS = {
    "measures": ("id", "alias", "sql"),
    "filters": ("id", "display_name", "sql"),
    "expressions": ("id", "alias", "sql"),
}
"""``instructions.sql_snippets``' lists and the fields each item needs."""


def _invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def _list(space: dict[str, Any], section: str, key: str) -> list[Any]:
    part = space.get(section)
    value = part.get(key) if isinstance(part, dict) else None
    return value if isinstance(value, list) else []


def _strings(value: object, where: str, problems: list[str]) -> None:
    if isinstance(value, str):
        if len(value) > _MAX_STRING:
            problems.append(f"{where}: a string of {len(value)} characters (at most {_MAX_STRING})")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _strings(item, f"{where}[{i}]", problems)
    elif isinstance(value, dict):
        for key, item in value.items():
            _strings(item, f"{where}.{key}", problems)


def _sorted(items: list[Any], key: str, where: str, problems: list[str]) -> None:
    keys = [str(i.get(key, "")) for i in items if isinstance(i, dict)]
    if keys != sorted(keys):
        problems.append(f"{where} must be sorted by {key}")


def _snippet_lists(space: dict[str, Any], problems: list[str]) -> list[tuple[str, list[Any]]]:
    """``instructions.sql_snippets``' lists by where they are, each item's required fields checked."""
    instructions = space.get("instructions")
    snippets = instructions.get("sql_snippets") if isinstance(instructions, dict) else None
    if snippets is None:
        return []
    where = "instructions.sql_snippets"
    if not isinstance(snippets, dict):
        problems.append(f"{where} must be an object of measures, filters and expressions")
        return []
    problems += [f"{where}: Cannot find field: {k}" for k in sorted(set(snippets) - set(_SNIPPETS))]
    out: list[tuple[str, list[Any]]] = []
    for kind, required in _SNIPPETS.items():
        items = snippets.get(kind, [])
        if not isinstance(items, list):
            problems.append(f"{where}.{kind} must be a list")
            continue
        for item in items:
            if not isinstance(item, dict):
                problems.append(f"{where}.{kind}: each is an object")
                continue
            name = item.get("display_name") or item.get("alias") or item.get("id")
            missing = [f for f in required if not item.get(f)]
            if missing:
                problems.append(f"{where}.{kind}[{name}]: needs {', '.join(missing)}")
            sql = item.get("sql")
            lines = sql if isinstance(sql, list) and all(isinstance(x, str) for x in sql) else None
            if "sql" in missing:
                pass
            elif lines is None or not "".join(lines).strip():
                problems.append(f"{where}.{kind}[{name}]: sql must be a list of strings (the SQL's lines)")
            elif kind == "filters" and "".join(lines).lstrip()[:6].upper() == "WHERE ":
                problems.append(f"{where}.filters[{name}]: sql is the condition alone, without WHERE")
        out.append((f"{where}.{kind}", items))
    return out


def _check_ids(space: dict[str, Any], problems: list[str]) -> None:
    seen: set[str] = set()
    lists = [(f"{section}.{key}", _list(space, section, key)) for section, key in _ID_LISTS]
    for where, items in [*lists, *_snippet_lists(space, problems)]:
        for item in items:
            ident = item.get("id") if isinstance(item, dict) else None
            if not isinstance(ident, str) or not _HEX32.fullmatch(ident):
                problems.append(f"{where}: id {ident!r} is not 32 lowercase hex characters")
            elif ident in seen:
                problems.append(f"{where}: id {ident} is used twice")
            else:
                seen.add(ident)
        _sorted(items, "id", where, problems)


def _check_tables(space: dict[str, Any], problems: list[str]) -> None:
    tables = _list(space, "data_sources", "tables")
    views = _list(space, "data_sources", "metric_views")
    if not tables and not views:
        problems.append("data_sources: a space needs at least one table or metric view")
    if len(tables) + len(views) > MAX_TABLES:
        problems.append(f"data_sources: {len(tables) + len(views)} tables and views (at most {MAX_TABLES})")
    for key, items in (("tables", tables), ("metric_views", views)):
        for item in items:
            ident = item.get("identifier") if isinstance(item, dict) else None
            if not isinstance(ident, str) or not _THREE_PARTS.fullmatch(ident):
                problems.append(f"data_sources.{key}: identifier {ident!r} is not catalog.schema.table")
            configs = item.get("column_configs") if isinstance(item, dict) else None
            if isinstance(configs, list):
                names = [c.get("column_name") for c in configs if isinstance(c, dict)]
                if len(set(names)) != len(names):
                    problems.append(f"data_sources.{key}[{ident}]: a column is configured twice")
                _sorted(configs, "column_name", f"data_sources.{key}[{ident}].column_configs", problems)
        _sorted(items, "identifier", f"data_sources.{key}", problems)


def _check_instructions(space: dict[str, Any], problems: list[str]) -> None:
    if len(_list(space, "instructions", "text_instructions")) > 1:
        problems.append("instructions.text_instructions: at most one text instruction")
    for example in _list(space, "instructions", "example_question_sqls"):
        if not isinstance(example, dict) or not example.get("question") or not example.get("sql"):
            problems.append("instructions.example_question_sqls: each needs a question and its sql")
    for join in _list(space, "instructions", "join_specs"):
        sql = join.get("sql") if isinstance(join, dict) else None
        sides = [join.get(s) for s in ("left", "right")] if isinstance(join, dict) else []
        if not all(isinstance(s, dict) and s.get("identifier") and s.get("alias") for s in sides):
            problems.append("instructions.join_specs: each needs left and right {identifier, alias}")
        if not isinstance(sql, list) or len(sql) != 2 or sql[1] not in _RELATIONSHIPS:
            problems.append(
                "instructions.join_specs: sql must be [condition, relationship annotation such as "
                "--rt=FROM_RELATIONSHIP_TYPE_MANY_TO_ONE--]"
            )


def check_serialized(text: object) -> dict[str, Any]:
    """The parsed serialized space; raises ApiError 400 listing every problem."""
    if not isinstance(text, str) or not text.strip():
        raise _invalid("serialized_space must be a non-empty string (a JSON-serialized space).")
    try:
        space = json.loads(text)
    except ValueError as exc:
        raise _invalid(f"Invalid serialized_space: not JSON ({exc}).") from None
    if not isinstance(space, dict):
        raise _invalid("Invalid serialized_space: not a JSON object.")
    problems = [f"Cannot find field: {k}" for k in sorted(set(space) - _SECTIONS)]
    if space.get("version") not in (1, 2):
        problems.append(f"version must be 1 or 2, not {space.get('version')!r}")
    for section in _SECTIONS - {"version"}:
        if section in space and not isinstance(space[section], dict):
            problems.append(f"{section} must be an object")
    if not problems:
        _check_tables(space, problems)
        _check_ids(space, problems)
        _check_instructions(space, problems)
        _strings(space, "serialized_space", problems)
    if problems:
        raise _invalid("Invalid serialized_space: " + "; ".join(problems) + ".")
    return space


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"{key} must be a string.")
    return value


def check_create(body: object) -> tuple[dict[str, Any], dict[str, str | None]]:
    """A create body: its parsed serialized space and its fields (title, description, warehouse_id,
    parent_path); raises ApiError 400."""
    if not isinstance(body, dict):
        raise ApiError(400, "MALFORMED_REQUEST", "The request body must be a JSON object.")
    warehouse = _text(body, "warehouse_id")
    if not warehouse:
        raise _invalid("warehouse_id is required: the SQL warehouse the space runs its queries on.")
    if "serialized_space" not in body:
        raise _invalid("serialized_space is required.")
    fields = {k: _text(body, k) for k in ("title", "description", "warehouse_id", "parent_path")}
    return check_serialized(body["serialized_space"]), fields


def check_update(body: object) -> tuple[dict[str, Any] | None, dict[str, str | None]]:
    """An update body: its parsed serialized space if it has one, and the fields it sets (title,
    description, warehouse_id, parent_path, etag); raises ApiError 400."""
    if not isinstance(body, dict):
        raise ApiError(400, "MALFORMED_REQUEST", "The request body must be a JSON object.")
    fields = {k: _text(body, k) for k in ("title", "description", "warehouse_id", "parent_path", "etag")}
    serialized = body.get("serialized_space")
    return (check_serialized(serialized) if serialized is not None else None), fields
