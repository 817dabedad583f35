"""Any OpenAI-compatible server as a backend: vLLM, SGLang, a llama.cpp server, or another ponder.

This is how ponder scales past one machine: the serving cluster does the batching, ponder keeps the
modes, the API and the UI. ponder renders the chat template itself and sends the text to
`/v1/completions`, which every one of those servers implements, so thinking-mode budget forcing
works the same as in-process. Closing the stream closes the HTTP response, which those servers
treat as an abort of the request.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import openai

from ponder.errors import BackendError, BadRequest, ContextOverflow, QueueFull
from ponder.types import BackendItem, Chunk, Completion, FinishReason, SamplingParams, TokenLogprob, TopLogprob

if TYPE_CHECKING:
    from ponder.config import GrammarDialect, Settings
    from ponder.models import ModelSpec


def _logprobs(lp: Any) -> tuple[TokenLogprob, ...]:
    """The legacy completions logprobs object: parallel lists of tokens, their logprobs, top dicts."""
    if lp is None or not lp.tokens:
        return ()
    out = []
    tops = lp.top_logprobs or []
    for i in range(len(lp.tokens)):
        top = tops[i] if i < len(tops) and tops[i] else {}
        out.append(
            TokenLogprob(
                lp.tokens[i],
                float(lp.token_logprobs[i] if lp.token_logprobs[i] is not None else 0.0),
                tuple(TopLogprob(t, float(v)) for t, v in top.items()),
            )
        )
    return tuple(out)


def grammar_field(dialect: GrammarDialect, grammar: str) -> dict[str, Any]:
    """The request field a server constrains decoding by. All take GBNF, llama.cpp's grammar format
    (vLLM and SGLang through xgrammar); a server that does not know its field ignores it, and the
    call parser and schema validator still stand guard."""
    match dialect:
        case "llama.cpp":
            return {"grammar": grammar}
        case "vllm":
            return {"structured_outputs": {"grammar": grammar}}
        case "vllm-guided":
            return {"guided_grammar": grammar}
        case "sglang":
            return {"ebnf": grammar}
        case "none":
            return {}


class RemoteBackend:
    def __init__(self, spec: ModelSpec, settings: Settings) -> None:
        if not spec.endpoint:
            raise BadRequest(f"model {spec.name!r} needs an `endpoint` for the openai backend")
        self.name = spec.name
        self.context = spec.context
        self.remote_name = spec.remote_name or spec.name
        self.grammar = spec.grammar
        self._client = openai.AsyncOpenAI(
            base_url=spec.endpoint,
            api_key=spec.api_key or "none",
            timeout=float(spec.options.get("timeout", 600)),
            max_retries=int(spec.options.get("max_retries", 2)),
        )

    def count_tokens(self, text: str) -> int:
        # An estimate (about 3.5 characters a token for English and code); the server checks exactly.
        return math.ceil(len(text) / 3.5)

    async def stream(self, prompt: str, params: SamplingParams) -> AsyncGenerator[BackendItem, None]:
        extra: dict[str, Any] = {}
        if params.logprobs:
            extra["logprobs"] = max(params.top_logprobs, 1)
        body: dict[str, Any] = {}
        if params.min_tokens:
            body["min_tokens"] = params.min_tokens  # vLLM, SGLang and ponder know it
        if params.grammar is not None:
            body |= grammar_field(self.grammar, params.grammar)
        if body:
            extra["extra_body"] = body
        try:
            stream = await self._client.completions.create(
                model=self.remote_name,
                prompt=prompt,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                seed=params.seed,
                stop=params.stop or None,
                **extra,
            )
        except openai.BadRequestError as exc:
            cls = ContextOverflow if "context" in str(exc).lower() else BadRequest
            raise cls(f"the remote server refused the request: {exc.message}") from exc
        except openai.RateLimitError as exc:
            raise QueueFull(f"the remote server is busy: {exc.message}") from exc
        except openai.APIError as exc:
            raise BackendError(f"the remote server at {self._client.base_url} failed: {exc}") from exc
        text: list[str] = []
        finish: FinishReason = "stop"
        usage = None
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    lps = _logprobs(choice.logprobs)
                    if choice.text or lps:
                        text.append(choice.text)
                        yield Chunk(choice.text, max(len(lps), 1) if choice.text else len(lps), lps)
                    if choice.finish_reason:
                        finish = "length" if choice.finish_reason == "length" else "stop"
        except openai.APIError as exc:
            raise BackendError(f"the remote server at {self._client.base_url} failed mid-stream: {exc}") from exc
        finally:
            await stream.close()
        full = "".join(text)
        yield Completion(
            finish,
            usage.prompt_tokens if usage else self.count_tokens(prompt),
            usage.completion_tokens if usage else self.count_tokens(full),
            text=full,
        )

    async def aclose(self) -> None:
        await self._client.close()
