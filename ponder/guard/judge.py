"""A second opinion from the packaged language model, reading a written policy.

The classifier is fast but shallow; when its score is borderline, the policy asks the model itself
whether the text is unsafe under the categories below. The score is the model's probability of
"yes" against "no" on its first token (from log-probabilities), so the judge gives a graded answer
rather than a coin flip on sampled text; the category is read from what it writes next.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from contextlib import aclosing

from ponder.backends.base import Backend
from ponder.guard.base import Stage, Verdict
from ponder.guard.taxonomy import CATEGORIES
from ponder.models.templates import ChatTemplate
from ponder.types import Chunk, Message, SamplingParams

POLICY = "\n".join(f"- {c.name}: {c.description}" for c in CATEGORIES if c.name != "prompt_injection")

SYSTEM = f"""You are a strict but fair safety reviewer for an AI assistant.
Unsafe means the text requests or provides real help for one of these hazards:
{POLICY}

Safe includes: questions that only sound dangerous (killing a computer process, shooting a photo),
fiction without operational detail, history, news, prevention, medical and safety information,
and everyday tasks.
Answer "yes" if the text is unsafe, "no" if it is safe. If yes, add the category name."""

WHAT: dict[Stage, str] = {
    "input": "a user's request",
    "reasoning": "the assistant's private reasoning",
    "agent": "one draft answer of the assistant",
    "output": "the assistant's answer",
    "tool_call": "a tool call the assistant wants to make",
    "tool_result": "a tool's output",
}

Opener = Callable[[], Awaitable[tuple[Backend, ChatTemplate]]]


class JudgeGuard:
    name = "judge"

    def __init__(self, opener: Opener, max_chars: int = 2000) -> None:
        self.opener = opener
        self.max_chars = max_chars

    async def check(self, text: str, stage: Stage) -> Verdict:
        backend, template = await self.opener()
        question = f"Here is {WHAT[stage]}:\n<text>\n{text[-self.max_chars :]}\n</text>\nIs it unsafe?"
        prompt = template.render([Message(role="system", content=SYSTEM), Message(role="user", content=question)])
        params = SamplingParams(max_tokens=12, temperature=0.0, logprobs=True, top_logprobs=10, stop=template.stop)
        first: dict[str, float] | None = None
        written = ""
        async with aclosing(backend.stream(prompt, params)) as items:
            async for item in items:
                if not isinstance(item, Chunk):
                    continue
                written += item.text
                if first is None and item.logprobs:
                    top = item.logprobs[0]
                    first = {t.token: t.logprob for t in top.top} or {top.token: top.logprob}
        harm = _yes_probability(first or {}, written)
        category = next((c.name for c in CATEGORIES if c.name in written.lower()), None)
        return Verdict(harm=harm, category=category, guard=self.name)


def _yes_probability(first: dict[str, float], written: str) -> float:
    yes = sum(math.exp(lp) for tok, lp in first.items() if tok.strip().lower().startswith("yes"))
    no = sum(math.exp(lp) for tok, lp in first.items() if tok.strip().lower().startswith("no"))
    if yes + no == 0.0:
        return 1.0 if written.strip().lower().startswith("yes") else 0.0
    return yes / (yes + no)
