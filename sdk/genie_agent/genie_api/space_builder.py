"""A local space built from a Genie space created through genie-server's API, so the local engine
answers questions on it.

The server serves each local database ``d`` of its local spaces under the Unity Catalog names
``samples.d.<table>`` (the example data is TPC-H: ``samples.tpch.orders``, as on every workspace).
A created space's tables must be tables of one such database. Its semantic model is the one of the
local space over the same tables (or the largest one whose tables it all has); its title,
description, text instructions, sample questions and example question/SQL pairs (the SQL rewritten
back to the local table names; each example's question answered with its SQL, as a verified query)
are the created space's. With no local space over its tables, it has no measures and answers only its
example questions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..spaces.base import GenieSpace
from ..spaces.local.engine import LocalGenieSpace
from ..spaces.semantic_model import SpaceDefinition, TableRef, VerifiedQuery
from ..workspace_spaces.serialized import SerializedSpace, serialize_definition, text_of
from ..workspace_spaces.sql_names import UnknownTableError, local_sql
from .errors import ApiError

__all__ = ["LOCAL_CATALOG", "LocalTables"]

LOCAL_CATALOG = "samples"


def _invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


class LocalTables:
    """The local spaces' tables under Unity Catalog names, and the spaces built over them."""

    def __init__(self, spaces: Mapping[str, GenieSpace]) -> None:
        self.bases = [s for s in spaces.values() if isinstance(s, LocalGenieSpace)]
        self.tables: dict[str, tuple[str, str]] = {}
        """``samples.tpch.orders`` -> (``tpch``, ``orders``)."""
        for base in self.bases:
            d = base.definition
            for table in d.physical_tables:
                self.tables[f"{LOCAL_CATALOG}.{d.database}.{table}".lower()] = (d.database, table)

    def serialized(self, space: GenieSpace) -> str | None:
        """A local space's serialized form over its Unity Catalog names (None for another kind)."""
        if not isinstance(space, LocalGenieSpace):
            return None
        d = space.definition
        return json.dumps(serialize_definition(d, catalog=LOCAL_CATALOG, schema=d.database))

    def build(
        self, space_id: str, title: str, description: str, parsed: dict[str, object]
    ) -> LocalGenieSpace:
        """The local space answering the created space ``space_id``; raises ApiError 400 for a table
        this server does not have or example SQL over one."""
        serialized = SerializedSpace.model_validate(parsed)
        unknown = [t for t in serialized.table_identifiers if t.lower() not in self.tables]
        if unknown:
            known = sorted({f"{LOCAL_CATALOG}.{db}" for db, _ in self.tables.values()})
            raise _invalid(
                f"Table(s) {', '.join(unknown)} do not exist or you lack SELECT on them "
                f"(this server has the tables of {', '.join(known)})."
            )
        located = [self.tables[t.lower()] for t in serialized.table_identifiers]
        databases = {db for db, _ in located}
        if len(databases) != 1:
            raise _invalid(
                f"Tables of several schemas ({', '.join(sorted(databases))}): genie-server answers a "
                "space over the tables of one schema."
            )
        (database,) = databases
        names = {t for _, t in located}

        def local_name(identifier: str) -> str | None:
            found = self.tables.get(identifier.lower())
            return found[1] if found is not None and found[0] == database else None

        examples = []
        for example in serialized.instructions.example_question_sqls:
            question = text_of(example.question)
            try:
                examples.append(
                    VerifiedQuery(question=question, sql=local_sql(text_of(example.sql), local_name))
                )
            except UnknownTableError as exc:
                raise _invalid(
                    f"Example SQL for {question!r} reads {exc.table}, which is not a table of the space."
                ) from None
            except ValueError as exc:
                raise _invalid(f"Example SQL for {question!r}: {exc}") from None
        on_database = [b for b in self.bases if b.definition.database == database]
        base = self._model(on_database, names)
        instructions, samples = serialized.instructions_text, tuple(serialized.sample_questions)
        if base is not None:
            data = base.definition.model_dump(by_alias=True)
            data |= {
                "title": title,
                "description": description,
                "instructions": instructions,
                "sample_questions": samples,
                "verified_queries": tuple(examples),
            }
            return base.with_definition(SpaceDefinition.model_validate(data))
        definition = SpaceDefinition(
            id=f"space-{space_id[:12].lower()}",
            title=title,
            description=description,
            instructions=instructions,
            database=database,
            sample_questions=samples,
            tables=tuple(TableRef(name=t) for t in sorted(names)),
            measures=(),
            verified_queries=tuple(examples),
        )
        return on_database[0].with_definition(definition)

    @staticmethod
    def _model(candidates: list[LocalGenieSpace], names: set[str]) -> LocalGenieSpace | None:
        """The local space over exactly these tables, else the largest one over some of them only."""
        exact = [b for b in candidates if b.definition.physical_tables == names]
        if exact:
            return exact[0]
        within = [b for b in candidates if b.definition.physical_tables <= names]
        return max(within, key=lambda b: len(b.definition.physical_tables), default=None)
