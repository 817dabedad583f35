"""`CallingMode`: any mode, with its answer turned into validated function calls.

The wrapper shows the tools to the model (through the chat template, so every mode's prompts carry
them), sets the grammar the request's `tool_choice` or `response_format` implies, and reads the
answer: while tools are in play the answer's text is held back until it is complete, then parsed,
validated, and sent on as `ToolCallDelta`s (and whatever prose is left as text). A reply that tried
to call but yielded no valid call is asked once more, constrained by the call grammar, so a client
gets either valid calls or an answer, never a broken call. Thinking and progress pass through.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any

from ponder.calls import more
from ponder.calls.grammar import MAX_PARALLEL, calls_grammar, json_grammar
from ponder.calls.parse import Parsed, parse
from ponder.calls.relevance import relevance
from ponder.calls.spec import CallPolicy, FunctionSpec
from ponder.calls.validate import (
    Checked,
    check,
    covered,
    made_up,
    resolve,
    traced,
    unsaid_dropped,
)
from ponder.errors import ContextOverflow
from ponder.modes.base import Mode, RunRequest
from ponder.types import (
    Done,
    Event,
    FinishReason,
    Message,
    Provenance,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)


@dataclass
class Attempt:
    """One reading of a complete answer: its text, what the parser found, and which calls are valid."""

    text: str
    usage: Usage
    finish: FinishReason
    parsed: Parsed
    checked: Checked


def grammar_for(policy: CallPolicy) -> str | None:
    """The grammar the answer must follow: a call when one is forced, JSON when JSON is asked for."""
    if policy.forced:
        return calls_grammar(policy.allowed, policy.parallel)
    fmt = policy.response_format
    if fmt.type == "json_object":
        return json_grammar(None)
    if fmt.type == "json_schema":
        return json_grammar(fmt.schema)
    return None


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        max(a.prompt_tokens, b.prompt_tokens),
        a.completion_tokens + b.completion_tokens,
        a.reasoning_tokens + b.reasoning_tokens,
        max(a.cached_tokens, b.cached_tokens),
    )


def call_events(calls: list[ToolCall], index: int) -> list[ToolCallDelta]:
    """A call as OpenAI streams it: the id and name first, then the arguments."""
    out: list[ToolCallDelta] = []
    for k, c in enumerate(calls):
        out.append(ToolCallDelta(k, c.id, c.name, "", index))
        out.append(ToolCallDelta(k, None, None, c.arguments, index))
    return out


def read(policy: CallPolicy, text: str, usage: Usage | None = None, finish: FinishReason = "stop") -> Attempt:
    """Parse a complete answer leniently and keep the calls that are valid against `policy`'s tools."""
    parsed = parse(text, [t.name for t in policy.allowed])
    cut = [c for c in parsed.calls if c.repaired and finish == "length"]
    checked = check([c for c in parsed.calls if c not in cut], policy.allowed)
    checked.rejected += [(c, f"{c.name}: the reply was cut short (max_tokens) inside this call") for c in cut]
    return Attempt(text, usage or Usage(), finish, parsed, checked)


def reask_tools(policy: CallPolicy, attempt: Attempt) -> tuple[FunctionSpec, ...]:
    """The tools a re-ask may call: all allowed ones when a call is forced or was unreadable, else the
    ones the model tried to call. A call to a tool that does not exist is the model answering without
    a fitting tool (BFCL's irrelevance), and forcing a real call then would be a worse answer."""
    if policy.forced or not attempt.parsed.calls:
        return policy.allowed
    meant = {t.name for c in attempt.parsed.calls if (t := resolve(c.name, policy.allowed)) is not None}
    return tuple(t for t in policy.allowed if t.name in meant)


def should_reask(policy: CallPolicy, attempt: Attempt, made: int) -> bool:
    """Ask again once when a call was forced, or attempted and came out broken, and none is valid."""
    if attempt.checked.calls or not policy.reask or made > 1 or attempt.finish == "cancelled":
        return False
    return (policy.forced or attempt.parsed.attempted) and bool(reask_tools(policy, attempt))


def forced_grammar(policy: CallPolicy, attempt: Attempt) -> str:
    """The grammar of the re-ask: a call to one of `reask_tools` (the named one, if one is named)."""
    return calls_grammar(reask_tools(policy, attempt), policy.parallel)


def said_in(messages: Sequence[Message]) -> str:
    """What a call's values may come from: everything the user wrote in the conversation, and the
    results of the calls before (an id a first call returned, passed to the next)."""
    return "\n".join(m.content for m in messages if m.role in ("user", "tool") and m.content)


class CallingMode:
    """Wraps `inner` (instant, thinking, …) so its answers honour a `CallPolicy`."""

    def __init__(self, inner: Mode, policy: CallPolicy) -> None:
        self.inner = inner
        self.policy = policy
        self.name = inner.name
        self.sections = inner.sections

    def prepare(self, request: RunRequest) -> RunRequest:
        """The request the inner mode runs: tools in the template, the grammar in the sampling params."""
        tools = tuple(t.openai() for t in self.policy.offered)
        template = replace(request.template, tools=tools)
        params = request.params.model_copy(update={"grammar": grammar_for(self.policy)})
        return replace(request, template=template, params=params)

    async def run(self, request: RunRequest) -> AsyncGenerator[Event, None]:
        prepared = self.prepare(request)
        if not self.policy.calling:
            async with aclosing(self.inner.run(prepared)) as events:
                async for event in events:
                    yield event
            return
        index = request.index
        attempts: list[Attempt] = []
        current = prepared
        while True:
            text: list[str] = []
            usage = Usage()
            finish: FinishReason = "stop"
            async with aclosing(self.inner.run(current)) as events:
                async for event in events:
                    if isinstance(event, TextDelta):
                        text.append(event.text)
                    elif isinstance(event, Usage):
                        usage = event
                    elif isinstance(event, Done):
                        finish = event.finish_reason
                    else:
                        yield event
            attempt = read(self.policy, "".join(text), usage, finish)
            attempts.append(attempt)
            if not should_reask(self.policy, attempt, len(attempts)):
                break
            # Asked again under the call grammar: on engines that honour it the call cannot be malformed.
            grammar = forced_grammar(self.policy, attempt)
            current = replace(prepared, params=prepared.params.model_copy(update={"grammar": grammar}))
        final = attempts[-1]
        calls = final.checked.calls if self.policy.parallel else final.checked.calls[:1]
        extra = Usage()
        if calls and self.policy.parallel and self.policy.more_calls and len(calls) < MAX_PARALLEL:
            added, extra = await self.more_calls(prepared, calls, final.text)
            calls += added
        made = len(calls)
        calls = self.settle(calls, said_in(request.messages))
        fit = await self.fit(request, calls)
        if fit is not None and fit < (self.policy.relevance or 0.0):
            calls = []
        total = extra
        for a in attempts:
            total = _add(total, a.usage)
        if made and not calls:
            # Every call was made up: the request needs none of these tools. Answered again without them,
            # so the client gets a reply, not the text of a call it was never sent; the provenance says
            # how many calls went and, when the relevance check dropped them, its score.
            yield Provenance("calls", {**self._report(attempts, calls, fit), "dropped": made}, index)
            async with aclosing(self.inner.run(request)) as events:
                async for event in events:
                    if isinstance(event, Usage):
                        event = _add(total, event)
                    yield event
            return
        content = final.parsed.content if calls else final.text
        if content:
            yield TextDelta(content, (), index)
        for ev in call_events(calls, index):
            yield ev
        if len(attempts) > 1 or any(a.checked.rejected for a in attempts) or fit is not None:
            yield Provenance("calls", self._report(attempts, calls, fit), index)  # when it stepped in
        yield total
        yield Done("tool_calls" if calls else final.finish, index)

    async def more_calls(self, request: RunRequest, calls: list[ToolCall], reply: str) -> tuple[list[ToolCall], Usage]:
        """The calls the model adds when its turn is continued after the ones it made in `reply`
        (`ponder.calls.more`: in its own format, while it leans to call again; grounded calls only)."""
        return await more.more_calls(
            request.backend,
            request.template,
            request.messages,
            self.policy,
            calls,
            reply,
            said_in(request.messages),
            request.params,
        )

    def settle(self, calls: list[ToolCall], said: str) -> list[ToolCall]:
        """`calls` without the arguments and list items nobody gave (`unsaid_dropped`), without calls
        that ask for less than one before (`covered`), and, unless the request demands a call
        (`required`, a named function), without calls none of whose values has a trace in the
        user's words (`traced`) or that pass a date or figure nobody gave (`made_up`)."""
        if not self.policy.grounded:
            return calls
        out: list[ToolCall] = []
        for call in calls:
            tool = resolve(call.name, self.policy.allowed)
            if self.policy.choice == "auto" and (
                not traced(call, said) or (tool is not None and made_up(call, tool, said))
            ):
                continue
            call = call if tool is None else unsaid_dropped(call, tool, said)
            if not covered(call, out):
                out.append(call)
        return out

    async def fit(self, request: RunRequest, calls: list[ToolCall]) -> float | None:
        """The model's probability that `calls` do what was asked, when the policy asks (`auto`, a
        relevance threshold, calls left to check); None when it does not."""
        p = self.policy
        if not calls or not p.grounded or p.choice != "auto" or not p.relevance:
            return None
        try:
            return await relevance(request.backend, request.template, request.messages, calls, p.allowed)
        except ContextOverflow:  # the question (worked cases and all) outgrows a small context: calls stand
            return None

    @staticmethod
    def _report(attempts: list[Attempt], calls: list[ToolCall], fit: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attempts": len(attempts),
            "calls": len(calls),
            "rejected": [reason for a in attempts for _, reason in a.checked.rejected],
        }
        if fit is not None:
            out["relevance"] = round(fit, 3)
        return out
