"""The metric view YAML, as the Databricks specification defines it (the fields this package reads
and writes; the package docstring cites the pages).

A view has one ``source`` (a Unity Catalog table, three-part name), ``joins`` (each ``name``,
``source`` and ``on`` or ``using``, nested ``joins`` for a snowflake schema), ``dimensions``
(``fields`` in the newest pages, accepted as the same list), ``measures`` and an optional ``filter``.
Version 1.1 adds ``comment`` on the view, its dimensions and measures, and the semantic metadata
``display_name``, ``format`` and ``synonyms`` (at most 10, each at most 255 characters).
Unknown keys are errors, so a feature this package does not model (window measures,
``materialization``, ``parameters``) is reported instead of being dropped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "MAX_SYNONYMS",
    "SPEC_VERSION",
    "DecimalPlaces",
    "MetricView",
    "ViewDimension",
    "ViewFormat",
    "ViewJoin",
    "ViewMeasure",
]

SPEC_VERSION = "1.1"
MAX_SYNONYMS = 10  # per dimension or measure (semantic metadata page)
MAX_SYNONYM_CHARS = 255


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DecimalPlaces(_Spec):
    type: Literal["exact", "max", "all"]
    places: int | None = Field(default=None, ge=0, le=10)


class ViewFormat(_Spec):
    """``format``: how a value is displayed. Only ``type``, ``currency_code`` and ``decimal_places``
    are read; the display-only options (abbreviation, separators, date styles) are kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Literal["number", "currency", "percentage", "byte", "date", "date_time"]
    currency_code: str | None = None
    decimal_places: DecimalPlaces | None = None


class _Item(_Spec):
    name: str
    expr: str
    comment: str | None = None
    display_name: str | None = Field(default=None, max_length=255)
    synonyms: tuple[str, ...] = ()
    format: ViewFormat | None = None

    @field_validator("synonyms")
    @classmethod
    def _synonym_limits(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) > MAX_SYNONYMS:
            raise ValueError(f"at most {MAX_SYNONYMS} synonyms (the specification's limit)")
        long = [s for s in value if len(s) > MAX_SYNONYM_CHARS]
        if long:
            raise ValueError(f"synonyms longer than {MAX_SYNONYM_CHARS} characters: {long}")
        return value


class ViewDimension(_Item):
    """A dimension (a field): ``name``, ``expr`` and its metadata."""


class ViewMeasure(_Item):
    """A measure: ``name``, an aggregate ``expr`` and its metadata."""


class ViewJoin(_Spec):
    """A many-to-one join; ``on`` names the parent ``source`` (first level) or the parent join's
    name (nested), and this join by its ``name``."""

    name: str
    source: str
    on: str | None = None
    using: tuple[str, ...] = ()
    cardinality: Literal["many_to_one"] | None = None
    joins: tuple[ViewJoin, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _yaml_on_key(cls, data: object) -> object:
        # A YAML 1.1 parser (PyYAML) reads an unquoted `on:` key as the boolean True.
        if isinstance(data, dict) and True in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _on_or_using(self) -> ViewJoin:
        if (self.on is None) == (not self.using):
            raise ValueError(f"join {self.name!r}: give exactly one of `on` or `using`")
        return self


class MetricView(_Spec):
    version: str = SPEC_VERSION
    comment: str | None = None
    source: str
    filter: str | None = None
    joins: tuple[ViewJoin, ...] = ()
    dimensions: tuple[ViewDimension, ...] = ()
    measures: tuple[ViewMeasure, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _fields_are_dimensions(cls, data: object) -> object:
        if isinstance(data, dict) and "fields" in data:
            if "dimensions" in data:
                raise ValueError("give `fields` or `dimensions`, not both (they are the same list)")
            data = {("dimensions" if k == "fields" else k): v for k, v in data.items()}
        return data

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        # `version: 1.1` unquoted is a YAML float.
        return str(value) if isinstance(value, int | float) else value

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value not in ("0.1", "1.1"):
            raise ValueError(f"specification version {value!r} is not one of 0.1, 1.1")
        return value

    @model_validator(mode="after")
    def _something_to_show(self) -> MetricView:
        if not self.dimensions and not self.measures:
            raise ValueError("a metric view needs dimensions or measures")
        return self

    def to_yaml_data(self) -> dict[str, object]:
        """The view as the data of its YAML definition: the spec's keys, empty ones left out."""
        return {
            "version": self.version,
            **self.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
        }
