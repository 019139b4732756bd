"""The catalog: which databases exist and which space files sit on them.

```yaml
databases:
  tpch: {generator: tpch}          # built on first use under $GENIE_AGENT_HOME
  shop: {path: data/shop.duckdb}   # an existing DuckDB file, relative to the catalog
spaces: [sales.yaml, shop.yaml]    # space files, relative to the catalog
```

A space file may instead name metric view files (``metric_views:``): :mod:`genie_agent.metric_views`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ..errors import ConfigError
from .parsed_yaml import ParsedYaml
from .semantic_model import SpaceDefinition

__all__ = ["Catalog", "DatabaseSpec", "load_catalog"]


class DatabaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    generator: Literal["tpch"] | None = None
    path: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DatabaseSpec:
        if (self.generator is None) == (self.path is None):
            raise ValueError("give exactly one of `generator` or `path`")
        return self


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Path
    databases: dict[str, DatabaseSpec]
    spaces: tuple[SpaceDefinition, ...]

    def space(self, space_id: str) -> SpaceDefinition:
        return next(s for s in self.spaces if s.id == space_id)


def _read_yaml(path: Path) -> object:
    import yaml  # ~10 ms to import: not when every file's data is kept (ParsedYaml)

    try:
        # libyaml's loader reads the space files ~10x faster than the pure-Python one.
        return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist.", "Check the file names listed in the catalog.") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", "Fix the YAML syntax.") from None


def _describe(exc: ValidationError, where: Path) -> list[str]:
    return [
        f"{where.name}: {'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
    ]


def load_catalog(path: Path, *, cache_dir: Path | None = None) -> Catalog:
    """Load and validate a catalog and every space file it lists; report all problems at once.

    With ``cache_dir``, the files' parsed data is kept there for the next process (:mod:`.parsed_yaml`).
    """
    files = ParsedYaml(cache_dir)
    raw = files.read(path, _read_yaml)
    if not isinstance(raw, dict) or not isinstance(raw.get("spaces"), list):
        raise ConfigError(
            f"{path} must be a mapping with `databases` and a `spaces` list.", "See README: Adding a space."
        )
    problems: list[str] = []
    databases: dict[str, DatabaseSpec] = {}
    for name, spec in (raw.get("databases") or {}).items():
        try:
            db = DatabaseSpec.model_validate(spec)
        except ValidationError as exc:
            problems += _describe(exc, path)
            continue
        if db.path is not None and not db.path.is_absolute():
            db = db.model_copy(update={"path": path.parent / db.path})
        databases[name] = db
    spaces: list[SpaceDefinition] = []
    for entry in raw["spaces"]:
        space_path = path.parent / str(entry)
        data = files.read(space_path, _read_yaml)
        if isinstance(data, dict) and "metric_views" in data:  # a sidecar naming metric view files
            from ..metric_views.load import read_space

            data, more = read_space(data, space_path, lambda p: files.read(p, _read_yaml), databases)
            problems += more
            if data is None:
                continue
        try:
            space = SpaceDefinition.model_validate(data)
        except ValidationError as exc:
            problems += _describe(exc, space_path)
            continue
        if space.database not in databases:
            problems.append(
                f"{space_path.name}: database {space.database!r} is not in the catalog's `databases`"
            )
        if any(s.id == space.id for s in spaces):
            problems.append(f"{space_path.name}: space id {space.id!r} is used twice")
        spaces.append(space)
    files.save()
    if not spaces and not problems:
        problems.append(f"{path.name}: lists no spaces")
    if problems:
        raise ConfigError(f"The catalog {path} has problems.", "Fix each one listed.", problems)
    return Catalog(source=path, databases=databases, spaces=tuple(spaces))
