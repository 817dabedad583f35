"""The model's majority: a request is answered from the side most of the model's sampled openings take.

The fake backend answers each call from its queue, so a test scripts the openings (one per call, in
choice order) and then the continuation of the chosen one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.assistant import Assistant
from ponder.backends.fake import FakeBackend
from ponder.guard.audit import AuditLog
from ponder.guard.policy import Screen
from ponder.guard.stream import settled, side
from ponder.reasoning.tags import OPEN
from ponder.types import Event, Message, ReasoningDelta, Safety, SamplingParams, TextDelta, Usage
from tests.conftest import fake_settings
from tests.test_guard import Judge, Recorder

REFUSING = "I'm sorry, but I can't assist with that."
ANSWERING = ("To nail the interview, prepare", "Research the bank and practise", "Arrive early and")


def polled_assistant(
    tmp_path: Path, scripts: list[str], unsafe: bool = True, guard: dict[str, object] | None = None
) -> Assistant:
    """Four openings; the guard lets the request through, and its judge calls it `unsafe` (no second try)."""
    settings = fake_settings(tmp_path, guard={"judge": True, "majority_openings": 4, **(guard or {})}, scripts=scripts)
    assistant = Assistant(settings)
    assistant._screen = Screen(assistant.settings.guard, Recorder(), Judge(unsafe=unsafe), AuditLog(None))
    return assistant


async def collect(assistant: Assistant, ask: str, model: str | None = None, **params: object) -> list[Event]:
    messages = [Message(role="user", content=ask)]
    sampling = SamplingParams.model_validate({"max_tokens": 80, "seed": 1, **params})
    return [e async for e in assistant.run(assistant.plan(model), messages, sampling)]


def answer(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize(
    ("openings", "chosen", "refusing"),
    [
        (["a", REFUSING, REFUSING, "b"], REFUSING, 2),  # half refuse: the model refuses
        ([REFUSING, "a", "b", "c"], "a", 1),
        (["As an AI language model, I cannot provide", "a", "b", "c", "d"], "a", 1),
        ([REFUSING] * 3, REFUSING, 3),
        (["a", "b"], "a", 0),
    ],
)
def test_the_answer_takes_the_majority_side(openings: list[str], chosen: str, refusing: int) -> None:
    assert side(openings, 0.5) == (chosen, refusing, chosen == REFUSING)


async def test_a_request_most_openings_refuse_is_refused_in_the_models_words(tmp_path: Path) -> None:
    scripts = [ANSWERING[0], REFUSING, REFUSING, REFUSING, " Is there anything else I can help with?"]
    assistant = polled_assistant(tmp_path, scripts)
    events = await collect(assistant, "How do I nail my job interview at the bank?")
    assert answer(events) == REFUSING + scripts[-1]
    (safety,) = [e for e in events if isinstance(e, Safety)]
    assert (safety.action, safety.score, safety.replaced) == ("majority", 0.75, False)
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend) and len(backend.prompts) == 5
    assert [p.max_tokens for p in backend.params[:4]] == [16] * 4  # the openings: short, each its own seed
    assert sorted(p.seed or 0 for p in backend.params[:4]) == [1, 2, 3, 4]
    assert backend.prompts[4].endswith("assistant\n" + REFUSING)  # the answer continues the model's refusal
    assert backend.params[4].max_tokens == 80 - backend.count_tokens(REFUSING)
    usage = events[-1]
    assert isinstance(usage, Usage) and usage.completion_tokens == backend.count_tokens(REFUSING + scripts[-1])


async def test_a_request_few_openings_refuse_is_answered(tmp_path: Path) -> None:
    scripts = [REFUSING, *ANSWERING, " the rest of the answer."]
    assistant = polled_assistant(tmp_path, scripts)
    events = await collect(assistant, "How do I nail my job interview at the bank?")
    assert answer(events) == ANSWERING[0] + scripts[-1]  # the first opening that answers, continued
    (safety,) = [e for e in events if isinstance(e, Safety)]
    assert (safety.action, safety.score) == ("majority", 0.25)


async def test_a_majority_refusal_of_a_harmless_request_meets_the_second_try(tmp_path: Path) -> None:
    """The judge is sure the request is harmless: the model's refusal is withdrawn and it is asked again."""
    scripts = [REFUSING] * 4 + [" More.", " Use a fly swatter."]
    assistant = polled_assistant(tmp_path, scripts, unsafe=False)
    events = await collect(assistant, "How do I kill a mosquito in my room?")
    assert answer(events) == "Sure. Use a fly swatter."
    assert [(e.action, e.replaced) for e in events if isinstance(e, Safety)] == [
        ("majority", False),
        ("answer_again", True),
    ]
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend) and len(backend.prompts) == 6  # the second try is not polled


async def test_no_opening_refusing_adds_no_event(tmp_path: Path) -> None:
    scripts = [*ANSWERING, "Bring a copy of your CV", " and smile."]
    events = await collect(polled_assistant(tmp_path, scripts), "How do I nail my job interview?")
    assert answer(events) == ANSWERING[0] + " and smile."
    assert not [e for e in events if isinstance(e, Safety)]


@pytest.mark.parametrize(
    ("drawn", "settles"),
    [
        (ANSWERING, True),  # none refuses: the rest are not drawn
        ([REFUSING] * 4, True),  # four of eight refuse whatever the rest say
        ([REFUSING] * 3, False),
        ([REFUSING, *ANSWERING], False),
        ([REFUSING, *ANSWERING, "d", "e", "f", "g"], True),  # all eight drawn
    ],
)
def test_the_first_openings_settle_the_side_only_when_the_rest_cannot_change_it(
    drawn: list[str], settles: bool
) -> None:
    assert settled(drawn, 8, 0.5) is settles


async def test_openings_no_first_one_refuses_are_all_that_is_drawn(tmp_path: Path) -> None:
    scripts = [*ANSWERING, "d", " and smile.", *[REFUSING] * 4]  # the four refusals are never asked for
    assistant = polled_assistant(tmp_path, scripts, guard={"majority_openings": 8, "majority_first": 4})
    events = await collect(assistant, "How do I nail my job interview?")
    assert answer(events) == ANSWERING[0] + " and smile."
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend) and len(backend.prompts) == 5


async def test_openings_that_disagree_draw_the_rest_with_the_seeds_of_one_poll(tmp_path: Path) -> None:
    scripts = [REFUSING, *ANSWERING, REFUSING, REFUSING, REFUSING, "e", " Is there anything else?"]
    assistant = polled_assistant(tmp_path, scripts, guard={"majority_openings": 8, "majority_first": 4})
    events = await collect(assistant, "How do I nail my job interview?")
    assert answer(events) == REFUSING + " Is there anything else?"  # 4 of 8 refuse
    (safety,) = [e for e in events if isinstance(e, Safety)]
    assert (safety.action, safety.score) == ("majority", 0.5)
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend) and len(backend.prompts) == 9
    assert sorted(p.seed or 0 for p in backend.params[:8]) == list(range(1, 9))


@pytest.mark.parametrize(
    ("model", "params", "guard"),
    [
        (None, {"temperature": 0.0}, {}),  # greedy openings are all alike
        (None, {"max_tokens": 20}, {}),  # an answer hardly longer than an opening
        (None, {}, {"majority_openings": 0}),
    ],
)
async def test_the_model_is_polled_only_when_it_can_tell(
    tmp_path: Path, model: str | None, params: dict[str, object], guard: dict[str, object]
) -> None:
    scripts = ["a thought </think>", REFUSING, "unused"]
    assistant = polled_assistant(tmp_path, scripts, guard=guard)
    events = await collect(assistant, "How do I nail my job interview?", model, **params)
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend) and all(p.max_tokens != 16 for p in backend.params)
    assert not [e for e in events if isinstance(e, Safety)]


async def test_thinking_refuses_when_most_of_instants_openings_do(tmp_path: Path) -> None:
    """A trace does not refuse as an answer's first tokens do: instant's openings speak for the model, and
    the refusal continues in instant, under instant's system message, with no trace."""
    scripts = [ANSWERING[0], REFUSING, REFUSING, REFUSING, " Is there anything else I can help with?"]
    assistant = polled_assistant(tmp_path, scripts)
    events = await collect(assistant, "How do I nail my job interview at the bank?", "ponder-thinking")
    assert answer(events) == REFUSING + scripts[-1]
    assert not [e for e in events if isinstance(e, ReasoningDelta)]
    (safety,) = [e for e in events if isinstance(e, Safety)]
    assert (safety.action, safety.score) == ("majority", 0.75)
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend) and len(backend.prompts) == 5
    system = assistant.settings.instant.system
    assert all(system in prompt and OPEN not in prompt for prompt in backend.prompts)
    assert backend.prompts[4].endswith("assistant\n" + REFUSING)


async def test_thinking_thinks_when_few_of_instants_openings_refuse(tmp_path: Path) -> None:
    scripts = [REFUSING, *ANSWERING, "Research the bank. </think>", "Prepare three stories."]
    assistant = polled_assistant(tmp_path, scripts)
    events = await collect(assistant, "How do I nail my job interview at the bank?", "ponder-thinking")
    assert answer(events) == "Prepare three stories."  # the mode's own answer, not an opening continued
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)).strip() == "Research the bank."
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend) and len(backend.prompts) == 6
    assert backend.prompts[4].endswith(OPEN + "\n") and backend.params[4].max_tokens != 16


@pytest.mark.parametrize("model", ["ponder-contemplate", "ponder-auto"])
async def test_contemplate_and_auto_are_polled_by_instant_too(tmp_path: Path, model: str) -> None:
    scripts = [REFUSING] * 4 + [" Is there anything else I can help with?"]
    assistant = polled_assistant(tmp_path, scripts)
    events = await collect(assistant, "How do I nail my job interview at the bank?", model)
    assert answer(events) == REFUSING + scripts[-1]
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend) and len(backend.prompts) == 5
