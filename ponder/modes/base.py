"""How ponder thinks: each mode is a strategy that turns a conversation into an `Event` stream.

Modes sit between the API and the backends. They own prompt rendering, thinking, budgets and (in
later issues) parallel agents; they never know whether the request came from HTTP or the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from ponder.backends.base import Backend
from ponder.guard.base import Stage
from ponder.models.templates import ChatTemplate
from ponder.registry import Registry
from ponder.types import Event, Message, Provenance, Safety, SamplingParams, TextDelta, Usage

if TYPE_CHECKING:
    from ponder.tools.box import ToolBox


@dataclass(frozen=True)
class RunRequest:
    """One answer to produce: the conversation, how to sample, and the thinking budget."""

    backend: Backend
    template: ChatTemplate
    messages: Sequence[Message]
    params: SamplingParams
    thinking_budget: int = 512
    index: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    """Mode-specific options (defaults from the settings, overridden by the request)."""
    screen: Callable[[str, Stage], Awaitable[Safety | None]] | None = None
    """The guard, for text a mode keeps to itself (an agent's draft, a tool's call or result): the block it
    made (`Safety`, never the text), or None when the text may be used."""
    refuse_from_blocked: float = 1.0
    """The guard's share of blocked drafts from which a mode that combines drafts (contemplate) refuses
    (`guard.refuse_from_blocked`; 1: only when all were blocked)."""
    tools: Callable[[], Awaitable[ToolBox]] | None = None
    """Opens ponder's own tools (shared by every request), for the modes that run them (agent, agents)."""
    opening: str = ""
    """Words the answer starts with, written into the prompt as the start of the model's turn and sent as
    the answer's first text (a refused harmless request asked again: `guard.answer_again_opening`). Only a
    mode that declares `opens = True` (instant, thinking) is given one."""


def system_first(messages: Sequence[Message], content: str) -> list[Message]:
    """`messages` with a system message `content` first, unless `content` is empty or the conversation
    has a system (or developer) message of its own."""
    if content and messages and messages[0].role not in ("system", "developer"):
        return [Message(role="system", content=content), *messages]
    return list(messages)


DRAFT = "Keep the thinking to short drafts: one step per line, a few words or one equation each, no full sentences."
"""Chain of Draft (arXiv 2502.18600): the same steps in a fraction of the tokens (`reasoning.style = "draft"`)."""


def instructed(request: RunRequest) -> list[Message]:
    """The conversation with the thinking instruction first, unless it has a system message of its own.

    Without it the coder models answer a finished trace with a program instead of the result (GSM8K:
    0/5 of the items thinking failed became 4/5). Thinking mode and contemplate's agents both use it.
    """
    from ponder.config import ReasoningSettings

    default = ReasoningSettings.model_fields["instruction"].default
    instruction = request.options.get("instruction", default)
    if instruction and request.options.get("style") == "draft":
        instruction += " " + DRAFT
    return system_first(request.messages, instruction)


class Mode(Protocol):
    """A way to answer. A mode may also set `opens = True` when its answer can start from given words
    (`RunRequest.opening`); modes without it, plugins included, are never given any. A mode may name in
    `polled_by` the mode whose sampled openings stand for the model's verdict on a request
    (`guard.majority_openings`): its own name when its first tokens are the answer's (instant), or
    "instant" when they are not (thinking's trace, contemplate's agents). The guard then answers from the
    majority's side: a refusal continues in the polled mode, an answer is the mode's own."""

    name: str
    sections: tuple[str, ...]
    """Settings sections whose fields are this mode's option defaults (usually just its own name)."""

    def run(self, request: RunRequest) -> AsyncGenerator[Event, None]:
        """Stream the answer; ends with one `Usage` and one `Done` carrying `request.index`."""
        ...


modes: Registry[Mode] = Registry("mode", entry_point_group="ponder.modes")
modes.register("instant", "ponder.modes.instant:InstantMode")
modes.register("thinking", "ponder.modes.thinking:ThinkingMode")
modes.register("contemplate", "ponder.modes.contemplate:ContemplateMode")
modes.register("auto", "ponder.modes.auto:AutoMode")
modes.register("agent", "ponder.agents.solo:AgentMode")
modes.register("agents", "ponder.agents.team:AgentsMode")


def nest_provenance(reports: Iterable[Provenance]) -> dict[int, dict[str, Any]]:
    """One report per choice: the first mode's, with any mode it delegated to nested under that mode's name."""
    merged: dict[int, dict[str, Any]] = {}
    for p in reports:
        report = {"mode": p.mode, "index": p.index, **p.report}
        base = merged.setdefault(p.index, report)
        if base is not report:
            base[p.mode] = report
    return merged


def get_mode(name: str) -> Mode:
    mode = modes.get(name)
    return mode() if isinstance(mode, type) else mode


async def run_choices(mode: Mode, request: RunRequest, n: int) -> AsyncGenerator[Event, None]:
    """Run `n` independent choices concurrently and merge their events (each tagged by index).

    The choices share one prompt, so a batching backend computes it once and decodes them together.
    With a seed, choice i uses seed + i so that choices differ but stay reproducible.
    """

    if n == 1:
        async with aclosing(mode.run(request)) as events:
            async for event in events:
                yield event
        return
    queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue()

    async def one(i: int) -> None:
        params = request.params
        if params.seed is not None:
            params = params.model_copy(update={"seed": params.seed + i})
        sub = replace(request, params=params, index=i)
        try:
            async with aclosing(mode.run(sub)) as events:
                async for event in events:
                    await queue.put(event)
        except BaseException as exc:  # surfaced to the consumer below, which re-raises it
            await queue.put(exc)
        finally:
            await queue.put(None)

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    try:
        finished = 0
        while finished < n:
            item = await queue.get()
            if item is None:
                finished += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def answer_of(mode: Mode, request: RunRequest) -> tuple[str, Usage]:
    """A mode's whole answer text and what it cost, for a step whose output is read rather than streamed."""
    text: list[str] = []
    usage = Usage()
    async with aclosing(mode.run(request)) as events:
        async for ev in events:
            if isinstance(ev, TextDelta):
                text.append(ev.text)
            elif isinstance(ev, Usage):
                usage = ev
    return "".join(text), usage


async def openings_of(mode: Mode, request: RunRequest, k: int) -> list[str]:
    """`k` sampled starts of a mode's answer (`request.params.max_tokens` each), in choice order."""
    texts = [""] * k
    async with aclosing(run_choices(mode, request, k)) as events:
        async for ev in events:
            if isinstance(ev, TextDelta):
                texts[ev.index] += ev.text
    return texts


async def collect_usage(events: AsyncGenerator[Event, None]) -> AsyncGenerator[Event, None]:
    """Pass events through, but merge every choice's `Usage` into one emitted at the end.

    The choices share their prompt, so it is counted once, as OpenAI does for `n > 1`.
    """

    total = Usage()
    async with aclosing(events):
        async for event in events:
            if isinstance(event, Usage):
                total = Usage(
                    max(total.prompt_tokens, event.prompt_tokens),
                    total.completion_tokens + event.completion_tokens,
                    total.reasoning_tokens + event.reasoning_tokens,
                    max(total.cached_tokens, event.cached_tokens),
                )
            else:
                yield event
    yield total
