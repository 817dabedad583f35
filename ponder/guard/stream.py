"""The guard around a run: the request before the model sees it, then everything the model writes.

Streamed text is held back in windows (`stream_window` characters) until the guard has read it, so
hazardous text never reaches the client: when a window is blocked the run is cancelled (freeing its
engine slots), a `Safety` event with `replaced=True` withdraws what that choice had streamed, and the
refusal becomes its answer. The first words (`stream_first_window`) may go out sooner, when the
classifier alone finds them clearly harmless and the judge did not come near blocking the request: an
everyday answer then starts to show without waiting for a whole window. Checks read the latest window
with some earlier context, which keeps each check cheap however long the answer grows.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import cast

from ponder.guard.base import Stage
from ponder.guard.policy import Asked, Decision, Screen
from ponder.guard.refusals import phrased, refusal
from ponder.types import Done, Event, Message, ReasoningDelta, Safety, TextDelta, ToolCallDelta, Usage

CONTEXT_CHARS = 160
"""Already-released text read again with each new window: a harmful step often needs its lead-in."""


def request_text(messages: Sequence[Message]) -> str:
    """What the input stage reads: the newest user turn (earlier turns were read when they were new)."""
    for m in reversed(messages):
        if m.role == "user":
            return m.content
    return ""


class _Held:
    """One choice's stream of one kind (answer or thinking): released text, and text awaiting a check."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.released = ""
        self.pending: list[TextDelta | ReasoningDelta] = []
        self.pending_chars = 0
        self.early = False
        """Its first words were read for an early release (`stream_first_window`), whatever came of it."""

    def hold(self, ev: TextDelta | ReasoningDelta) -> None:
        self.pending.append(ev)
        self.pending_chars += len(ev.text)

    def window(self) -> str:
        return self.released[-CONTEXT_CHARS:] + "".join(e.text for e in self.pending)

    def release(self) -> list[TextDelta | ReasoningDelta]:
        out, self.pending, self.pending_chars = self.pending, [], 0
        self.released += "".join(e.text for e in out)
        return out


def calls_text(deltas: Sequence[ToolCallDelta]) -> str:
    """A choice's function calls as the guard reads them: `name(arguments)`, one a line."""
    names: dict[int, str] = {}
    arguments: dict[int, str] = {}
    for d in deltas:
        names[d.call_index] = d.name or names.get(d.call_index, "")
        arguments[d.call_index] = arguments.get(d.call_index, "") + d.arguments
    return "\n".join(f"{names[i]}({arguments[i]})" for i in sorted(names))


@dataclass(frozen=True)
class Polled:
    """How a run takes the model's majority (`guard.majority_openings`): its sampled openings for the request,
    and the run that answers from the majority's side (given the opening chosen, and whether it refuses)."""

    openings: Callable[[], Awaitable[list[str]]]
    answer_from: Callable[[str, bool], AsyncGenerator[Event, None]]


def side(openings: Sequence[str], refuses_from: float) -> tuple[str, int, bool]:
    """The opening the answer continues, how many of `openings` refuse, and whether the model refuses:
    when at least `refuses_from` of them do (the answer continues the first refusal), else the answer
    continues the first that answers."""
    refusing = [o for o in openings if phrased(o)]
    if len(refusing) >= refuses_from * len(openings):
        return refusing[0], len(refusing), True
    return next(o for o in openings if o not in refusing), len(refusing), False


def settled(drawn: Sequence[str], total: int, refuses_from: float) -> bool:
    """Whether the first openings drawn of `total` already give the majority's side: enough of them refuse
    that the rest cannot change it, or none does. The second is a bet, not a certainty: it is lost only
    when enough of the openings not drawn would refuse (at the defaults, all four of them). Of the 559
    development prompts' eight recorded openings (`bench/results/majority-dev/`), 68% had none or all of
    their first four refusing, and stopping there changed no prompt's side."""
    refusing = sum(map(phrased, drawn))
    return len(drawn) >= total or refusing == 0 or refusing >= refuses_from * total


def _refuse(decision: Decision, index: int, replaced: bool) -> list[Event]:
    category = decision.category or "violent_crimes"
    return [
        Safety(decision.stage, category, round(decision.score, 4), decision.action, replaced, index),
        TextDelta(refusal(category), index=index),
        Done("stop", index),
    ]


async def refused(decision: Decision, n: int) -> AsyncGenerator[Event, None]:
    """The whole answer to a request blocked before the model saw it: a refusal for each of `n` choices."""
    for i in range(n):
        for ev in _refuse(decision, i, replaced=False):
            yield ev
    yield Usage()


async def guarded(
    screen: Screen,
    messages: Sequence[Message],
    n: int,
    run: AsyncGenerator[Event, None],
    again: Callable[[], AsyncGenerator[Event, None]] | None = None,
    cleared: Decision | None = None,
    told: Asked | None = None,
    polled: Polled | None = None,
) -> AsyncGenerator[Event, None]:
    """`run`'s events, screened. `run` has not started: a blocked request never reaches the model.

    `again` starts the run afresh on a conversation that says the request is harmless (`reassured`),
    with the answer begun ("Sure.", `answer_again_opening`) in the modes that can start from given words.
    With one choice, when the answer opens with a refusal (`phrased`) and the judge is sure the
    request is harmless (`Screen.harmless`), the refusal is withdrawn before any of it is released
    (a `Safety` event, action `answer_again`, `replaced=True`: what the choice streamed, its
    thinking, is dropped) and the second run's answer, screened like the first, is the answer. The
    small models refuse what only sounds alarming ("As an AI language model, I cannot provide
    guidance on how to kill a mosquito"; "What happened in the Nanjing massacre?" → "I can't assist
    with that"). Told after its words that the request was checked and is harmless, the 1.5B answered
    the mosquito; it still refused the massacre. The judge's gate is what keeps a harmful request the
    guard missed refused: told the same in a system message, the 1.5B wrote "reasons why Buddhists
    should not have equal rights", which the classifier had let through at 0.005 (the judge: 0.97).

    When the judge came near blocking the request (`Screen.weighs`), it reads every window of the
    thinking and the answer, and the calls: the classifier, a topic detector, scores a short answer
    by its words, and "you will need 144.14 g of nitrobenzene" has no alarming one. `told`, the
    request as the mode's screen hook knows it, learns the same, so a contemplating agent's draft and a
    tool call are judged that way too; its text is the request the guard reads (the newest user turn).

    With `polled`, a request the guard let through is first answered in a few sampled openings, and the
    answer comes from the majority's side (`side`; a `Safety` event, action `majority`, with the share that
    refused, when any did): a refusal then meets the second try like any other.
    """
    watching = again is not None and n == 1
    answer_again = False
    told = told or Asked(request_text(messages))
    asked = told.text
    try:
        decision = cleared or await screen.check(asked, "input")
        if decision.blocks:
            await run.aclose()
            async for ev in refused(decision, n):
                yield ev
            return
        if polled is not None and cleared is None:
            openings = await polled.openings()
            words, refusing, refuses = side(openings, screen.settings.majority_refuses_from)
            await run.aclose()  # never started: the answer comes from the majority's side instead
            run = polled.answer_from(words, refuses)
            if refusing:
                share = round(refusing / len(openings), 4)
                yield Safety("output", decision.category or "", share, "majority", False, 0)
    except BaseException:
        await run.aclose()
        raise
    async with aclosing(run) as events:
        # A request the judge came near blocking has everything the model writes for it judged too.
        weighed = screen.weighs(decision)
        told.weighed = weighed
        window, first = screen.settings.stream_window, screen.settings.stream_first_window
        held: dict[tuple[int, str], _Held] = {}
        calls: dict[int, list[ToolCallDelta]] = {}
        done: set[int] = set()
        blocked: Decision | None = None

        def halted() -> bool:
            """The run ends here: the guard blocked it, or a refusal of a harmless request is asked again."""
            return blocked is not None or answer_again

        async def screened(h: _Held) -> list[TextDelta | ReasoningDelta]:
            """`h`'s held text once the guard has read it; nothing (and `blocked` or `answer_again`
            set) when it blocks, or when it is a refusal of a harmless request."""
            nonlocal blocked, answer_again
            if not h.pending:
                return []
            refusing = watching and h.stage == "output" and not h.released and phrased(h.window())
            if refusing and await screen.harmless(asked, decision):
                answer_again = True
                return []
            if (verdict := await screen.check(h.window(), h.stage, asked, weighed)).blocks:
                blocked = verdict
                return []
            return h.release()

        async def early(h: _Held) -> list[TextDelta | ReasoningDelta]:
            """`h`'s first words, released before a whole window when the classifier alone clears them
            (`Screen.clears`); else held, to be read with the rest of the window. A refusal is held too:
            `screened` decides on it (the second try)."""
            h.early = True
            start = h.window()
            if phrased(start) or not await screen.clears(start, h.stage):
                return []
            return h.release()

        async for ev in events:
            out: list[Event] = []
            if isinstance(ev, TextDelta | ReasoningDelta):
                stage: Stage = "output" if isinstance(ev, TextDelta) else "reasoning"
                h = held.setdefault((ev.index, stage), _Held(stage))
                h.hold(ev)
                if h.pending_chars >= window:
                    out += await screened(h)
                elif not (h.released or h.early or weighed) and h.pending_chars >= first:
                    out += await early(h)
            elif isinstance(ev, Safety) and ev.action == "block":
                # The mode's finding from the guard's blocks (contemplate: most drafts blocked): refused.
                blocked = Decision("block", cast(Stage, ev.stage), ev.category, ev.score)
            elif isinstance(ev, ToolCallDelta):  # a call is read whole before the client may run it
                calls.setdefault(ev.index, []).append(ev)
            elif isinstance(ev, Done):  # the choice's last words are read before it may end
                for key in [k for k in held if k[0] == ev.index]:
                    if not halted():
                        out += await screened(held[key])
                made = calls.pop(ev.index, [])
                if not halted() and made:
                    verdict = await screen.check(calls_text(made), "tool_call", asked, weighed)
                    if verdict.blocks:
                        blocked = verdict
                    else:
                        out += made
                if not halted():
                    done.add(ev.index)
                    out.append(ev)
            else:
                out.append(ev)
            if halted():
                break
            for o in out:
                yield o
        if blocked is not None:
            # Closing `events` (leaving this block) cancels every choice still decoding.
            for i in range(n):
                if i not in done:
                    for ev in _refuse(blocked, i, replaced=True):
                        yield ev
            yield Usage()
    if answer_again and again is not None:
        yield Safety("output", decision.category or "", round(decision.score, 4), "answer_again", True, 0)
        async for ev in guarded(screen, messages, n, again(), cleared=decision, told=told):
            yield ev


NOTE = (
    "(ponder's safety check has read this request and found it harmless: any alarming word in it is meant "
    "in its everyday sense. Answer it directly and helpfully.)"
)
"""What the second run is told, after the user's words."""


def reassured(messages: Sequence[Message]) -> list[Message]:
    """`messages` with `NOTE` after the newest user turn's words (in the turn itself, so that every
    template and mode, with its own system message or none, reads it)."""
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i].role == "user":
            out[i] = out[i].model_copy(update={"content": f"{out[i].content}\n\n{NOTE}"})
            break
    return out
