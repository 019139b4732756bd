"""Prompt templates: packaged files in ``prompts/``, optionally overridden by the MLflow Prompt Registry.

A template is text with MLflow's double-brace variables (``{{question}}``), so the same text can be
registered with ``MlflowClient.register_prompt`` and formatted the same way after loading. A line
holding only ``<!-- user -->`` splits a template into a system message (above) and a user message
(below): :meth:`PromptText.messages` returns both. Without that line the whole text is the system
message and the caller supplies the user message.

Registered prompts are named ``<prefix><name>``: ``genie-agent-<name>`` by default, and in Unity
Catalog (where a prompt is ``catalog.schema.name``) ``<catalog>.<schema>.genie_agent_<name>``; see
:func:`registry_prefix`. Importing mlflow costs seconds, so the registry is consulted only when the
caller asks (``registry=True``); any registry problem falls back to the packaged file, which is
always there.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import metadata, resources
from typing import TYPE_CHECKING, Any

from .errors import BackendError, ConfigError

if TYPE_CHECKING:
    from .config import Settings

__all__ = [
    "REGISTRY_PREFIX",
    "USER_MARKER",
    "PromptText",
    "load_prompt_template",
    "prompt_names",
    "register_prompts",
    "registry_prefix",
]

logger = logging.getLogger(__name__)

REGISTRY_PREFIX = "genie-agent-"
USER_MARKER = "<!-- user -->"
_VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}")
_MARKER_LINE = re.compile(r"^[ \t]*<!--\s*user\s*-->[ \t]*$", re.MULTILINE)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_UC_PREFIX = "genie_agent_"


def registry_prefix(settings: Settings) -> str:
    """What registered prompt names start with: ``prompt_registry_prefix`` if set; else
    ``<uc_catalog>.<uc_schema>.genie_agent_`` when a Unity Catalog schema is configured (UC prompt
    names are three-part and take no dashes); else :data:`REGISTRY_PREFIX`."""
    if settings.prompt_registry_prefix:
        return settings.prompt_registry_prefix
    if settings.uc_catalog and settings.uc_schema:
        return f"{settings.uc_catalog}.{settings.uc_schema}.{_UC_PREFIX}"
    return REGISTRY_PREFIX


@dataclass(frozen=True)
class PromptText:
    """One prompt template and where it came from.

    ``version`` and ``uri`` (``prompts:/genie-agent-<name>/<version>``) are set when the template came
    from the registry, None when it is the packaged file.
    """

    name: str
    template: str
    version: str | None = None
    uri: str | None = None

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(_VARIABLE.findall(self.template))

    @property
    def source(self) -> str:
        """``registry`` or ``file``: for traces and logs."""
        return "registry" if self.uri else "file"

    def format(self, **values: Any) -> str:
        """The template with every ``{{variable}}`` replaced, in one pass.

        Values are inserted verbatim (braces inside a value are not expanded again). A variable of
        the template with no value raises :class:`ConfigError`; extra values are ignored.
        """
        missing = sorted(self.variables - values.keys())
        if missing:
            raise ConfigError(
                f"Prompt {self.name!r} ({self.uri or 'packaged file'}) needs values for {', '.join(missing)}.",
                "The template's {{variables}} must match what genie-agent supplies; fix the prompt "
                "(in the registry, register a corrected version).",
            )
        return _VARIABLE.sub(lambda m: str(values[m.group(1)]), self.template)

    def messages(self, **values: Any) -> list[dict[str, str]]:
        """Chat messages: the text above the ``<!-- user -->`` line as the system message, the text
        below as the user message; a template without the line gives one system message."""
        text = self.format(**values)
        parts = _MARKER_LINE.split(text, maxsplit=1)
        messages = [{"role": "system", "content": parts[0].strip()}]
        if len(parts) == 2:
            messages.append({"role": "user", "content": parts[1].strip()})
        return messages


def _prompt_dir() -> Any:
    return resources.files("genie_agent") / "prompts"


def prompt_names() -> list[str]:
    """The packaged prompts, by name (file name without ``.md``)."""
    return sorted(p.name[:-3] for p in _prompt_dir().iterdir() if p.name.endswith(".md"))


def _load_file(name: str) -> PromptText:
    if not _NAME.match(name):
        raise ConfigError(f"{name!r} is not a prompt name.", "Prompt names are lower-case file stems.")
    path = _prompt_dir() / f"{name}.md"
    if not path.is_file():
        raise ConfigError(
            f"No packaged prompt named {name!r}.",
            f"Known prompts: {', '.join(prompt_names()) or 'none'}. If the list is empty, the package "
            "was built without genie_agent/prompts/*.md; reinstall genie-agent.",
        )
    return PromptText(name=name, template=path.read_text(encoding="utf-8"))


def _registry_client(tracking_uri: str | None) -> Any | None:
    """An MlflowClient for ``tracking_uri``, or for the configured one; None when none is configured.

    "Configured" means ``MLFLOW_TRACKING_URI`` or ``mlflow.set_tracking_uri``: mlflow's own default
    (a ``mlflow.db`` in the working directory) does not count, so loading never creates one.
    """
    from mlflow import MlflowClient

    if tracking_uri is None:
        from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

        if not is_tracking_uri_set():
            return None
    return MlflowClient(tracking_uri=tracking_uri)


def _from_registry(name: str, version: Any) -> PromptText:
    return PromptText(
        name=name, template=str(version.template), version=str(version.version), uri=str(version.uri)
    )


def load_prompt_template(
    name: str, *, registry: bool = False, tracking_uri: str | None = None, prefix: str = REGISTRY_PREFIX
) -> PromptText:
    """The template ``name``: from the registry when asked and registered there, else the packaged file.

    With ``registry=True`` and a tracking URI (``tracking_uri``, else the one mlflow is configured
    with), the latest version of ``<prefix><name>`` is loaded (``prompts:/genie-agent-<name>@latest``
    with the default prefix; :func:`registry_prefix` gives the configured one).
    A missing prompt, an unreachable store or any other registry error falls back to the file
    (logged). Without ``registry=True`` mlflow is not imported.
    """
    packaged = _load_file(name)
    if not registry:
        return packaged
    try:
        client = _registry_client(tracking_uri)
        if client is None:
            return packaged
        found = client.load_prompt(f"prompts:/{prefix}{name}@latest", allow_missing=True, cache_ttl_seconds=0)
    except Exception as exc:
        logger.warning("Prompt %r: the registry could not be read (%s); using the packaged file.", name, exc)
        return packaged
    if found is None or not isinstance(found.template, str):
        if found is not None:
            logger.warning("Prompt %r: the registered version is not a text prompt; using the file.", name)
        return packaged
    return _from_registry(name, found)


def _package_version() -> str:
    try:
        return metadata.version("genie-agent")
    except metadata.PackageNotFoundError:
        return "unknown"


def register_prompts(
    tracking_uri: str | None = None, *, prefix: str = REGISTRY_PREFIX
) -> dict[str, PromptText]:
    """Register every packaged prompt as ``<prefix><name>``; return what the registry now holds.

    A prompt whose latest registered version already has the file's text is not registered again,
    so calling this on every ``log`` adds a version only when a prompt changed. ``tracking_uri``
    None uses mlflow's configured (or default) tracking URI. Registry failures raise
    :class:`BackendError`.
    """
    from mlflow import MlflowClient

    version = _package_version()
    client = MlflowClient(tracking_uri=tracking_uri)
    out: dict[str, PromptText] = {}
    for name in prompt_names():
        packaged = _load_file(name)
        full = f"{prefix}{name}"
        try:
            latest = client.load_prompt(f"prompts:/{full}@latest", allow_missing=True, cache_ttl_seconds=0)
            if latest is None or latest.template != packaged.template:
                latest = client.register_prompt(
                    name=full,
                    template=packaged.template,
                    commit_message=f"genie-agent {version}: packaged prompts/{name}.md",
                    tags={"genie_agent_version": version, "source": f"genie_agent/prompts/{name}.md"},
                )
        except Exception as exc:
            raise BackendError(
                f"Could not register prompt {full!r} at {client.tracking_uri}: {exc}",
                "Check the MLflow tracking URI (MLFLOW_TRACKING_URI) and that its store supports the "
                "prompt registry; on Databricks, prompts live in Unity Catalog.",
            ) from exc
        out[name] = _from_registry(name, latest)
    return out
