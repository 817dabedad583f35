"""End to end on the real smollm2-135m model, through a real `ponder serve` process and the official SDK."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from ponder.assistant import Assistant
from ponder.config import ModelEntry, Settings
from ponder.types import Message, ReasoningDelta, SamplingParams, TextDelta, Usage

pytestmark = pytest.mark.model
MODEL = "smollm2-135m"
ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Name three primary colors."}]


@pytest.fixture
def url(model_server: str) -> str:
    return model_server


@pytest.fixture
def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)


def stats(url: str) -> dict[str, int]:
    return dict(httpx.get(url + "/health").json()["loaded"][MODEL])


def wait_idle(url: str, timeout: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while (s := stats(url))["active"] or s["waiting"]:
        assert time.monotonic() < deadline, s
        time.sleep(0.05)
    return s


def test_sdk_chat(sdk: openai.OpenAI) -> None:
    r = sdk.chat.completions.create(model=MODEL, messages=ASK, max_tokens=24, temperature=0)
    choice = r.choices[0]
    assert choice.message.role == "assistant" and choice.message.content and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert r.usage is not None and 0 < r.usage.completion_tokens <= 24


def test_sdk_streaming_with_usage(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="ponder-instant",
        messages=ASK,
        max_tokens=24,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")


def test_thinking_returns_a_separate_trace_within_budget(sdk: openai.OpenAI) -> None:
    r = sdk.chat.completions.create(
        model="ponder-thinking",
        messages=ASK,
        max_tokens=24,
        extra_body={"thinking_budget": 12},
    )
    message = r.choices[0].message
    reasoning = (message.model_extra or {}).get("reasoning_content")
    assert reasoning and reasoning.strip()
    assert message.content and message.content.strip() and "</think>" not in message.content
    assert r.usage is not None and r.usage.completion_tokens_details is not None
    assert 0 < (r.usage.completion_tokens_details.reasoning_tokens or 0) <= 12
    cached = r.usage.prompt_tokens_details.cached_tokens if r.usage.prompt_tokens_details else 0
    assert (cached or 0) <= r.usage.prompt_tokens  # the user's prompt, not the forced continuation


def test_thinking_streams_trace_before_answer(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=ASK,
        max_tokens=16,
        stream=True,
        reasoning_effort="low",
    )
    kinds = []
    for chunk in stream:
        if chunk.choices:
            extra = chunk.choices[0].delta.model_extra or {}
            if extra.get("reasoning_content"):
                kinds.append("r")
            if chunk.choices[0].delta.content:
                kinds.append("c")
    assert "r" in kinds and "c" in kinds and kinds.index("c") > kinds.index("r")
    assert "r" not in kinds[kinds.index("c") :]


def test_logprobs(sdk: openai.OpenAI) -> None:
    r = sdk.chat.completions.create(
        model=MODEL,
        messages=ASK,
        max_tokens=8,
        logprobs=True,
        top_logprobs=3,
    )
    lps = r.choices[0].logprobs
    assert lps is not None and lps.content
    assert r.usage is not None and len(lps.content) == r.usage.completion_tokens
    for tok in lps.content:
        assert tok.logprob <= 0 and len(tok.top_logprobs) == 3
        assert tok.top_logprobs[0].logprob >= tok.logprob - 1e-4


def test_repeated_prompt_reuses_its_prefix(sdk: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Describe the ocean in one short sentence, please."}
    ]
    sdk.chat.completions.create(model=MODEL, messages=messages, max_tokens=4)
    r = sdk.chat.completions.create(model=MODEL, messages=messages, max_tokens=4)
    assert r.usage is not None and r.usage.prompt_tokens_details is not None
    assert (r.usage.prompt_tokens_details.cached_tokens or 0) >= r.usage.prompt_tokens - 1


def test_two_alternating_prompts_keep_their_prefixes(sdk: openai.OpenAI) -> None:
    """As the guard's judge alternates a request's prompt and an answer's: the second prompt shares only
    the template's opening with the first, so it takes another slot rather than overwriting it."""
    nonce = time.time_ns()

    def ask(role: str) -> int:
        system = f"Session {nonce}. You are {role}. " + "Answer in one short, friendly sentence. " * 30
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            {"role": "user", "content": "Say hello."},
        ]
        r = sdk.chat.completions.create(model=MODEL, messages=messages, max_tokens=2)
        assert r.usage is not None and r.usage.prompt_tokens_details is not None
        return r.usage.prompt_tokens - (r.usage.prompt_tokens_details.cached_tokens or 0)

    ask("a lighthouse keeper")
    ask("a baker in Lyon")
    assert ask("a lighthouse keeper") <= 1


def test_choices_compute_their_shared_prompt_once(url: str, sdk: openai.OpenAI) -> None:
    before = wait_idle(url)
    nonce = time.time_ns()  # a prompt no slot has seen
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": f"Ticket {nonce}: write one sentence about the sea."}
    ]
    r = sdk.chat.completions.create(model=MODEL, messages=messages, max_tokens=6, n=3, seed=1)
    assert len(r.choices) == 3 and r.usage is not None
    reused = wait_idle(url)["cached_tokens"] - before["cached_tokens"]
    assert reused >= 2 * (r.usage.prompt_tokens - 1)  # two of three choices copied the first one's cells


async def test_four_simultaneous_requests_complete(url: str) -> None:
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    wait_idle(url)
    results = await asyncio.gather(
        *[
            client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": f"Count from {i} to {i + 20}."}],
                max_tokens=40,
                temperature=0,
            )
            for i in range(4)
        ]
    )
    assert all(r.choices[0].message.content and r.choices[0].finish_reason for r in results)
    assert len({r.choices[0].message.content for r in results}) > 1  # each got its own answer


def test_cancelled_stream_frees_its_slot(url: str) -> None:
    before = wait_idle(url)
    body = {  # greedy continuation of a count: runs to max_tokens unless cancelled
        "model": MODEL,
        "stream": True,
        "max_tokens": 1000,
        "temperature": 0,
        "messages": [{"role": "user", "content": "Continue this list up to 1000: 1, 2, 3, 4, 5, 6,"}],
    }
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        lines = r.iter_lines()  # held, so the connection stays open while we look
        for _ in range(8):
            next(lines)
        assert stats(url)["active"] == 1
    after = wait_idle(url)
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["completed"] == before["completed"]


def post(url: str, body: Any = None, **kw: Any) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json=body, timeout=60, **kw)


def test_bad_inputs_get_openai_errors(url: str, sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        sdk.chat.completions.create(model="gpt-4o", messages=ASK)
    assert "valid models are" in str(exc.value) and MODEL in str(exc.value)
    cases = [
        ({"model": MODEL, "messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
        ({"model": MODEL, "messages": []}, "at least 1 item"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "lorem ipsum " * 800}]}, "context of 1024"),
    ]
    for body, message in cases:
        r = post(url, body)
        assert r.status_code == 400 and message in r.json()["error"]["message"], r.text
    r = httpx.post(url + "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = post(url, {"model": MODEL, "messages": [{"role": "user", "content": "x" * 300_000}]})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


async def test_full_queue_answers_503_with_retry_after(url: str) -> None:
    wait_idle(url)
    body = {
        "model": MODEL,
        "stream": True,
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "Write a long story about a lighthouse."}],
    }
    async with httpx.AsyncClient(timeout=60) as client:

        async def one() -> tuple[int, str | None, bytes]:
            async with client.stream("POST", url + "/v1/chat/completions", json=body) as r:
                head = await r.aread() if r.status_code != 200 else b""
                return r.status_code, r.headers.get("retry-after"), head

        results = await asyncio.gather(*[one() for _ in range(10)])
    codes = sorted(code for code, _, _ in results)
    assert codes.count(200) == 6 and codes.count(503) == 4, codes  # 4 slots + 2 waiting
    for code, retry, head in results:
        if code == 503:
            assert retry is not None and json.loads(head)["error"]["code"] == "queue_full"
    wait_idle(url)


async def test_remote_backend_against_a_real_server(url: str, tmp_path: Path) -> None:
    """ponder in front of another OpenAI-compatible server: instant, thinking with budget, cancel."""
    settings = Settings(
        model="remote",
        cache_dir=tmp_path,
        models=[ModelEntry(name="remote", endpoint=url + "/v1", remote_name=MODEL, template="smollm2", context=1024)],
        guard={"enabled": False},
    )
    assistant = Assistant(settings)
    ask = [Message(role="user", content="Name three primary colors.")]
    events = [e async for e in assistant.run(assistant.plan(), ask, SamplingParams(max_tokens=16, logprobs=True))]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.strip() and any(e.logprobs for e in events if isinstance(e, TextDelta))
    usage = events[-1]
    assert isinstance(usage, Usage) and 0 < usage.completion_tokens <= 16 and usage.prompt_tokens > 10

    plan = assistant.plan(mode="thinking", thinking_budget=10)
    events = [e async for e in assistant.run(plan, ask, SamplingParams(max_tokens=16))]
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)).strip()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).strip()
    usage = events[-1]
    assert isinstance(usage, Usage) and 0 < usage.reasoning_tokens <= 10

    before = wait_idle(url)
    long = SamplingParams(max_tokens=1000, temperature=0)
    count = [Message(role="user", content="Continue this list up to 1000: 1, 2, 3, 4, 5, 6,")]
    stream = assistant.run(assistant.plan(), count, long)
    async for _ in stream:
        break
    await stream.aclose()
    after = wait_idle(url)
    assert after["cancelled"] == before["cancelled"] + 1
    await assistant.aclose()


def test_web_page_is_served(url: str) -> None:
    page = httpx.get(url + "/")
    assert page.status_code == 200 and "<textarea" in page.text and "reasoning_content" in page.text


def test_min_tokens_holds_off_the_end_of_turn(url: str) -> None:
    # A finished assistant turn: greedy decoding would end it at once.
    prompt = "<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\nHi! How can I help you today?"
    body = {"model": MODEL, "prompt": prompt, "max_tokens": 8, "temperature": 0}
    bare = httpx.post(url + "/v1/completions", json=body, timeout=60).json()
    held = httpx.post(url + "/v1/completions", json={**body, "min_tokens": 3}, timeout=60).json()
    assert bare["usage"]["completion_tokens"] == 0
    assert held["usage"]["completion_tokens"] >= 3


def test_contemplate_through_the_server(sdk: openai.OpenAI, url: str) -> None:
    options = {"agents": 3, "agent_budget": 48, "warmup": 8, "window": 4}
    ask: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is 12 plus 30? Answer with the number."}]
    r = sdk.chat.completions.create(
        model="ponder-contemplate",
        messages=ask,
        max_tokens=32,
        extra_body={"ponder": options},
    )
    assert r.choices[0].message.content and r.choices[0].message.content.strip()
    report = (r.model_extra or {})["ponder"]
    assert report["mode"] == "contemplate" and len(report["agents"]) == 3
    assert 0.0 <= report["confidence"] <= 1.0
    assert r.usage is not None
    assert r.usage.completion_tokens >= sum(a["tokens"] for a in report["agents"]) > 0
    assert all(a["tokens"] <= 48 + 48 for a in report["agents"])  # budget, plus a forced final answer

    stream = sdk.chat.completions.create(
        model="ponder-contemplate",
        messages=ask,
        max_tokens=32,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ponder": options},
    )
    progress, final, content = [], None, ""
    for chunk in stream:
        extra = chunk.model_extra or {}
        if "ponder" in extra:
            if "progress" in extra["ponder"]:
                progress.append(extra["ponder"]["progress"])
            else:
                final = extra["ponder"]
        if chunk.choices:
            content += chunk.choices[0].delta.content or ""
    assert progress[0]["running"] == 3 and progress[-1]["running"] == 0
    assert final is not None and len(final["agents"]) == 3 and content.strip()
