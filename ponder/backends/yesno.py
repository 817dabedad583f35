"""A yes/no question put to a language model, answered as a probability.

Two places ask the packaged model to decide rather than to write: the guard's judge ("is this
unsafe?") and the call filter ("does this function do what the user asked?"). A sampled "yes" is a
coin flip on a small model; the share of "yes" against "no" among the first token's log-probabilities
is a graded answer a threshold can be tuned on, and it costs one prompt and a few tokens. The same
first-token reading (`first_token`) tells whether a model is about to write another function call
(`ponder.calls.more`).
"""

from __future__ import annotations

import math
from contextlib import aclosing

from ponder.backends.base import Backend
from ponder.types import Chunk, SamplingParams


async def first_token(
    backend: Backend, prompt: str, stop: list[str], max_tokens: int = 1, grammar: str | None = None
) -> tuple[list[tuple[str, float]], str]:
    """The strongest candidates for the first token of the reply to `prompt` (with their
    log-probabilities, the model's own even under `grammar`), and the text written (`max_tokens`)."""
    params = SamplingParams(
        max_tokens=max_tokens, temperature=0.0, logprobs=True, top_logprobs=10, stop=stop, grammar=grammar
    )
    first: list[tuple[str, float]] | None = None
    written = ""
    async with aclosing(backend.stream(prompt, params)) as items:
        async for item in items:
            if not isinstance(item, Chunk):
                continue
            written += item.text
            if first is None and item.logprobs:
                top = item.logprobs[0]
                first = [(t.token, t.logprob) for t in top.top] or [(top.token, top.logprob)]
    return first or [], written


async def yes_probability(backend: Backend, prompt: str, stop: list[str], max_tokens: int = 1) -> tuple[float, str]:
    """P(yes) on the first token of the reply to `prompt`, and the text written (`max_tokens` of it)."""
    first, written = await first_token(backend, prompt, stop, max_tokens)
    return share_of_yes(dict(first), written), written


def share_of_yes(first: dict[str, float], written: str) -> float:
    """Probability mass on tokens reading "yes" over that on "yes" and "no"; the written text decides
    when neither is among the top tokens."""
    yes = sum(math.exp(lp) for tok, lp in first.items() if tok.strip().lower().startswith("yes"))
    no = sum(math.exp(lp) for tok, lp in first.items() if tok.strip().lower().startswith("no"))
    if yes + no == 0.0:
        return 1.0 if written.strip().lower().startswith("yes") else 0.0
    return yes / (yes + no)
