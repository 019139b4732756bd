"""Write the ``genie_spaces`` mapping into the configuration file, keeping everything else in it.

ruamel.yaml reads and writes the file round trip: the user's other keys, their order, comments and
quoting stay as they were; a space's entry is updated key by key, so keys we do not write (its
``keywords``) stay too. The file is replaced atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["write_genie_spaces"]


def write_genie_spaces(path: Path, entries: Mapping[str, Mapping[str, Any]]) -> None:
    """Set ``genie_spaces.<domain>.<key>`` for every entry in the file at ``path`` (created with its
    directory when missing). Raises ConfigError when the file is not a YAML mapping."""
    try:
        from ruamel.yaml import YAML
        from ruamel.yaml.comments import CommentedMap
        from ruamel.yaml.error import YAMLError
    except ImportError:
        raise ConfigError(
            "ruamel.yaml is not installed: writing the configuration file needs it.",
            "pip install 'genie-agent[databricks]'.",
        ) from None
    yaml = YAML()
    yaml.width = 4096  # a long description stays on one line
    text = path.read_text() if path.exists() else ""
    try:
        data = yaml.load(text) if text.strip() else None
    except YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}", "Fix the YAML syntax.") from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file {path} must hold a mapping of settings.", "See README: Configuration."
        )
    spaces = data.get("genie_spaces")
    if spaces is None:
        spaces = data["genie_spaces"] = CommentedMap()
    elif not isinstance(spaces, dict):
        raise ConfigError(
            f"Config file {path}: genie_spaces must be a mapping of domain -> space.",
            "Fix genie_spaces, or remove it to have it written anew.",
        )
    for domain, values in entries.items():
        entry = spaces.get(domain)
        if not isinstance(entry, dict):
            entry = spaces[domain] = CommentedMap()
        for key, value in values.items():
            entry[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w") as out:
        yaml.dump(data, out)
    if path.exists():  # the file may hold secrets: keep its permissions
        os.chmod(tmp, path.stat().st_mode & 0o7777)
    os.replace(tmp, path)
