"""The single source of configuration: one pydantic-settings tree.

The same fields are read from the TOML config file, from `PONDER_*` environment variables
(`PONDER_ENGINE__PARALLEL=8`) and from CLI flags (`--engine-parallel 8`), which `ponder.cli` generates
from this tree. Precedence: flags > environment > file > defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Effort = Literal["low", "medium", "high"]


def default_config_path() -> Path:
    if env := os.environ.get("PONDER_CONFIG"):
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "ponder" / "config.toml"


def default_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "ponder"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EngineSettings(_Section):
    context: int = Field(4096, ge=256, description="Context window per sequence, in tokens.")
    parallel: int = Field(4, ge=1, le=64, description="Sequences decoded together in one batch.")
    batch: int = Field(512, ge=32, description="Most tokens sent to the model in one forward pass.")
    threads: int | None = Field(None, ge=1, description="CPU threads (default: all cores).")
    max_queue: int = Field(32, ge=0, description="Requests that may wait for a free slot; more get 503.")


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on.")
    max_body_bytes: int = Field(4_000_000, ge=1024, description="Largest request body accepted (413).")
    max_tokens_default: int = Field(1024, ge=1, description="Answer length when a request sets none.")


class ReasoningSettings(_Section):
    effort: Effort = Field("medium", description="Default reasoning effort for thinking mode.")
    budget_low: int = Field(128, ge=1, description="Thinking tokens for reasoning_effort=low.")
    budget_medium: int = Field(512, ge=1, description="Thinking tokens for reasoning_effort=medium.")
    budget_high: int = Field(2048, ge=1, description="Thinking tokens for reasoning_effort=high.")
    instruction: str = Field(
        "You are a helpful assistant. Think step by step inside <think></think> first. After </think>, "
        "reply to the user in plain words (no code) and state the final answer.",
        description="System message for thinking mode when the conversation has none of its own.",
    )

    def budget(self, effort: Effort) -> int:
        return {"low": self.budget_low, "medium": self.budget_medium, "high": self.budget_high}[effort]


CALIBRATION = (4.0, 2.0, -3.5)
"""Fitted on recorded GSM8K runs of the default model (see the README's evaluation section)."""


class ContemplateSettings(_Section):
    """Contemplate mode: parallel agents, early stopping, voting. Each field is also a request option."""

    agents: int = Field(4, ge=1, le=16, description="Agents reasoning in parallel (one engine slot each).")
    agent_budget: int = Field(512, ge=16, description="Most tokens one agent may generate.")
    early_stop: bool = Field(True, description="Stop low-confidence agents, and the rest once enough agree.")
    warmup: int = Field(48, ge=1, description="Tokens an agent writes before it can be stopped for low confidence.")
    window: int = Field(16, ge=2, description="Tokens in a confidence group (sliding window).")
    top_k: int = Field(5, ge=1, le=20, description="Alternatives per token used for token confidence.")
    stop_ratio: float = Field(
        0.7, gt=0.0, le=1.0, description="Stop an agent whose window confidence falls below this share of the best."
    )
    threshold: float | None = Field(None, description="Absolute window-confidence floor (from calibration).")
    consensus: int | None = Field(None, ge=1, description="Agreeing agents that end the rest (default: a majority).")
    concurrency: int | None = Field(
        None, ge=1, description="Agents decoding at once (default: all); the others start as slots free up."
    )
    abstain_below: float | None = Field(None, ge=0.0, le=1.0, description="Abstain when confidence is lower.")
    calibration: tuple[float, float, float] = Field(
        CALIBRATION,
        description="Logistic weights of the vote's agreement and the agreeing agents' mean token probability, "
        "then a bias: confidence = σ(a·agreement + b·probability + c). `ponder eval` refits them (report.json).",
    )
    record: bool = Field(
        False, description="Keep every agent's per-token confidences in the report (to replay stopping rules offline)."
    )


class AutoSettings(_Section):
    """Auto mode: answer instantly when the model is sure, think harder only when it is not."""

    instant_above: float = Field(
        0.9, ge=0.0, le=1.0, description="Keep the instant answer when its token confidence is at least this."
    )
    thinking_above: float = Field(
        0.8, ge=0.0, le=1.0, description="Otherwise think when confidence is at least this; below, contemplate."
    )


class GuardSettings(_Section):
    """Safety: which hazards block, which are only logged, and how sure the guard must be."""

    enabled: bool = Field(True, description="Screen requests, thinking, agents and answers.")
    actions: dict[str, Literal["block", "log", "allow"]] = Field(
        default_factory=dict,
        description="Per-category action overriding the defaults, e.g. {elections = 'log'}; see the README.",
    )
    threshold: float = Field(
        0.5, gt=0.0, lt=1.0, description="Harm score that blocks when there is no judge (scaled per category)."
    )
    injection_threshold: float = Field(0.5, gt=0.0, lt=1.0, description="Injection score that blocks.")
    judge: bool = Field(True, description="Ask the language model for a second opinion on borderline scores.")
    judge_low: float = Field(0.15, ge=0.0, le=1.0, description="Harm scores below this pass without a judge.")
    judge_high: float = Field(0.98, ge=0.0, le=1.0, description="Harm scores from here block without a judge.")
    judge_model: str | None = Field(None, description="Model that judges (default: the request's model).")
    judge_threshold: float = Field(0.5, gt=0.0, lt=1.0, description="The judge's probability of 'unsafe' that blocks.")
    stream_window: int = Field(
        160, ge=16, description="Characters of a streamed answer held back until the guard has read them."
    )
    log_file: Path | None = Field(None, description="Where guard actions are recorded (default: cache_dir).")

    @model_validator(mode="after")
    def _known(self) -> GuardSettings:
        from ponder.guard.taxonomy import BY_NAME

        unknown = sorted(set(self.actions) - set(BY_NAME))
        if unknown:
            raise ValueError(f"unknown guard categories {unknown}; valid: {sorted(BY_NAME)}")
        return self


class ModelEntry(_Section):
    """A model the user adds in the config file: a local GGUF, or a model on a remote server."""

    name: str
    path: Path | None = None
    endpoint: str | None = Field(None, description="Base URL of an OpenAI-compatible server, e.g. http://gpu:8000/v1")
    api_key: str | None = None
    remote_name: str | None = Field(None, description="The model's name on the remote server (default: name).")
    template: str = "chatml"
    context: int = 4096
    backend: str | None = Field(None, description="Backend to use; inferred from path/endpoint when unset.")
    options: dict[str, Any] = Field(default_factory=dict, description="Backend-specific options.")

    @model_validator(mode="after")
    def _one_source(self) -> ModelEntry:
        if self.backend is None:
            if (self.path is None) == (self.endpoint is None):
                raise ValueError(f"model {self.name!r}: give exactly one of `path` or `endpoint`")
            self.backend = "llama" if self.path is not None else "openai"
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PONDER_", env_nested_delimiter="__", extra="forbid", nested_model_default_partial_update=True
    )

    model: str = Field("qwen2.5-coder-1.5b", description="Model served by default (catalogue or config name).")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Where assembled models are kept.")
    models: list[ModelEntry] = Field(default_factory=list, description="Extra models (config file).")
    engine: EngineSettings = Field(default_factory=EngineSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    reasoning: ReasoningSettings = Field(default_factory=ReasoningSettings)
    contemplate: ContemplateSettings = Field(default_factory=ContemplateSettings)
    auto: AutoSettings = Field(default_factory=AutoSettings)
    guard: GuardSettings = Field(default_factory=GuardSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=default_config_path())
        return (init_settings, env_settings, toml)
