"""A result table as a pandas DataFrame or an Arrow table, its columns typed by the result's column types.

A result's cells arrive as JSON (dates as ISO text, decimals as numbers); its ``column_types`` are the
source's SQL type names: DuckDB's (``DECIMAL(38,4)``, ``BIGINT``, ``HUGEINT``, ``DATE``, ``VARCHAR``,
``TIMESTAMP WITH TIME ZONE`` ...) or Databricks' (``decimal(18,2)``, ``bigint``, ``string``,
``timestamp`` ...). Each column becomes the type its name says:

========================  ====================  ===============================
column type               pandas                Arrow
========================  ====================  ===============================
integers                  ``Int64`` (nullable)  ``int64``
decimals and floats       ``float64``           ``float64``
``DATE``                  ``datetime64``        ``date32``
``TIMESTAMP``             ``datetime64``        ``timestamp[us]``
``TIMESTAMP WITH TIME     ``datetime64`` (UTC)  ``timestamp[us, tz=UTC]``
ZONE`` (``TIMESTAMPTZ``)
text                      ``string``            ``string``
``BOOLEAN``               ``boolean``           ``bool``
anything else             ``object``            inferred from the values
========================  ====================  ===============================

Nulls are missing values (``<NA>``, ``NaN``, ``NaT``). A column without a type name takes one from
its values (whole numbers, numbers, booleans or text); a column whose values its type name does not
describe keeps them as they are (``object``), so nothing is lost. pandas and pyarrow are imported
here, on first use: ``import genie_agent`` never loads them; where one is missing, the conversion
raises a :class:`~genie_agent.errors.ConfigError` whose hint says what to install.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from .contract import ResultTable

__all__ = ["ColumnKind", "column_kind", "to_arrow", "to_pandas"]

ColumnKind = Literal["integer", "float", "date", "timestamp", "timestamp_tz", "string", "boolean", "other"]

_INTEGER = frozenset(
    "TINYINT SMALLINT INTEGER INT BIGINT HUGEINT UTINYINT USMALLINT UINTEGER UBIGINT UHUGEINT INT1 INT2 "
    "INT4 INT8 INT16 INT32 INT64 INT128 BYTE SHORT LONG SIGNED".split()
)
_FLOAT = frozenset("FLOAT FLOAT4 FLOAT8 DOUBLE REAL DECIMAL NUMERIC DEC NUMBER".split())
_STRING = frozenset("STRING VARCHAR CHAR BPCHAR TEXT NVARCHAR UUID ENUM".split())
_BOOLEAN = frozenset("BOOLEAN BOOL LOGICAL".split())
# Databricks' TIMESTAMP_LTZ is an instant its reader (spaces.statement) hands over as naive UTC.
_TIMESTAMP = frozenset(
    "DATETIME TIMESTAMP TIMESTAMP_NTZ TIMESTAMP_LTZ TIMESTAMP_S TIMESTAMP_MS TIMESTAMP_NS TIMESTAMP_US".split()
)
_TIMESTAMP_TZ = frozenset({"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"})


def column_kind(type_name: str | None, values: Sequence[Any] = ()) -> ColumnKind:
    """What a column of ``type_name`` holds; without a type name (or an unknown one), what ``values`` hold."""
    name = (type_name or "").strip().upper()
    if name.endswith("]"):  # DuckDB lists: 'INTEGER[]'
        return "other"
    base = re.split(r"[(<]", name, maxsplit=1)[0].strip()
    if base in _TIMESTAMP_TZ:
        return "timestamp_tz"
    base = base.split(" ", 1)[0]  # 'TIMESTAMP WITHOUT TIME ZONE'
    for kinds, kind in (
        (_INTEGER, "integer"),
        (_FLOAT, "float"),
        (_STRING, "string"),
        (_BOOLEAN, "boolean"),
        (_TIMESTAMP, "timestamp"),
    ):
        if base in kinds:
            return kind  # type: ignore[return-value]
    if base == "DATE":
        return "date"
    return _kind_of_values(values) if not base else "other"


def _kind_of_values(values: Sequence[Any]) -> ColumnKind:
    present = [v for v in values if v is not None]
    if not present:
        return "other"
    if all(isinstance(v, bool) for v in present):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "integer"
    if all(isinstance(v, int | float | decimal.Decimal) and not isinstance(v, bool) for v in present):
        return "float"
    if all(isinstance(v, str) for v in present):
        return "string"
    return "other"


# --- cells: each column's values as the Python values its kind holds ------------------------------


def _integer(v: Any) -> int:
    if isinstance(v, bool) or (isinstance(v, float | decimal.Decimal) and v != int(v)):
        raise ValueError(v)
    return int(v)


def _float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError(v)
    return float(v)


def _date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


def _instant(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    return dt.datetime.fromisoformat(str(v).strip().replace("Z", "+00:00"))


def _timestamp(v: Any) -> dt.datetime:
    """Naive; an instant with an offset as naive UTC (as the Databricks reader has it)."""
    stamp = _instant(v)
    return stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def _timestamp_tz(v: Any) -> dt.datetime:
    """In UTC; a naive one is taken as UTC."""
    stamp = _instant(v)
    return stamp.astimezone(dt.UTC) if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _boolean(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    text = str(v).strip().lower()
    if text not in ("true", "false"):
        raise ValueError(v)
    return text == "true"


def _string(v: Any) -> str:
    return v if isinstance(v, str) else str(v)


_CELL: dict[ColumnKind, Callable[[Any], Any]] = {
    "integer": _integer,
    "float": _float,
    "date": _date,
    "timestamp": _timestamp,
    "timestamp_tz": _timestamp_tz,
    "boolean": _boolean,
    "string": _string,
    "other": lambda v: v,
}


def _cells(kind: ColumnKind, values: Sequence[Any]) -> list[Any] | None:
    """The values as ``kind`` holds them, None for a null; None when one is not of that kind."""
    convert = _CELL[kind]
    try:
        return [None if v is None else convert(v) for v in values]
    except (ValueError, TypeError, OverflowError, ArithmeticError):
        return None


def _columns(table: ResultTable) -> list[tuple[str, ColumnKind, list[Any]]]:
    """Each column: its name, its kind, and its values typed (``other`` where they do not fit)."""
    out: list[tuple[str, ColumnKind, list[Any]]] = []
    types = table.column_types
    for i, name in enumerate(table.columns):
        values = [row[i] if i < len(row) else None for row in table.rows]
        kind = column_kind(types[i] if i < len(types) else None, values)
        typed = _cells(kind, values)
        if typed is None:
            kind, typed = "other", values
        out.append((name, kind, typed))
    return out


# --- pandas and Arrow --------------------------------------------------------------------------------


def _require(module: str) -> Any:
    """The module; a :class:`ConfigError` whose hint says what to install where it is missing."""
    try:
        return __import__(module)
    except ImportError as exc:
        raise ConfigError(
            f"Converting a result to {'a DataFrame' if module == 'pandas' else 'Arrow'} needs {module}, "
            "which is not installed.",
            hint=f"pip install {module}",
        ) from exc


def _series(pd: Any, kind: ColumnKind, cells: list[Any]) -> pd.Series:
    if kind == "integer":
        try:
            return pd.Series(pd.array(cells, dtype="Int64"))
        except (OverflowError, TypeError, ValueError):  # beyond 64 bits (a HUGEINT sum)
            return pd.Series(cells, dtype="float64")
    if kind in ("date", "timestamp", "timestamp_tz"):
        try:
            return pd.Series(pd.to_datetime(pd.Series(cells, dtype=object), utc=kind == "timestamp_tz"))
        except (ValueError, TypeError, OverflowError):  # beyond pandas' range of dates
            return pd.Series(cells, dtype=object)
    dtype = {"float": "float64", "string": "string", "boolean": "boolean"}.get(kind, object)
    return pd.Series(cells, dtype=dtype)


def to_pandas(table: ResultTable) -> pd.DataFrame:
    """The result as a DataFrame, one typed column per result column (none for a failed space)."""
    pd = _require("pandas")
    columns = _columns(table)
    frame = pd.DataFrame({i: _series(pd, kind, cells) for i, (_, kind, cells) in enumerate(columns)})
    frame.columns = [name for name, _, _ in columns]  # names may repeat
    return frame


_ARROW_TYPES: dict[ColumnKind, Callable[[Any], Any]] = {
    "integer": lambda pa: pa.int64(),
    "float": lambda pa: pa.float64(),
    "date": lambda pa: pa.date32(),
    "timestamp": lambda pa: pa.timestamp("us"),
    "timestamp_tz": lambda pa: pa.timestamp("us", tz="UTC"),
    "string": lambda pa: pa.string(),
    "boolean": lambda pa: pa.bool_(),
}


def _array(pa: Any, kind: ColumnKind, cells: list[Any]) -> pa.Array:
    if kind == "integer":
        try:
            return pa.array(cells, pa.int64())
        except (OverflowError, pa.ArrowInvalid):  # beyond 64 bits
            return pa.array([None if c is None else float(c) for c in cells], pa.float64())
    if kind in _ARROW_TYPES:
        return pa.array(cells, _ARROW_TYPES[kind](pa))
    try:
        return pa.array(cells)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # mixed values: as text
        return pa.array([None if c is None else str(c) for c in cells], pa.string())


def to_arrow(table: ResultTable) -> pa.Table:
    """The result as a ``pyarrow.Table``, one typed column per result column."""
    pa = _require("pyarrow")
    columns = _columns(table)
    return pa.Table.from_arrays(
        [_array(pa, kind, cells) for _, kind, cells in columns], names=[name for name, _, _ in columns]
    )
