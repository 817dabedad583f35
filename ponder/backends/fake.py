"""A scripted backend for unit tests: no weights, no threads, fully predictable.

Like `llm`'s MockModel, tests `enqueue()` the completions the "model" will produce, in order. Each
word of a script is one token, so budgets and `max_tokens` behave as they would on a real engine.
A script is a string, or a mapping `{"text": …, "logprob": -0.1, "alt": -9.0}` that sets every
token's log-probability and that of its alternatives, so confidence-driven logic can be tested.
With nothing enqueued it answers with a fixed sentence that quotes the end of the prompt.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Any

from ponder.errors import ContextOverflow
from ponder.types import BackendItem, Chunk, Completion, FinishReason, SamplingParams, TokenLogprob, TopLogprob

if TYPE_CHECKING:
    from ponder.config import Settings
    from ponder.models import ModelSpec

_TOKEN = re.compile(r"\s*\S+|\s+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


class FakeBackend:
    def __init__(self, spec: ModelSpec | None = None, settings: Settings | None = None) -> None:
        self.name = spec.name if spec else "fake"
        self.context = spec.context if spec else 4096
        self.delay = float(spec.options.get("delay", 0.0)) if spec else 0.0
        self.scripts: deque[str | Mapping[str, Any]] = deque(spec.options.get("scripts", []) if spec else [])
        self.prompts: list[str] = []
        self.params: list[SamplingParams] = []
        """What each completion was asked with (a grammar, stops…): a fake cannot follow a grammar, so
        tests script what the constrained model writes and check here that the constraint was sent."""

    def enqueue(self, *scripts: str | Mapping[str, Any]) -> FakeBackend:
        self.scripts.extend(scripts)
        return self

    def count_tokens(self, text: str) -> int:
        return len(tokenize(text))

    async def stream(self, prompt: str, params: SamplingParams) -> AsyncGenerator[BackendItem, None]:
        n_prompt = self.count_tokens(prompt)
        if n_prompt >= self.context:
            raise ContextOverflow(f"prompt is {n_prompt} tokens; this model's context is {self.context}")
        self.prompts.append(prompt)
        self.params.append(params)
        entry = self.scripts.popleft() if self.scripts else f"Fake answer to: {prompt[-40:].strip()}"
        script = entry if isinstance(entry, str) else str(entry["text"])
        chosen = -0.25 if isinstance(entry, str) else float(entry.get("logprob", -0.25))
        alt = chosen if isinstance(entry, str) else float(entry.get("alt", chosen))
        emitted: list[str] = []
        tail = ""  # text streamed before a stop string, inside the token that contains it
        finish: FinishReason = "stop"
        for tok in tokenize(script):
            if len(emitted) >= min(params.max_tokens, self.context - n_prompt):
                finish = "length"
                break
            text = "".join(emitted) + tok
            hit = next((s for s in params.stop if s in text), None)
            if hit is not None:
                tail = tok[: text.index(hit) - len(text) + len(tok)]
                if tail:
                    yield Chunk(tail, 1)
                break
            emitted.append(tok)
            top = (TopLogprob(tok, chosen), *(TopLogprob(tok, alt),) * (params.top_logprobs - 1))
            lp = (TokenLogprob(tok, chosen, top[: params.top_logprobs]),) if params.logprobs else ()
            if self.delay:
                await asyncio.sleep(self.delay)
            yield Chunk(tok, 1, lp)
        yield Completion(finish, n_prompt, len(emitted) + bool(tail), text="".join(emitted) + tail)

    async def aclose(self) -> None:
        pass
