"""Models: the packaged catalogue, the verified cache, chat templates, and name resolution.

`resolve()` turns whatever name a user or request gives (a catalogue model, or one added in the
config file) into a `ModelSpec` a backend can open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ponder.config import GrammarDialect, Settings
from ponder.errors import UnknownPlugin
from ponder.models import catalogue, store
from ponder.models.templates import ChatTemplate, get_template

ModelKind = Literal["chat", "speech"]
"""What a served model does: `chat` answers /v1/chat/completions, `speech` /v1/audio/transcriptions."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything a backend needs to open one model."""

    name: str
    backend: str
    template: ChatTemplate
    context: int
    path: Path | None = None
    catalogue: catalogue.CatalogueModel | None = None
    endpoint: str | None = None
    api_key: str | None = None
    remote_name: str | None = None
    grammar: GrammarDialect = "llama.cpp"
    """Which request field a remote server reads a grammar from (`ModelEntry.grammar`)."""
    options: dict[str, Any] = field(default_factory=dict)
    relevance: float = 0.0
    """The tool-relevance check's threshold calibrated for this model (`calls.relevance` when unset)."""

    def gguf(self, cache_dir: Path) -> Path:
        """The local weights file, assembled and verified first for catalogue models."""
        if self.catalogue is not None:
            return store.assemble(cache_dir, self.catalogue)
        if self.path is None:
            raise ValueError(f"model {self.name!r} has no local weights")
        return self.path


def model_names(settings: Settings) -> list[str]:
    return [*catalogue.CATALOGUE, *(m.name for m in settings.models if m.name not in catalogue.CATALOGUE)]


def resolve(settings: Settings, name: str) -> ModelSpec:
    for entry in settings.models:  # the user's entries win, so a catalogue name can be overridden
        if entry.name == name:
            return ModelSpec(
                name=entry.name,
                backend=entry.backend or "llama",  # always set by ModelEntry's validator
                template=get_template(entry.template),
                context=entry.context,
                path=entry.path.expanduser() if entry.path else None,
                endpoint=entry.endpoint,
                api_key=entry.api_key,
                remote_name=entry.remote_name or entry.name,
                grammar=entry.grammar,
                options=entry.options,
                relevance=entry.relevance,
            )
    if name in catalogue.CATALOGUE:
        cat = catalogue.CATALOGUE[name]
        return ModelSpec(
            name=name,
            backend="llama",
            template=get_template(cat.template),
            context=min(cat.context, settings.engine.context),
            catalogue=cat,
            relevance=cat.relevance,
        )
    raise UnknownPlugin("model", name, model_names(settings), param="model")


def relevance_threshold(settings: Settings, spec: ModelSpec) -> float:
    """The tool-relevance check's threshold for this model: the configured one, else the model's own.

    A model's P(yes) is its own scale: at the 1.5B's 0.6, the 0.5B dropped every call on its first 11
    BFCL simple items, 9 of them right."""
    configured = settings.calls.relevance
    return configured if configured is not None else spec.relevance
