"""Auto mode: spend tokens only where they change the answer.

It first answers instantly, with log-probabilities. If the model was sure of that answer (high
geometric-mean token probability), that answer stands, and the request cost no more than instant.
Otherwise it escalates: to thinking when the doubt is mild, to contemplate when it is deep. The
`ponder` field of the response says which mode it chose and why.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace

from pydantic import BaseModel

from ponder.config import AutoSettings, ContemplateSettings, ReasoningSettings
from ponder.modes.base import Mode, RunRequest
from ponder.modes.contemplate import ContemplateMode
from ponder.modes.instant import InstantMode
from ponder.modes.thinking import ThinkingMode
from ponder.reasoning.confidence import Tracker
from ponder.types import Event, Provenance, TextDelta, Usage


class AutoMode:
    name = "auto"
    sections: tuple[str, ...] = ("auto", "instant", "contemplate", "reasoning")
    polled_by = "instant"  # it answers in instant or escalates: instant's openings speak for the model

    async def run(self, request: RunRequest) -> AsyncGenerator[Event, None]:
        auto = AutoSettings.model_validate({k: v for k, v in request.options.items() if k in AutoSettings.model_fields})
        # Only the chosen tokens' log-probabilities are read; alternatives would cost a vocabulary scan per token.
        probe = replace(request, params=request.params.model_copy(update={"logprobs": True}))
        tracker = Tracker()
        held: list[Event] = []
        probe_usage = Usage()
        async with aclosing(InstantMode().run(probe)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    tracker.extend(event.logprobs)
                    event = replace(event, logprobs=event.logprobs if request.params.logprobs else ())
                if isinstance(event, Usage):
                    probe_usage = event
                else:
                    held.append(event)
        confidence = tracker.probability
        chosen: Mode
        if confidence >= auto.instant_above:
            chosen, reason = InstantMode(), f"instant answer confidence {confidence:.2f} >= {auto.instant_above}"
        elif confidence >= auto.thinking_above:
            chosen, reason = ThinkingMode(), f"instant answer confidence {confidence:.2f} < {auto.instant_above}"
        else:
            chosen, reason = ContemplateMode(), f"instant answer confidence {confidence:.2f} < {auto.thinking_above}"
        yield Provenance(
            "auto",
            {
                "chose": chosen.name,
                "reason": reason,
                "probe": {"confidence": round(confidence, 4), "tokens": tracker.n},
            },
            request.index,
        )
        if isinstance(chosen, InstantMode):
            for event in held:
                yield event
            yield probe_usage
            return
        sections: dict[str, type[BaseModel]] = {"contemplate": ContemplateSettings, "reasoning": ReasoningSettings}
        fields = {f for name in chosen.sections if name in sections for f in sections[name].model_fields}
        options = {k: v for k, v in request.options.items() if k in fields}
        async with aclosing(chosen.run(replace(request, options=options))) as events:
            async for event in events:
                if isinstance(event, Usage):  # the probe's tokens were spent too
                    event = Usage(
                        event.prompt_tokens,
                        event.completion_tokens + probe_usage.completion_tokens,
                        event.reasoning_tokens + probe_usage.completion_tokens,
                        event.cached_tokens,
                    )
                yield event
