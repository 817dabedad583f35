"""The vocabulary every layer speaks: messages in, one typed event stream out.

Backends, modes, the server's SSE stream, the CLI and the usage meter all consume the same `Event`
objects, so adding a layer never means inventing a new string protocol between two others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool", "developer"]
FinishReason = Literal["stop", "length", "cancelled", "tool_calls"]


class ToolCall(BaseModel):
    """A function call the assistant made (OpenAI's `tool_calls[i]`): `arguments` is JSON text."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    arguments: str = "{}"


class Media(BaseModel):
    """An image or a sound attached to a turn, as the client sent it (bytes not yet validated).

    `ponder.media.perceive` validates it and turns it into text evidence the language model reads;
    a model with native vision or hearing may read the bytes instead.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["image", "audio"]
    data: bytes
    format: str | None = None
    """What the client said it is (a MIME type for images, `wav`/`mp3`… for audio); the bytes decide."""
    detail: str | None = None


class Message(BaseModel):
    """One chat turn: its text, plus the tool calls, tool result id and media the turn carries."""

    model_config = ConfigDict(extra="ignore")

    role: Role
    content: str
    name: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """Calls the assistant made in this turn (role `assistant`)."""
    tool_call_id: str | None = None
    """The call this turn answers (role `tool`)."""
    media: list[Media] = Field(default_factory=list)


class SamplingParams(BaseModel):
    """How to draw tokens. Mirrors the OpenAI knobs so the server can pass them straight through."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(default=512, ge=1)
    min_tokens: int = Field(default=0, ge=0)
    """Tokens to generate before the model may end its turn (end-of-generation tokens are masked)."""
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)
    logprobs: bool = False
    top_logprobs: int = Field(default=0, ge=0, le=20)
    grammar: str | None = None
    """A GBNF grammar the completion must follow (function calls, JSON); engines without one ignore it."""


@dataclass(frozen=True, slots=True)
class TopLogprob:
    token: str
    logprob: float


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """The model's log-probability of a token it emitted, with its strongest alternatives."""

    token: str
    logprob: float
    top: tuple[TopLogprob, ...] = ()


# --- the event stream -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the visible answer."""

    text: str
    logprobs: tuple[TokenLogprob, ...] = ()
    index: int = 0


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the thinking trace, kept apart from the answer."""

    text: str
    logprobs: tuple[TokenLogprob, ...] = ()
    index: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens spent. Every strategy reports what it spent, including thinking it hid."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Done:
    """The end of one choice's stream."""

    finish_reason: FinishReason
    index: int = 0


@dataclass(frozen=True, slots=True)
class Progress:
    """Where parallel agents stand while they work (contemplate mode); the leader is the current vote."""

    running: int
    stopped: int
    finished: int
    leader: str | None = None
    leader_share: float = 0.0
    tokens: int = 0
    index: int = 0


@dataclass(frozen=True, slots=True)
class Provenance:
    """How a mode reached its answer (agents, votes, confidence, routing), for the API's `ponder` field."""

    mode: str
    report: Mapping[str, Any]
    index: int = 0


@dataclass(frozen=True, slots=True)
class Safety:
    """The guard acted on a choice: where, on what category, how sure, and what it did.

    Never carries the flagged text. `replaced` means the text streamed so far for this choice is
    withdrawn and the refusal that follows is the whole answer.
    """

    stage: str
    category: str
    score: float
    action: str
    replaced: bool = False
    index: int = 0


@dataclass(frozen=True, slots=True)
class AgentStep:
    """What an agent of a tool loop or an orchestrated run just did: planned, called a tool, or answered.

    `text` is the plan (a JSON list of sub-tasks), the call (`name(arguments)`) or the agent's answer;
    a call also carries whether it worked and the start of what the tool returned.
    """

    agent: str
    kind: Literal["plan", "call", "answer"]
    text: str
    tool: str | None = None
    ok: bool = True
    observation: str = ""
    index: int = 0


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of one function call in a choice (OpenAI's `delta.tool_calls[i]`).

    The first piece of call `call_index` carries its `id` and `name`; later pieces carry `arguments`
    text, which joined make the call's JSON arguments.
    """

    call_index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    index: int = 0


@dataclass(frozen=True, slots=True)
class Annotation:
    """Something seen at a place in an image: a label on a pixel box (x0, y0, x1, y1), for a UI to draw."""

    label: str
    box: tuple[int, int, int, int]
    score: float | None
    """The detector's confidence, where it has one (OCR does; geometry does not)."""
    source: str
    """The stage that saw it: `ocr`, `shapes`, …"""


@dataclass(frozen=True, slots=True)
class Perception:
    """What ponder perceived in one attachment before the model read it (the API's `ponder.perception`).

    `item` numbers attachments across the conversation from 1, as the observation text does.
    """

    kind: str
    item: int
    summary: Mapping[str, Any]
    annotations: tuple[Annotation, ...] = ()
    timings: Mapping[str, float] | None = None
    """Seconds per perception stage."""
    cached: bool = False
    """Perceived on an earlier turn of the conversation and reused (the timings are from then)."""


Event = (
    AgentStep | TextDelta | ReasoningDelta | ToolCallDelta | Progress | Provenance | Safety | Perception | Usage | Done
)


# --- what a backend yields ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chunk:
    """Raw completion output from a backend: decoded text plus per-token detail.

    Backends know nothing of thinking or answers; modes turn chunks into `Event`s.
    """

    text: str
    n_tokens: int
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(slots=True)
class Completion:
    """The end of one raw completion: why it stopped and what it cost."""

    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    text: str = ""
    state: Any = None
    """A reading sequence's hidden state at the prompt's last token (a float32 array; local engine only)."""


BackendItem = Chunk | Completion
