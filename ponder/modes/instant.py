"""Instant mode: answer directly, no thinking. The cheapest way to an answer."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from ponder.modes.base import RunRequest
from ponder.types import Chunk, Done, Event, TextDelta, Usage


class InstantMode:
    name = "instant"
    sections: tuple[str, ...] = ()

    async def run(self, request: RunRequest) -> AsyncGenerator[Event, None]:
        prompt = request.template.render(request.messages)
        params = request.params.model_copy(update={"stop": [*request.params.stop, *request.template.stop]})
        async with aclosing(request.backend.stream(prompt, params)) as items:
            async for item in items:
                if isinstance(item, Chunk):
                    if item.text or item.logprobs:
                        yield TextDelta(item.text, item.logprobs, request.index)
                else:
                    yield Usage(item.prompt_tokens, item.completion_tokens, 0, item.cached_tokens)
                    yield Done(item.finish_reason, request.index)
