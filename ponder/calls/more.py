"""The calls a small model leaves out: its turn continued, in its own format, while it leans to go on.

Asked "book a flight from San Francisco to Tokyo on May 3rd and another from Tokyo to Sydney on May
18th", the 1.5B writes the first call and ends its turn. Continued after its calls the way Qwen's
template writes them (`<tool_call>` tags), it ended again: the coder models answer in fenced JSON,
and a tag after their own block reads to them as someone else's turn. Continued in the format the
model itself used, its first token tells: after the flight call it gives 0.98 to opening another
block. So the turn is continued there. One token is read first (the probability of starting another
call, against ending or writing prose); at or above `CallPolicy.more_calls_above` the model is made
to write one more call under the call grammar, and the question is asked again after it.

A continued call is kept only if it is valid, new (not a repeat of one made) and grounded: every
value it passes came from the user or from the calls before (`validate.grounded`); left alone, the
model goes on inventing calls. The continuation shares the prompt's prefix, so engines with prefix
caching compute only the new tokens. Measured on BFCL's recorded calls of the 1.5B
(`bench/more_calls.py`): parallel 54 → 59 of 80 at thresholds 0.1 to 0.3, nothing lost there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from contextlib import aclosing
from typing import Literal

from ponder.backends.base import Backend
from ponder.backends.yesno import first_token
from ponder.calls.grammar import MAX_PARALLEL, call_rules
from ponder.calls.parse import parse
from ponder.calls.render import call_text
from ponder.calls.spec import CallPolicy
from ponder.calls.validate import call_key, check, grounded
from ponder.models.templates import ChatTemplate
from ponder.types import Chunk, Message, SamplingParams, ToolCall, Usage

Style = Literal["tag", "fence", "bare"]

OPENERS: dict[Style, tuple[str, str]] = {
    "tag": ("<tool_call>\n", "\n</tool_call>"),
    "fence": ("```json\n", "\n```"),
    "bare": ("", ""),
}
"""How a call opens and closes in each style."""
_STARTS = ("<tool", "```", "{")
ANY_START = 'root ::= "<tool_call>" | "```" | "{"'


def reply_style(text: str) -> Style:
    """How the model wrote its calls: Qwen's tags, a fenced JSON block, or bare JSON."""
    head = text.lstrip()
    if head.startswith("<tool_call>"):
        return "tag"
    return "fence" if head.startswith("```") else "bare"


def written(call: ToolCall, style: Style) -> str:
    """One call as the model writes it in `style` (arguments as an object, not OpenAI's string)."""
    if style == "tag":
        return call_text(call)
    try:
        args: object = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        args = call.arguments
    body = {"name": call.name, "arguments": args}
    if style == "fence":
        return "```json\n" + json.dumps(body, indent=2, ensure_ascii=False) + "\n```"
    return json.dumps(body, ensure_ascii=False)


def one_call_grammar(policy: CallPolicy, style: Style) -> str:
    """One call to an allowed tool, closed the way `style` closes it (the opening is in the prompt)."""
    return f"root ::= call {json.dumps(OPENERS[style][1])}\n{call_rules(policy.allowed)}"


def opening_mass(first: Sequence[tuple[str, float]]) -> float:
    """The probability, among a first token's candidates, that it opens a call (a tag, a fence, an object)."""
    return min(1.0, sum(math.exp(lp) for tok, lp in first if tok.startswith(_STARTS)))


async def go_on(backend: Backend, prompt: str, stop: list[str]) -> float:
    """The model's probability that its next token opens another call.

    One token is written under a grammar that allows only those openings (an end of turn would emit
    nothing to read); the log-probabilities the engine reports are the model's own, before the grammar.
    """
    first, _ = await first_token(backend, prompt, stop, grammar=ANY_START)
    return opening_mass(first)


async def one_more(
    backend: Backend,
    prompt: str,
    style: Style,
    policy: CallPolicy,
    made: Sequence[ToolCall],
    said: str,
    params: SamplingParams,
) -> tuple[list[ToolCall], int]:
    """The model made to write one more call after `prompt` (its calls so far, in `style`), under
    `params` (which carry `one_call_grammar`): the calls it wrote that are valid, new and grounded,
    and the tokens it took."""
    head = OPENERS[style][0]
    text: list[str] = []
    tokens = 0
    async with aclosing(backend.stream(prompt + head, params)) as items:
        async for item in items:
            if isinstance(item, Chunk):
                text.append(item.text)
            else:
                tokens = item.completion_tokens
    found = parse(head + "".join(text), [t.name for t in policy.allowed], strict=style == "tag").calls
    seen = {call_key(c) for c in made}
    fresh = [c for c in check(found, policy.allowed).calls if call_key(c) not in seen]
    return grounded(fresh, made, said), tokens


async def more_calls(
    backend: Backend,
    template: ChatTemplate,
    messages: Sequence[Message],
    policy: CallPolicy,
    calls: list[ToolCall],
    reply: str,
    said: str,
    params: SamplingParams,
) -> tuple[list[ToolCall], Usage]:
    """The calls the model adds after `calls` (made in `reply`), and the tokens the additions cost."""
    style = reply_style(reply)
    base = template.render(messages)
    stop = [*params.stop, *template.stop]
    params = params.model_copy(update={"stop": stop, "grammar": one_call_grammar(policy, style), "min_tokens": 0})
    made = list(calls)
    spent = 0
    while len(made) < MAX_PARALLEL:
        prompt = base + "\n".join(written(c, style) for c in made) + "\n"
        if await go_on(backend, prompt, stop) < policy.more_calls_above:
            break
        fresh, tokens = await one_more(backend, prompt, style, policy, made, said, params)
        spent += tokens + 1  # and the token read to decide
        if not fresh:
            break
        made += fresh
    return made[len(calls) :], Usage(0, spent, 0, 0)
