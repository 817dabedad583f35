"""Function calling over HTTP on the fake backend: the OpenAI SDK round-trips calls, streaming and not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import openai
import pytest
from fastapi.testclient import TestClient
from openai.types.chat import ChatCompletionFunctionToolParam

from bench.tool_outputs import TOOLS, WEATHER
from ponder.backends.fake import FakeBackend
from ponder.server.app import create_app
from tests.conftest import fake_settings
from tests.test_server import sse

ASK: Any = [{"role": "user", "content": "Weather in Paris and Rome?"}]
WEATHER_TOOL = cast(ChatCompletionFunctionToolParam, WEATHER)  # the same dict, as the SDK types it
TWO_CALLS = (
    "```json\n"
    '[{"name": "get_weather", "arguments": {"city": "Paris", "unit": "Celsius"}},\n'
    ' {"name": "get_weather", "arguments": {"city": "Rome"}}]\n```'
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, FakeBackend]]:
    """An app over the fake backend, and that backend (scripts are enqueued per test)."""
    with TestClient(create_app(fake_settings(tmp_path, scripts=[]))) as client:
        assistant = client.app.state.assistant  # type: ignore[attr-defined]
        backend = client.portal.call(assistant.backend, "fake")  # type: ignore[union-attr]
        yield client, backend


def sdk(client: TestClient) -> openai.OpenAI:
    return openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client, max_retries=0)


def test_sdk_round_trips_calls_and_a_tool_follow_up(served: tuple[TestClient, FakeBackend]) -> None:
    client, backend = served
    backend.enqueue(TWO_CALLS, "", "Paris is 18C and Rome is 24C.")  # "": no call after those two
    first = sdk(client).chat.completions.create(model="fake", messages=ASK, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_weather"]  # type: ignore[union-attr]
    assert [json.loads(c.function.arguments) for c in calls] == [  # type: ignore[union-attr]
        {"city": "Paris", "unit": "celsius"},
        {"city": "Rome"},
    ]
    assert all(c.id.startswith("call_") and c.type == "function" for c in calls)

    follow_up: Any = [
        *ASK,
        choice.message.model_dump(exclude_none=True),
        *({"role": "tool", "tool_call_id": c.id, "content": t} for c, t in zip(calls, ("18C", "24C"), strict=True)),
    ]
    second = sdk(client).chat.completions.create(model="fake", messages=follow_up, tools=[WEATHER_TOOL])
    assert second.choices[0].message.content == "Paris is 18C and Rome is 24C."
    assert second.choices[0].finish_reason == "stop"
    prompt = backend.prompts[-1]
    assert '"arguments": {"city": "Paris", "unit": "celsius"}' in prompt  # the earlier calls, as the model writes them
    assert "<tool_response>\n18C\n</tool_response>\n<tool_response>\n24C\n</tool_response>" in prompt


def test_sdk_streams_tool_call_deltas(served: tuple[TestClient, FakeBackend]) -> None:
    client, backend = served
    backend.enqueue(TWO_CALLS)
    stream = sdk(client).chat.completions.create(model="fake", messages=ASK, tools=[WEATHER_TOOL], stream=True)
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for d in choice.delta.tool_calls or []:
                call = calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
                if d.id:
                    assert d.function is not None and d.function.name  # the name comes with the id, first
                    call["id"], call["name"] = d.id, d.function.name
                call["arguments"] += (d.function.arguments or "") if d.function else ""
    assert finish == "tool_calls"
    assert [c["name"] for c in calls.values()] == ["get_weather", "get_weather"]
    assert json.loads(calls[1]["arguments"]) == {"city": "Rome"}
    assert all(c["id"].startswith("call_") for c in calls.values())


@pytest.mark.parametrize("stream", [False, True])
def test_the_same_reply_gives_the_same_calls_streaming_or_not(
    served: tuple[TestClient, FakeBackend], stream: bool
) -> None:
    client, backend = served
    backend.enqueue('Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call>')
    r = client.post(
        "/v1/chat/completions", json={"model": "fake", "messages": ASK, "tools": [WEATHER], "stream": stream}
    )
    if stream:
        deltas = [c["choices"][0]["delta"] for c in sse(r.text) if c["choices"]]
        content = "".join(d.get("content") or "" for d in deltas)
        calls = [t for d in deltas for t in d.get("tool_calls", [])]
        name = calls[0]["function"]["name"]
        arguments = "".join(t["function"]["arguments"] for t in calls)
    else:
        message = r.json()["choices"][0]["message"]
        content, name = message["content"], message["tool_calls"][0]["function"]["name"]
        arguments = message["tool_calls"][0]["function"]["arguments"]
    assert (content, name, json.loads(arguments)) == ("Checking.", "get_weather", {"city": "Rome"})


def test_required_and_named_choices_send_a_grammar(served: tuple[TestClient, FakeBackend]) -> None:
    client, backend = served
    backend.enqueue('{"name": "get_weather", "arguments": {"city": "Paris"}}')
    choice = {"type": "function", "function": {"name": "get_weather"}}
    body = {"model": "fake", "messages": ASK, "tools": [WEATHER], "tool_choice": choice, "parallel_tool_calls": False}
    r = client.post("/v1/chat/completions", json=body)
    assert r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    grammar = backend.params[-1].grammar
    assert grammar is not None and "get_weather" in grammar and "{0," not in grammar  # one call, no more


def test_response_format_json_schema_sends_its_grammar(served: tuple[TestClient, FakeBackend]) -> None:
    client, backend = served
    backend.enqueue('{"answer": 4}')
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "a", "schema": {"type": "object", "properties": {"answer": {"type": "integer"}}}},
    }
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": ASK, "response_format": fmt})
    assert r.json()["choices"][0]["message"]["content"] == '{"answer": 4}'
    grammar = backend.params[-1].grammar
    assert grammar is not None and '"\\"answer\\""' in grammar


def test_response_format_json_object_sends_an_object_grammar(served: tuple[TestClient, FakeBackend]) -> None:
    client, backend = served
    backend.enqueue('{"city": "Rome", "days": 3}')
    body = {"model": "fake", "messages": ASK, "response_format": {"type": "json_object"}}
    r = client.post("/v1/chat/completions", json=body)
    assert json.loads(r.json()["choices"][0]["message"]["content"]) == {"city": "Rome", "days": 3}
    grammar = backend.params[-1].grammar
    assert grammar is not None and "answer ::= object" in grammar  # any JSON object, nothing else


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "not among the tools",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}]},
            "not a valid JSON Schema",
        ),
        ({"tool_choice": "required"}, "needs at least one tool"),
        ({"response_format": {"type": "json_schema"}}, "needs json_schema.schema"),
        ({"messages": [*ASK, {"role": "tool", "tool_call_id": "call_x", "content": "1"}]}, "answers no earlier"),
    ],
)
def test_bad_function_calling_input_is_a_400(
    served: tuple[TestClient, FakeBackend], extra: dict[str, Any], message: str
) -> None:
    client, _ = served
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": ASK, **extra})
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]["message"]


RECORDED = [
    r for r in json.loads((Path(__file__).parent / "data" / "tool_outputs.json").read_text()) if r["finish"] == "stop"
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("row", RECORDED, ids=lambda r: f"{r['model']}-{r['prompt']}-{r['style']}")
def test_recorded_replies_give_their_calls_through_the_api(
    served: tuple[TestClient, FakeBackend], row: dict[str, Any], stream: bool
) -> None:
    """The parser table again, end to end: the fake backend replays each real reply word by word, to
    the question it answered."""
    from bench.tool_outputs import PROMPTS

    client, backend = served
    backend.enqueue(row["output"])
    asked = [{"role": "user", "content": next(text for name, text, _ in PROMPTS if name == row["prompt"])}]
    body = {"model": "fake", "messages": asked, "tools": TOOLS, "stream": stream, "max_tokens": 400}
    r = client.post("/v1/chat/completions", json=body)
    calls: dict[int, dict[str, str]] = {}
    if stream:
        for d in (c["choices"][0]["delta"] for c in sse(r.text) if c["choices"]):
            for t in d.get("tool_calls", []):
                call = calls.setdefault(t["index"], {"name": "", "arguments": ""})
                call["name"] += t["function"].get("name") or ""
                call["arguments"] += t["function"]["arguments"]
    else:
        for i, t in enumerate(r.json()["choices"][0]["message"].get("tool_calls") or []):
            calls[i] = t["function"]
    got = [[c["name"], json.loads(c["arguments"])] for c in calls.values()]
    assert got == row["expect"]


def test_the_operator_can_turn_off_the_offer_of_more_calls(tmp_path: Path) -> None:
    settings = fake_settings(tmp_path, scripts=['{"name": "get_weather", "arguments": {"city": "Paris"}}'])
    settings.calls.more_calls = False
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/chat/completions", json={"model": "fake", "messages": ASK, "tools": [WEATHER]})
        backend = client.portal.call(client.app.state.assistant.backend, "fake")  # type: ignore[attr-defined,union-attr]
    assert len(r.json()["choices"][0]["message"]["tool_calls"]) == 1
    assert len(backend.prompts) == 1
