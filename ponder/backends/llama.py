"""The in-process llama.cpp backend: the asyncio face of the batching `Engine`.

Each `stream()` call becomes one sequence in the engine's running batch. Closing the stream early
(a client that disconnects, a cancelled task) cancels the sequence, which frees its slot at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from ponder.backends.engine import Engine
from ponder.errors import ContextOverflow
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
        tokens = self.engine.tokenize(prompt)
        if len(tokens) >= self.context:
            raise ContextOverflow(
                f"the prompt is {len(tokens)} tokens but {self.name} has a context of {self.context} "
                "(prompt and answer together); shorten the conversation or raise engine.context"
            )
        sink: asyncio.Queue[BackendItem | BaseException] = asyncio.Queue()
        seq = self.engine.submit(tokens, params, asyncio.get_running_loop(), sink)
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
