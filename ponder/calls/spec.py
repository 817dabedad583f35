"""What a request asks of function calling, checked once, before any model runs.

`CallPolicy` is the library form of OpenAI's `tools`, `tool_choice`, `parallel_tool_calls` and
`response_format`. Everything a person can get wrong (a `tool_choice` naming no tool, a schema that
is not a JSON Schema, a `tool` message that answers no call) becomes a `BadRequest` here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from ponder.errors import BadRequest
from ponder.types import Message

NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
Choice = Literal["auto", "none", "required"]


@dataclass(frozen=True)
class FunctionSpec:
    """One client-defined function: its name, what it does, and its arguments' JSON Schema."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def openai(self) -> dict[str, Any]:
        """The definition as OpenAI's `tools[i]` (what Qwen's template puts inside `<tools>`)."""
        fn: dict[str, Any] = {"name": self.name}
        if self.description:
            fn["description"] = self.description
        fn["parameters"] = dict(self.parameters)
        return {"type": "function", "function": fn}


@dataclass(frozen=True)
class ResponseFormat:
    """`response_format`: free text, any JSON object, or JSON matching `schema`."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: Mapping[str, Any] | None = None
    name: str = "response"


@dataclass(frozen=True)
class CallPolicy:
    """The tools a model may call in one request, and how it must (or must not) call them."""

    tools: tuple[FunctionSpec, ...] = ()
    choice: Choice | str = "auto"
    """`auto`, `none`, `required`, or the one function's name that must be called."""
    parallel: bool = True
    response_format: ResponseFormat = ResponseFormat()
    reask: bool = True
    """Ask once more (constrained, where the engine can) when a call came out malformed."""
    more_calls: bool = True
    """With `parallel`, continue the model's turn after its calls while it leans to call again."""
    more_calls_above: float = 0.2
    """The model's probability of opening another call at or above which it writes one (`calls.more`)."""
    grounded: bool = True
    """Drop what the user never gave: calls with no value from their words, optional arguments from
    nowhere (`validate.traced`, `unsaid_dropped`). Off for ponder's own agent loop, whose calls rightly
    pass values the model computed or read in tool results."""
    relevance: float | None = None
    """Under `auto`, drop the calls when the model's P(yes) that they do what was asked is below this
    (`ponder.calls.relevance`); 0 asks nothing; None: the threshold calibrated for the model that
    answers, filled in by `Assistant.run`."""

    @property
    def calling(self) -> bool:
        """Does the answer go through the call parser (tools given and not switched off)?"""
        return bool(self.tools) and self.choice != "none"

    @property
    def offered(self) -> tuple[FunctionSpec, ...]:
        """The functions the prompt shows: none under `tool_choice: none`."""
        return self.tools if self.calling else ()

    @property
    def allowed(self) -> tuple[FunctionSpec, ...]:
        """The functions a call may name: only the named one when `tool_choice` names one."""
        if self.choice in ("auto", "required", "none"):
            return self.offered
        return tuple(t for t in self.tools if t.name == self.choice)

    @property
    def forced(self) -> bool:
        """Must the answer be at least one call?"""
        return self.calling and self.choice != "auto"

    def tool(self, name: str) -> FunctionSpec | None:
        return next((t for t in self.allowed if t.name == name), None)


def check_schema(schema: Any, where: str) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        raise BadRequest(f"{where} must be a JSON Schema object", param=where)
    try:
        Draft202012Validator.check_schema(dict(schema))
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path) or "(top)"
        raise BadRequest(f"{where} is not a valid JSON Schema at {path}: {exc.message}", param=where) from None
    return dict(schema)


def function(name: str, description: str | None = None, parameters: Any = None, where: str = "tools") -> FunctionSpec:
    """A checked `FunctionSpec` (OpenAI allows a missing `parameters`: a function without arguments)."""
    if not NAME.match(name):
        raise BadRequest(f"{where}: function name {name!r} must be 1-64 letters, digits, '_', '.' or '-'", param=where)
    params = {"type": "object", "properties": {}} if parameters is None else check_schema(parameters, where)
    return FunctionSpec(name, description or "", params)


def policy(
    tools: Sequence[FunctionSpec] = (),
    tool_choice: str | None = None,
    parallel: bool | None = None,
    response_format: ResponseFormat | None = None,
    *,
    reask: bool = True,
    more_calls: bool = True,
    more_calls_above: float = 0.2,
    relevance: float | None = None,
) -> CallPolicy:
    """A `CallPolicy` from the request's fields, or `BadRequest` saying what to fix."""
    names = [t.name for t in tools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BadRequest(f"tools: function {dupes[0]!r} is defined twice", param="tools")
    choice = tool_choice or "auto"
    if choice not in ("auto", "none", "required"):
        if not tools:
            raise BadRequest(f"tool_choice names {choice!r} but the request defines no tools", param="tool_choice")
        if choice not in names:
            raise BadRequest(
                f"tool_choice names {choice!r}, which is not among the tools: {', '.join(names)}", param="tool_choice"
            )
    elif choice == "required" and not tools:
        raise BadRequest("tool_choice 'required' needs at least one tool in tools", param="tool_choice")
    fmt = response_format or ResponseFormat()
    parallel_ = True if parallel is None else parallel
    return CallPolicy(
        tuple(tools), choice, parallel_, fmt, reask, more_calls, more_calls_above=more_calls_above, relevance=relevance
    )


def check_conversation(messages: Sequence[Message]) -> None:
    """Every `tool` message must answer a call an earlier assistant turn made."""
    made: set[str] = set()
    for i, m in enumerate(messages):
        if m.role == "assistant":
            made.update(c.id for c in m.tool_calls)
        elif m.role == "tool":
            if not m.tool_call_id:
                raise BadRequest(f"messages[{i}]: a tool message needs tool_call_id", param=f"messages.{i}")
            if m.tool_call_id not in made:
                raise BadRequest(
                    f"messages[{i}]: tool_call_id {m.tool_call_id!r} answers no earlier assistant tool call",
                    param=f"messages.{i}",
                )
