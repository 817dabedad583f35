"""The HTTP surface on the fake backend: OpenAI shapes, streaming, and an error for every bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ponder.server.app import create_app
from tests.conftest import fake_settings

USER = [{"role": "user", "content": "hi"}]


def sse(text: str) -> list[Any]:
    lines = [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(x) for x in lines[:-1]]


def scripted(tmp_path: Path, *scripts: str) -> TestClient:
    return TestClient(create_app(fake_settings(tmp_path, scripts=list(scripts))))


def test_chat_completion_shape(client: TestClient) -> None:
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": USER})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["message"]["content"].startswith("Fake answer to:")
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 0}


def test_thinking_trace_in_reasoning_content(tmp_path: Path) -> None:
    with scripted(tmp_path, "step one </think>", "Done.") as c:
        body = c.post("/v1/chat/completions", json={"model": "ponder-thinking", "messages": USER}).json()
    message = body["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Done.", "reasoning_content": "step one "}
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 3


def test_streaming_chunks_reasoning_then_content_then_usage(tmp_path: Path) -> None:
    with scripted(tmp_path, "hmm </think>", "Yes indeed.") as c:
        r = c.post(
            "/v1/chat/completions",
            json={"messages": USER, "stream": True, "mode": "thinking", "stream_options": {"include_usage": True}},
        )
    assert r.headers["content-type"].startswith("text/event-stream")
    chunks = sse(r.text)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0]["role"] == "assistant"
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "hmm "
    assert "".join(d.get("content", "") for d in deltas) == "Yes indeed."
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] == 2


def test_n_choices_and_logprobs(tmp_path: Path) -> None:
    with scripted(tmp_path, "one", "two") as c:
        body = c.post(
            "/v1/chat/completions",
            json={"messages": USER, "n": 2, "logprobs": True, "top_logprobs": 1, "seed": 3},
        ).json()
    assert sorted(ch["message"]["content"] for ch in body["choices"]) == ["one", "two"]
    lp = body["choices"][0]["logprobs"]["content"][0]
    assert set(lp) == {"token", "logprob", "bytes", "top_logprobs"} and len(lp["top_logprobs"]) == 1


def test_max_tokens_and_stop_are_honoured(tmp_path: Path) -> None:
    with scripted(tmp_path, "a b c d e f", "x y STOP z") as c:
        first = c.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 3}).json()
        second = c.post("/v1/chat/completions", json={"messages": USER, "stop": "STOP"}).json()
    assert first["choices"][0]["message"]["content"] == "a b c"
    assert first["choices"][0]["finish_reason"] == "length"
    assert second["choices"][0]["message"]["content"] == "x y "


def test_models_health_and_page(client: TestClient) -> None:
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert {"ponder-instant", "ponder-thinking", "qwen2.5-coder-1.5b", "smollm2-135m", "fake"} <= set(ids)
    assert client.get("/v1/models/ponder-thinking").json()["id"] == "ponder-thinking"
    assert client.get("/v1/models/nope").status_code == 400
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["peak_rss_mb"] > 10
    page = client.get("/")
    assert page.status_code == 200 and "/v1/chat/completions" in page.text


BAD = [
    ({"model": "gpt-4o", "messages": USER}, "unknown model 'gpt-4o'; valid models are: fake, ponder-"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
    ({"messages": []}, "messages: List should have at least 1 item"),
    ({}, "messages: Field required"),
    ({"messages": USER, "mode": "dreaming"}, "unknown mode 'dreaming'"),
    ({"messages": USER, "temperature": 9}, "temperature"),
    ({"messages": USER, "n": 0}, "n:"),
    ({"messages": USER, "top_logprobs": 2}, "top_logprobs requires logprobs"),
    ({"messages": [{"role": "user", "content": "word " * 400}]}, "context"),
]


@pytest.mark.parametrize(("body", "message"), BAD)
def test_bad_requests_get_openai_400s(client: TestClient, body: dict[str, Any], message: str) -> None:
    for stream in (False, True):
        r = client.post("/v1/chat/completions", json={**body, "stream": stream} if body else body)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert message in error["message"]
        assert error["type"] == "invalid_request_error"


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post("/v1/chat/completions", content=b'{"messages": [', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]


def test_oversized_body_is_413(tmp_path: Path) -> None:
    settings = fake_settings(tmp_path)
    settings.server.max_body_bytes = 2048
    with TestClient(create_app(settings)) as c:
        big = {"messages": [{"role": "user", "content": "x" * 4096}]}
        r = c.post("/v1/chat/completions", json=big)
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

        def chunks() -> Any:  # no Content-Length: the limit still holds while reading
            yield json.dumps(big).encode()

        r = c.post("/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_raw_completions(tmp_path: Path) -> None:
    with scripted(tmp_path, "continued text here") as c:
        body = c.post(
            "/v1/completions", json={"model": "fake", "prompt": "Once", "max_tokens": 2, "logprobs": 1}
        ).json()
    assert body["choices"][0]["text"] == "continued text"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["logprobs"]["tokens"] == ["continued", " text"]
