"""Handlers for `/v1/chat/completions` and `/v1/completions`: events in, OpenAI JSON or SSE out.

The handler pulls the first event before it answers, so anything that fails up front (a prompt too
long, a full queue, an unknown model) becomes a proper HTTP error instead of a broken 200 stream.
A streaming client that goes away cancels the generator, which closes the event stream down to the
engine and frees the sequence's slot.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sse_starlette.sse import EventSourceResponse

from ponder.assistant import Assistant
from ponder.errors import BadRequest
from ponder.guard.refusals import refusal
from ponder.modes.base import nest_provenance
from ponder.server.protocol import ChatCompletionRequest, CompletionRequest
from ponder.types import (
    AgentStep,
    BackendItem,
    Chunk,
    Completion,
    Done,
    Event,
    Perception,
    Progress,
    Provenance,
    ReasoningDelta,
    Safety,
    SamplingParams,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    Usage,
)

T = TypeVar("T")


def usage_json(u: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
    }


def logprob_json(lp: TokenLogprob) -> dict[str, Any]:
    return {
        "token": lp.token,
        "logprob": lp.logprob,
        "bytes": list(lp.token.encode()),
        "top_logprobs": [{"token": t.token, "logprob": t.logprob, "bytes": list(t.token.encode())} for t in lp.top],
    }


async def _primed(events: AsyncGenerator[T, None]) -> tuple[T | None, AsyncGenerator[T, None]]:
    """Pull the first item now, so up-front errors raise here, before any response is sent."""
    try:
        first = await anext(events)
    except StopAsyncIteration:
        return None, events
    except BaseException:
        await events.aclose()
        raise
    return first, events


async def _chain(first: T | None, rest: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
    if first is not None:
        yield first
    async for item in rest:
        yield item


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Run a non-streaming job, cancelling it if the client hangs up first."""
    task = asyncio.ensure_future(work)
    while not task.done():
        done, _ = await asyncio.wait({task}, timeout=0.5)
        if not done and await request.is_disconnected():
            task.cancel()
    return task.result()


def _sse(
    gen: AsyncGenerator[dict[str, Any], None], on_error: Callable[[Exception], dict[str, Any]]
) -> EventSourceResponse:
    async def body() -> AsyncGenerator[dict[str, str], None]:
        try:
            async for payload in gen:
                yield {"data": json.dumps(payload, ensure_ascii=False)}
        except Exception as exc:  # headers are sent: the error can only travel in the stream
            yield {"data": json.dumps(on_error(exc))}
        yield {"data": "[DONE]"}

    return EventSourceResponse(body(), ping=15)


@dataclass
class _Choice:
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    logprobs: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    safety: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def tool_call_delta_json(ev: ToolCallDelta) -> dict[str, Any]:
    """OpenAI's `delta.tool_calls[i]`: the first piece names the call, the rest carry arguments."""
    if ev.id is None:
        return {"index": ev.call_index, "function": {"arguments": ev.arguments}}
    fn = {"name": ev.name, "arguments": ev.arguments}
    return {"index": ev.call_index, "id": ev.id, "type": "function", "function": fn}


def perception_json(ev: Perception) -> dict[str, Any]:
    annotations = [{"label": a.label, "box": list(a.box), "score": a.score, "source": a.source} for a in ev.annotations]
    seen = {"kind": ev.kind, "item": ev.item, **ev.summary, "annotations": annotations, "timings": ev.timings}
    return {**seen, "cached": True} if ev.cached else seen


def safety_json(ev: Safety) -> dict[str, Any]:
    keys = ("stage", "category", "score", "action", "replaced")
    return {k: getattr(ev, k) for k in keys}


async def _refusal_items(text: str) -> AsyncGenerator[BackendItem, None]:
    """A raw completion the guard refused at the prompt: the refusal, and nothing spent."""
    yield Chunk(text, 0)
    yield Completion("stop", 0, 0)


class Serving:
    def __init__(self, assistant: Assistant, error_json: Callable[[Exception], dict[str, Any]]) -> None:
        self.assistant = assistant
        self.settings = assistant.settings
        self._error_json = error_json

    def _params(self, req: ChatCompletionRequest | CompletionRequest, max_tokens: int | None) -> SamplingParams:
        logprobs = bool(req.logprobs) if isinstance(req, ChatCompletionRequest) else req.logprobs is not None
        top = (req.top_logprobs or 0) if isinstance(req, ChatCompletionRequest) else (req.logprobs or 0)
        if isinstance(req, ChatCompletionRequest) and top and not logprobs:
            raise BadRequest("top_logprobs requires logprobs to be true", param="top_logprobs")
        unset_is_default = {"temperature": req.temperature, "top_p": req.top_p}
        return SamplingParams(
            max_tokens=max_tokens or self.settings.server.max_tokens_default,
            min_tokens=req.min_tokens,
            **{k: v for k, v in unset_is_default.items() if v is not None},
            seed=req.seed,
            stop=req.stop,
            logprobs=logprobs,
            top_logprobs=top,
            grammar=req.grammar if isinstance(req, CompletionRequest) else None,
        )

    # --- chat ---------------------------------------------------------------------------------

    async def chat(self, req: ChatCompletionRequest, request: Request) -> Response:
        plan = self.assistant.plan(req.model, req.mode, req.reasoning_effort, req.thinking_budget)
        params = self._params(req, req.max_completion_tokens or req.max_tokens)
        messages = [m.to_message() for m in req.messages]
        calls = req.call_policy(self.settings.calls)
        first, events = await _primed(self.assistant.run(plan, messages, params, req.n, req.ponder, calls))
        events = _chain(first, events)
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": req.model or plan.model}
        if req.stream:
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            return _sse(self._chat_chunks(events, meta, include_usage, req.logprobs), self._error_json)
        return JSONResponse(await _unless_disconnected(request, self._chat_body(events, meta, req.n, req.logprobs)))

    async def _chat_chunks(
        self, events: AsyncGenerator[Event, None], meta: dict[str, Any], include_usage: bool, logprobs: bool
    ) -> AsyncGenerator[dict[str, Any], None]:
        started: set[int] = set()

        def chunk(index: int, delta: dict[str, Any], finish: str | None = None, lps: Any = None) -> dict[str, Any]:
            if index not in started:
                started.add(index)
                delta = {"role": "assistant", **delta}
            choice = {"index": index, "delta": delta, "logprobs": lps, "finish_reason": finish}
            return {**meta, "object": "chat.completion.chunk", "choices": [choice]}

        async with aclosing(events):
            async for ev in events:
                if isinstance(ev, TextDelta):
                    lps = {"content": [logprob_json(x) for x in ev.logprobs]} if logprobs else None
                    yield chunk(ev.index, {"content": ev.text}, lps=lps)
                elif isinstance(ev, ReasoningDelta):
                    if ev.text:
                        yield chunk(ev.index, {"reasoning_content": ev.text})
                elif isinstance(ev, ToolCallDelta):
                    yield chunk(ev.index, {"tool_calls": [tool_call_delta_json(ev)]})
                elif isinstance(ev, Done):
                    yield chunk(ev.index, {}, ev.finish_reason)
                elif isinstance(ev, Usage) and include_usage:
                    yield {**meta, "object": "chat.completion.chunk", "choices": [], "usage": usage_json(ev)}
                elif isinstance(ev, Progress):
                    keys = ("running", "stopped", "finished", "leader", "leader_share", "tokens")
                    progress = {k: getattr(ev, k) for k in keys}
                    yield {**meta, "object": "chat.completion.chunk", "choices": [], "ponder": {"progress": progress}}
                elif isinstance(ev, Provenance):
                    report = {"mode": ev.mode, "index": ev.index, **ev.report}
                    yield {**meta, "object": "chat.completion.chunk", "choices": [], "ponder": report}
                elif isinstance(ev, AgentStep):
                    keys = ("agent", "kind", "text", "tool", "ok", "observation")
                    step = {"index": ev.index, **{k: getattr(ev, k) for k in keys}}
                    yield {**meta, "object": "chat.completion.chunk", "choices": [], "ponder": {"step": step}}
                elif isinstance(ev, Safety):  # `replaced`: drop what this choice streamed; the refusal follows
                    safety = {"index": ev.index, **safety_json(ev)}
                    yield {**meta, "object": "chat.completion.chunk", "choices": [], "ponder": {"safety": safety}}
                elif isinstance(ev, Perception):
                    seen = [perception_json(ev)]
                    yield {**meta, "object": "chat.completion.chunk", "choices": [], "ponder": {"perception": seen}}

    async def _chat_body(
        self, events: AsyncGenerator[Event, None], meta: dict[str, Any], n: int, logprobs: bool
    ) -> dict[str, Any]:
        choices = [_Choice() for _ in range(n)]
        usage = Usage()
        provenance: list[Provenance] = []
        perception: list[dict[str, Any]] = []
        async with aclosing(events):
            async for ev in events:
                if isinstance(ev, TextDelta):
                    choices[ev.index].content.append(ev.text)
                    choices[ev.index].logprobs.extend(logprob_json(x) for x in ev.logprobs)
                elif isinstance(ev, ReasoningDelta):
                    choices[ev.index].reasoning.append(ev.text)
                elif isinstance(ev, ToolCallDelta):
                    calls = choices[ev.index].tool_calls
                    if ev.id is not None:
                        calls.append({"id": ev.id, "type": "function", "function": {"name": ev.name, "arguments": ""}})
                    calls[ev.call_index]["function"]["arguments"] += ev.arguments
                elif isinstance(ev, Done):
                    choices[ev.index].finish_reason = ev.finish_reason
                elif isinstance(ev, Usage):
                    usage = ev
                elif isinstance(ev, Provenance):
                    provenance.append(ev)
                elif isinstance(ev, Perception):
                    perception.append(perception_json(ev))
                elif isinstance(ev, Safety):
                    c = choices[ev.index]
                    if ev.replaced:
                        c.content, c.reasoning, c.logprobs = [], [], []
                    c.safety = safety_json(ev)
        out = []
        for i, c in enumerate(choices):
            message: dict[str, Any] = {"role": "assistant", "content": "".join(c.content)}
            if c.tool_calls:  # OpenAI's shape: content is null when the turn is only calls
                message["tool_calls"] = c.tool_calls
                message["content"] = message["content"] or None
            if c.reasoning:
                message["reasoning_content"] = "".join(c.reasoning)
            if c.safety is not None and c.safety["action"] == "block":  # an answer: in `content` and `refusal`
                message["refusal"] = message["content"]
            out.append(
                {
                    "index": i,
                    "message": message,
                    "logprobs": {"content": c.logprobs} if logprobs else None,
                    "finish_reason": c.finish_reason,
                }
            )
        body = {**meta, "object": "chat.completion", "choices": out, "usage": usage_json(usage)}
        merged = nest_provenance(provenance)
        for i, c in enumerate(choices):
            if c.safety is not None:
                merged.setdefault(i, {"index": i})["safety"] = c.safety
            if perception:  # what every choice was shown
                merged.setdefault(i, {"index": i})["perception"] = perception
        if merged:
            body["ponder"] = merged[0] if n == 1 else [merged[i] for i in sorted(merged)]
        return body

    # --- raw completions ------------------------------------------------------------------------

    async def complete(self, req: CompletionRequest, request: Request) -> Response:
        if req.n != 1:
            raise BadRequest("/v1/completions serves n=1 only; use /v1/chat/completions for several choices", param="n")
        plan = self.assistant.plan(req.model, "instant")
        backend = await self.assistant.backend(plan.model)
        params = self._params(req, req.max_tokens or 16)
        screen = self.assistant.screen()
        decision = await screen.check(req.prompt, "input") if screen is not None else None
        if decision is not None and decision.blocks:
            items = _refusal_items(refusal(decision.category))
        else:
            first, items = await _primed(backend.stream(req.prompt, params))
            items = _chain(first, items)
        meta = {"id": f"cmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": req.model or plan.model}
        want_lp = req.logprobs is not None
        if req.stream:
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            return _sse(self._completion_chunks(items, meta, include_usage, want_lp), self._error_json)

        async def body() -> dict[str, Any]:
            text: list[str] = []
            lps: list[TokenLogprob] = []
            end: Completion | None = None
            async with aclosing(items):
                async for it in items:
                    if isinstance(it, Chunk):
                        text.append(it.text)
                        lps.extend(it.logprobs)
                    else:
                        end = it
            return {
                **meta,
                "object": "text_completion",
                "choices": [_completion_choice("".join(text), lps if want_lp else None, end)],
                "usage": _completion_usage(end),
            }

        return JSONResponse(await _unless_disconnected(request, body()))

    async def _completion_chunks(
        self, items: AsyncGenerator[BackendItem, None], meta: dict[str, Any], include_usage: bool, want_lp: bool
    ) -> AsyncGenerator[dict[str, Any], None]:
        async with aclosing(items):
            async for it in items:
                if isinstance(it, Chunk):
                    choice = _completion_choice(it.text, list(it.logprobs) if want_lp else None, None)
                    yield {**meta, "object": "text_completion", "choices": [choice]}
                else:
                    yield {**meta, "object": "text_completion", "choices": [_completion_choice("", None, it)]}
                    if include_usage:
                        yield {**meta, "object": "text_completion", "choices": [], "usage": _completion_usage(it)}


def _completion_choice(text: str, lps: list[TokenLogprob] | None, end: Completion | None) -> dict[str, Any]:
    logprobs = None
    if lps is not None:
        logprobs = {
            "tokens": [x.token for x in lps],
            "token_logprobs": [x.logprob for x in lps],
            "top_logprobs": [{t.token: t.logprob for t in x.top} for x in lps],
            "text_offset": [],
        }
    finish = None if end is None else ("length" if end.finish_reason == "length" else "stop")
    return {"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}


def _completion_usage(end: Completion | None) -> dict[str, Any]:
    if end is None:
        return usage_json(Usage())
    return usage_json(Usage(end.prompt_tokens, end.completion_tokens, 0, end.cached_tokens))
