"""The in-process llama.cpp backend: the asyncio face of the batching `Engine`.

Each `stream()` call becomes one sequence in the engine's running batch. Closing the stream early
(a client that disconnects, a cancelled task) cancels the sequence, which frees its slot at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, cast

from ponder.backends.engine import Array, Engine
from ponder.errors import BackendError, ContextOverflow
from ponder.types import BackendItem, Completion, SamplingParams

if TYPE_CHECKING:
    from ponder.config import Settings
    from ponder.models import ModelSpec


class LlamaBackend:
    def __init__(self, spec: ModelSpec, settings: Settings) -> None:
        self.name = spec.name
        self.context = spec.context
        eng = settings.engine
        self.engine = Engine(
            spec.gguf(settings.cache_dir),
            context=spec.context,
            parallel=eng.parallel,
            spare=eng.spare,
            batch=eng.batch,
            threads=eng.threads,
            max_queue=eng.max_queue,
        )

    def count_tokens(self, text: str) -> int:
        return len(self.engine.tokenize(text))

    async def stream(self, prompt: str, params: SamplingParams) -> AsyncGenerator[BackendItem, None]:
        async for item in self._run(prompt, params):
            yield item

    async def read(self, prompt: str) -> Array:
        """The model's hidden state at the last token of `prompt` (after the final norm), from one prefill
        in the running batch. The prompt's cells stay cached, so an answer to the same prompt starts at once."""
        async for item in self._run(prompt, SamplingParams(max_tokens=1, temperature=0.0), reads=True):
            if isinstance(item, Completion) and item.state is not None:
                return cast(Array, item.state)
        raise BackendError(f"{self.name} returned no hidden state")

    async def _run(self, prompt: str, params: SamplingParams, reads: bool = False) -> AsyncGenerator[BackendItem, None]:
        tokens = self.engine.tokenize(prompt)
        if len(tokens) >= self.context:
            raise ContextOverflow(
                f"the prompt is {len(tokens)} tokens but {self.name} has a context of {self.context} "
                "(prompt and answer together); shorten the conversation or raise engine.context"
            )
        sink: asyncio.Queue[BackendItem | BaseException] = asyncio.Queue()
        seq = self.engine.submit(tokens, params, asyncio.get_running_loop(), sink, reads=reads)
        try:
            while True:
                item = await sink.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, Completion):
                    return
        finally:
            self.engine.cancel(seq)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.engine.close)
