"""The one Protocol every inference engine implements, and the registry that names them.

A backend only continues text: it takes a fully rendered prompt and streams `Chunk`s, then one
`Completion`. Chat templates, thinking and budgets live above it, in `modes`, so the same strategy
runs on llama.cpp in-process, on a vLLM cluster, or on a scripted fake.

Cancellation is the async-generator protocol: closing the stream (`aclose()`, or a client that goes
away) must stop the sequence and free whatever it held at once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ponder.registry import Registry
from ponder.types import BackendItem, SamplingParams

if TYPE_CHECKING:
    from ponder.config import Settings
    from ponder.models import ModelSpec


@runtime_checkable
class Backend(Protocol):
    name: str
    """The model name this backend serves."""
    context: int
    """Tokens per sequence: prompt plus completion must fit."""

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` is for this model (exact for local engines, estimated for remote)."""
        ...

    def stream(self, prompt: str, params: SamplingParams) -> AsyncGenerator[BackendItem, None]:
        """Continue `prompt`; yields `Chunk`s then exactly one `Completion`.

        Raises `ContextOverflow` if the prompt does not fit, `QueueFull` if the backend cannot take
        more work now, `BackendError` if the engine fails.
        """
        ...

    async def aclose(self) -> None:
        """Release the model and any threads or connections."""
        ...


BackendFactory = Callable[["ModelSpec", "Settings"], Backend]

backends: Registry[BackendFactory] = Registry("backend", entry_point_group="ponder.backends")
backends.register("llama", "ponder.backends.llama:LlamaBackend")
backends.register("openai", "ponder.backends.remote:RemoteBackend")
backends.register("fake", "ponder.backends.fake:FakeBackend")


def open_backend(spec: ModelSpec, settings: Settings) -> Backend:
    return backends.get(spec.backend)(spec, settings)
