"""Thinking mode: reason inside `<think>…</think>` first, then answer, within a hard token budget.

None of the packaged models has a native thinking template, so the assistant turn is prefilled with
the opening tag. The trace is generated with `</think>` as a stop string and the budget as its
token limit; whatever ends it (the model closing the tag, the budget running out, or the model ending
its turn without closing it), the tag is then closed by us and the answer is generated after it,
in a user turn that asks for the reply (see `reply_prompt`). This is budget forcing: the model can
neither think forever nor finish with no answer.
A model that closes the tag before writing anything is nudged once to think (as in s1's budget
forcing), and the answer must be at least one token, so an empty trace or answer is not an option.

The answer's prompt has the trace as its prefix, so engines with prefix caching (ponder's
llama.cpp engine, vLLM, SGLang) do not recompute it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from ponder.config import ReasoningSettings
from ponder.errors import BackendError
from ponder.modes.base import RunRequest, instructed
from ponder.reasoning.tags import CLOSE, OPEN, ThinkParser
from ponder.types import Chunk, Completion, Done, Event, Message, ReasoningDelta, TextDelta, Usage

NUDGE = "Let me think this through."
"""Where a trace continues when the model closed it before thinking at all."""


def reply_prompt(request: RunRequest, prompt: str, thought: str, cut: bool = False) -> str:
    """The prompt the answer continues: the closed trace, then the user's request for the reply.

    Continued in the trace's own turn, the packaged models took the finished trace for the answer
    already given and wrote a postscript ("This solution involves setting up an equation…"): on 44
    GSM8K items whose traces reached 24 right answers, the replies kept 15 and 18 in two runs. Asked
    in a new user turn for the reply, answer first, they kept 23 (`reasoning.reply`). The trace stays the rendered
    prompt's prefix either way, so prefix caching still skips it. A reply that may be a tool call or
    must follow a grammar continues the turn, where the tools prompt's format applies.

    A trace the budget `cut` off is mid-computation: asked for the answer first, the 1.5B guessed
    ("\\boxed{25}" where the trace had not reached 10). Such a reply is asked to finish the working
    briefly first (`reasoning.reply_cut`).
    """
    closed = thought + ("" if thought.endswith("\n") else "\n") + CLOSE
    ask = request.options.get("reply", ReasoningSettings.model_fields["reply"].default)
    if cut and ask:
        ask = request.options.get("reply_cut", ReasoningSettings.model_fields["reply_cut"].default) or ask
    if not ask or request.template.tools or request.params.grammar:
        return prompt + closed + "\n\n"
    turns = [
        *instructed(request),
        Message(role="assistant", content=OPEN + "\n" + closed),
        Message(role="user", content=ask),
    ]
    return request.template.render(turns)


class ThinkingMode:
    name = "thinking"
    sections: tuple[str, ...] = ("reasoning",)
    opens = True
    polled_by = "instant"  # its first tokens are the trace's: instant's openings speak for the model

    async def run(self, request: RunRequest) -> AsyncGenerator[Event, None]:
        backend, template, index = request.backend, request.template, request.index
        prompt = template.render(instructed(request), assistant_prefix=OPEN + "\n")
        thought, spent, first, cut = "", 0, None, False
        budget = request.thinking_budget
        for opener in ("", NUDGE):
            if budget - spent <= 0 or thought.strip():
                break
            # A model that closes the tag at once has not thought; continue it once from an opener (s1's nudge).
            if opener:
                thought += opener
                yield ReasoningDelta(opener, (), index)
            # A grammar (a forced call, JSON) shapes the answer after `</think>`, never the trace.
            update = {"max_tokens": budget - spent, "stop": [CLOSE, *template.stop], "grammar": None}
            params = request.params.model_copy(update=update)
            parser = ThinkParser()
            async with aclosing(backend.stream(prompt + thought, params)) as items:
                async for item in items:
                    if isinstance(item, Chunk):
                        reasoning, _ = parser.feed(item.text)
                        if reasoning or item.logprobs:
                            yield ReasoningDelta(reasoning, item.logprobs, index)
                    else:
                        first = first or item
                        thought += item.text
                        spent += item.completion_tokens
                        cut = item.finish_reason == "length"
            reasoning, _ = parser.flush()
            if reasoning:
                yield ReasoningDelta(reasoning, (), index)
        answer_prompt = reply_prompt(request, prompt, thought, cut) + request.opening
        # At least one token: a model may otherwise end its turn right after the forced tag, with no answer.
        # A second closing tag means the model lost the thread: the answer ends there.
        stops = [*request.params.stop, *template.stop, CLOSE]
        params = request.params.model_copy(update={"stop": stops, "min_tokens": 1})
        answer: Completion | None = None
        started = bool(request.opening)
        if started:
            yield TextDelta(request.opening, (), index)
        async with aclosing(backend.stream(answer_prompt, params)) as items:
            async for item in items:
                if isinstance(item, Chunk):
                    text = item.text if started else item.text.lstrip()  # the answer follows a blank line
                    started = started or bool(text)
                    if text or item.logprobs:
                        yield TextDelta(text, item.logprobs, index)
                else:
                    answer = item
        if answer is None:
            raise BackendError("the backend ended the answer without a completion record")
        yield Usage(
            prompt_tokens=first.prompt_tokens if first else answer.prompt_tokens,
            completion_tokens=spent + answer.completion_tokens,
            reasoning_tokens=spent,
            cached_tokens=first.cached_tokens if first else answer.cached_tokens,  # of the user's prompt
        )
        yield Done(answer.finish_reason, index)
