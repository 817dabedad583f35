"""Function calling on the real smollm2-135m: a grammar-forced call is valid, through the SDK and a remote hop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from jsonschema import Draft202012Validator

from ponder.assistant import Assistant
from ponder.calls.spec import function, policy
from ponder.config import ModelEntry, Settings
from ponder.types import Message, SamplingParams, ToolCallDelta

pytestmark = pytest.mark.model
SCHEMA: Any = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer"},
    },
    "required": ["city", "unit", "days"],
}
WEATHER: Any = {
    "type": "function",
    "function": {"name": "get_forecast", "description": "Weather forecast.", "parameters": SCHEMA},
}
OTHER: Any = {
    "type": "function",
    "function": {"name": "send_email", "parameters": {"type": "object", "properties": {"to": {"type": "string"}}}},
}
ASK: Any = [{"role": "user", "content": "What will the weather be in Paris for the next 3 days?"}]
NAMED: Any = {"type": "function", "function": {"name": "get_forecast"}}


@pytest.fixture
def sdk(model_server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=model_server + "/v1", api_key="unused", max_retries=0)


def test_a_named_tool_choice_forces_a_valid_call(sdk: openai.OpenAI) -> None:
    """A 135M model rarely calls on its own; under the grammar its call must still follow the schema."""
    r = sdk.chat.completions.create(
        model="smollm2-135m", messages=ASK, tools=[OTHER, WEATHER], tool_choice=NAMED, max_tokens=80, temperature=0
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    calls = choice.message.tool_calls or []
    assert len(calls) >= 1
    for call in calls:
        assert call.function.name == "get_forecast"  # type: ignore[union-attr]
        Draft202012Validator(SCHEMA).validate(json.loads(call.function.arguments))  # type: ignore[union-attr]

    follow_up: Any = [
        *ASK,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": calls[0].id, "content": '{"forecast": "sunny, 21C"}'},
    ]
    answer = sdk.chat.completions.create(model="smollm2-135m", messages=follow_up, tools=[WEATHER], max_tokens=24)
    assert answer.choices[0].message.content or answer.choices[0].message.tool_calls


def test_a_forced_call_streams_as_deltas(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="smollm2-135m",
        messages=ASK,
        tools=[WEATHER],
        tool_choice="required",
        max_tokens=80,
        temperature=0,
        parallel_tool_calls=False,
        stream=True,
    )
    name, arguments, finish = "", "", None
    for chunk in stream:
        for c in chunk.choices:
            finish = c.finish_reason or finish
            for d in c.delta.tool_calls or []:
                assert d.index == 0
                name += (d.function.name or "") if d.function else ""
                arguments += (d.function.arguments or "") if d.function else ""
    assert (name, finish) == ("get_forecast", "tool_calls")
    Draft202012Validator(SCHEMA).validate(json.loads(arguments))


async def test_the_grammar_crosses_a_remote_hop(model_server: str, tmp_path: Path) -> None:
    """ponder in front of another ponder: the grammar travels in `/v1/completions` and still holds."""
    settings = Settings(
        model="remote",
        cache_dir=tmp_path,
        models=[
            ModelEntry(name="remote", endpoint=model_server + "/v1", remote_name="smollm2-135m", template="smollm2")
        ],
        guard={"enabled": False},
    )
    assistant = Assistant(settings)
    tools = [function("get_forecast", "Weather forecast.", SCHEMA)]
    ask = [Message(role="user", content=ASK[0]["content"])]
    events = [
        e
        async for e in assistant.run(
            assistant.plan(), ask, SamplingParams(max_tokens=80, temperature=0), calls=policy(tools, "required", False)
        )
    ]
    await assistant.aclose()
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert [d.name for d in deltas if d.name] == ["get_forecast"]
    Draft202012Validator(SCHEMA).validate(json.loads("".join(d.arguments for d in deltas)))
