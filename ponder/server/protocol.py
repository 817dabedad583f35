"""The OpenAI request shapes ponder accepts, as pydantic models.

Fields OpenAI defines but ponder does not act on (`user`, `presence_penalty`, …) are accepted and
ignored, so existing clients work unchanged; ponder's own extensions are `mode` and `thinking_budget`
(and `grammar` on raw completions, as llama.cpp's server has it).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ponder.calls.spec import CallPolicy, ResponseFormat, check_schema, function, policy
from ponder.config import CallsSettings, Effort
from ponder.errors import BadRequest
from ponder.types import Media, Message, Role, ToolCall


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ImageURL(BaseModel):
    url: str
    detail: str | None = None


class ImagePart(BaseModel):
    type: Literal["image_url"]
    image_url: ImageURL


class InputAudio(BaseModel):
    data: str = Field(..., description="Base64-encoded audio.")
    format: str | None = None


class AudioPart(BaseModel):
    type: Literal["input_audio"]
    input_audio: InputAudio


ContentPart = Annotated[TextPart | ImagePart | AudioPart, Field(discriminator="type")]


class ToolCallFunction(BaseModel):
    name: str
    arguments: str = "{}"


class ToolCallIn(BaseModel):
    """An assistant turn's earlier call, sent back by the client (OpenAI's `tool_calls[i]`)."""

    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction


def _b64(data: str, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{what} is not valid base64", param="messages") from None


def _image(part: ImagePart) -> Media:
    url = part.image_url.url
    if url.startswith("data:"):
        header, sep, payload = url.partition(",")
        if not sep or not header.endswith(";base64"):
            raise BadRequest("image_url data URLs must be base64: data:image/png;base64,…", param="messages")
        return Media(
            kind="image",
            data=_b64(payload, "image_url data"),
            format=header[5:-7] or None,
            detail=part.image_url.detail,
        )
    if url.startswith(("http://", "https://")):
        # Fetched later, and only where the operator allows it; the URL travels as the payload.
        return Media(kind="image", data=url.encode(), format="url", detail=part.image_url.detail)
    raise BadRequest(
        "image_url.url must be a data: URL (or http(s) where the server allows fetching)", param="messages"
    )


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None

    def to_message(self) -> Message:
        content, media = self.content, []
        if isinstance(content, list):
            media = [
                _image(p)
                if isinstance(p, ImagePart)
                else Media(kind="audio", data=_b64(p.input_audio.data, "input_audio.data"), format=p.input_audio.format)
                for p in content
                if not isinstance(p, TextPart)
            ]
            content = "".join(p.text for p in content if isinstance(p, TextPart))
        calls = [ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments) for c in self.tool_calls or []]
        return Message(
            role=self.role,
            content=content or "",
            name=self.name,
            tool_calls=calls,
            tool_call_id=self.tool_call_id,
            media=media,
        )


class FunctionIn(BaseModel):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolIn(BaseModel):
    """A client-defined function (OpenAI's `tools[i]`); its schema is checked by `ponder.calls.spec`."""

    type: Literal["function"] = "function"
    function: FunctionIn


class NamedFunction(BaseModel):
    name: str


class NamedToolChoice(BaseModel):
    type: Literal["function"] = "function"
    function: NamedFunction


class JsonSchemaIn(BaseModel):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormatIn(BaseModel):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: JsonSchemaIn | None = None

    def to_format(self) -> ResponseFormat:
        if self.type != "json_schema":
            return ResponseFormat(self.type)
        if self.json_schema is None or self.json_schema.schema_ is None:
            raise BadRequest("response_format json_schema needs json_schema.schema", param="response_format")
        schema = check_schema(self.json_schema.schema_, "response_format.json_schema.schema")
        return ResponseFormat("json_schema", schema, self.json_schema.name)


class StreamOptions(BaseModel):
    include_usage: bool = False


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int | None = None
    stop: list[str] = Field(default_factory=list, max_length=16)
    n: int = Field(1, ge=1, le=16)
    min_tokens: int = Field(0, ge=0)

    @field_validator("stop", mode="before")
    @classmethod
    def _stops(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else [] if v is None else v

    @field_validator("stop")
    @classmethod
    def _nonempty(cls, v: list[str]) -> list[str]:
        if any(not s for s in v):
            raise ValueError("stop strings must not be empty")
        return v


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(..., min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    reasoning_effort: Effort | None = None
    mode: str | None = None
    thinking_budget: int | None = Field(None, ge=0)
    ponder: dict[str, Any] | None = Field(None, description="Options of the chosen mode, e.g. contemplate's agents.")
    tools: list[ToolIn] | None = Field(None, max_length=128)
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormatIn | None = None

    def call_policy(self, settings: CallsSettings) -> CallPolicy | None:
        """The function-calling part of the request, checked (None when it uses none of it)."""
        fmt = self.response_format
        if not self.tools and self.tool_choice in (None, "none", "auto") and (fmt is None or fmt.type == "text"):
            return None
        tools = [
            function(t.function.name, t.function.description, t.function.parameters, f"tools[{i}]")
            for i, t in enumerate(self.tools or [])
        ]
        choice = self.tool_choice.function.name if isinstance(self.tool_choice, NamedToolChoice) else self.tool_choice
        fmt_ = fmt.to_format() if fmt else None
        return policy(
            tools,
            choice,
            self.parallel_tool_calls,
            fmt_,
            reask=settings.reask,
            more_calls=settings.more_calls,
            more_calls_above=settings.more_calls_above,
            relevance=settings.relevance,
        )


class CompletionRequest(_Sampling):
    """Raw text continuation (`/v1/completions`): what a ponder behind another ponder receives."""

    prompt: str
    logprobs: int | None = Field(None, ge=0, le=20)
    grammar: str | None = Field(None, description="A GBNF grammar the continuation follows (llama.cpp's field).")
    echo: bool = False

    @field_validator("echo")
    @classmethod
    def _no_echo(cls, v: bool) -> bool:
        if v:
            raise ValueError("echo is not supported")
        return v


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
