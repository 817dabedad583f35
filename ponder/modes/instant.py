"""Instant mode: answer directly, no thinking. The cheapest way to an answer.

A conversation without a system message gets `instant.system`, ponder's own. Left to its chat template,
Qwen2.5 is "created by Alibaba Cloud" and declines harmless questions on politics or history ("I cannot
provide answers on political matters"), which made most of its refusals of XSTest's safe prompts. Modes
that run instant inside (synthesis, agent steps) bring their own system message and options, so only
a request for instant (or auto) gets it. A prompt with tools in it keeps the template's own message:
the coder models call tools under it, and with another message in its place the 1.5B answered from
memory.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from ponder.modes.base import RunRequest, system_first
from ponder.types import Chunk, Done, Event, Message, TextDelta, Usage


class InstantMode:
    name = "instant"
    sections: tuple[str, ...] = ("instant",)
    opens = True
    polled_by = "instant"

    async def run(self, request: RunRequest) -> AsyncGenerator[Event, None]:
        prompt = request.template.render(with_system(request), assistant_prefix=request.opening)
        params = request.params.model_copy(update={"stop": [*request.params.stop, *request.template.stop]})
        if request.opening:
            yield TextDelta(request.opening, (), request.index)
        async with aclosing(request.backend.stream(prompt, params)) as items:
            async for item in items:
                if isinstance(item, Chunk):
                    if item.text or item.logprobs:
                        yield TextDelta(item.text, item.logprobs, request.index)
                else:
                    # The opening was written into the prompt, but it is the answer's text: counted as such.
                    given = request.backend.count_tokens(request.opening) if request.opening else 0
                    read = max(item.prompt_tokens - given, 0)
                    yield Usage(read, item.completion_tokens + given, 0, min(item.cached_tokens, read))
                    yield Done(item.finish_reason, request.index)


def with_system(request: RunRequest) -> list[Message]:
    """The conversation, with the `system` option first when it has no system message of its own and
    the prompt carries no tools."""
    return system_first(request.messages, "" if request.template.tools else request.options.get("system", ""))
