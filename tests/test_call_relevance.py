"""The relevance check: the model is asked whether the functions it called do what the user asked."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from ponder.assistant import Assistant
from ponder.backends.fake import FakeBackend
from ponder.backends.yesno import share_of_yes, yes_probability
from ponder.calls.relevance import EXAMPLES, described, messages, request_text
from ponder.calls.spec import CallPolicy, policy
from ponder.types import Event, Message, Provenance, SamplingParams, TextDelta, ToolCall, ToolCallDelta
from tests.conftest import fake_settings
from tests.test_calls import INTEREST, WEATHER


async def run(
    tmp_path: Path, scripts: list[str], calls: CallPolicy, ask: str, context: int = 4096, own: float = 0.0
) -> tuple[list[Event], FakeBackend]:
    settings = fake_settings(tmp_path, scripts=scripts)
    settings.models[0].context = context  # the worked cases need more than the fake's usual 256 tokens
    settings.models[0].relevance = own
    assistant = Assistant(settings)
    plan = assistant.plan(mode="instant")
    events = [e async for e in assistant.run(plan, [Message(role="user", content=ask)], SamplingParams(), calls=calls)]
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend)
    return events, backend


ASKED = "What's the weather in Paris?"
CALL = '{"name": "get_weather", "arguments": {"city": "Paris"}}'


def test_share_of_yes_reads_the_first_tokens_probabilities() -> None:
    assert share_of_yes({"yes": math.log(0.6), "no": math.log(0.2), "maybe": math.log(0.2)}, "yes") == pytest.approx(
        0.75
    )
    assert share_of_yes({" Yes": math.log(0.1), "No": math.log(0.3)}, "No") == pytest.approx(0.25)
    assert share_of_yes({"perhaps": -0.1}, "yes, it does") == 1.0  # neither among the top: the text decides
    assert share_of_yes({}, "I think not") == 0.0


async def test_yes_probability_asks_for_log_probabilities_and_one_token() -> None:
    backend = FakeBackend().enqueue("yes it does")
    p, written = await yes_probability(backend, "Is it?", ["<|im_end|>"])
    assert p == 1.0 and written == "yes"
    assert backend.params[0].logprobs and backend.params[0].top_logprobs == 10 and backend.params[0].max_tokens == 1


def test_the_question_shows_each_function_once_with_its_calls() -> None:
    calls = [
        ToolCall(id="a", name="get_weather", arguments='{"city":  "Paris"}'),
        ToolCall(id="b", name="get_weather", arguments='{"city": "Rome"}'),
        ToolCall(id="c", name="nowhere", arguments="{}"),
    ]
    text = described(calls, [WEATHER, INTEREST])
    assert text.count("get_weather(") == 1 and text.startswith("get_weather(city")
    assert 'called with {"city": "Paris"}\ncalled with {"city": "Rome"}' in text  # compact, in order
    assert "nowhere(): (no description)" in text


def test_the_worked_cases_come_first_and_go_both_ways() -> None:
    out = messages("Convert 5 kg to pounds.", "convert(value): ...")
    assert out[0].role == "system" and len(out) == 2 + 2 * len(EXAMPLES)
    assert [m.content for m in out[2 : 2 * len(EXAMPLES) + 1 : 2]] == [v for _, _, v in EXAMPLES]
    assert {v for _, _, v in EXAMPLES} == {"yes", "no"}
    assert "Convert 5 kg to pounds." in out[-1].content
    convo = [Message(role="user", content="first"), Message(role="assistant", content="ok")]
    assert request_text([*convo, Message(role="user", content="x" * 3000)]) == "x" * 2000
    assert request_text(convo) == "first"


async def test_a_call_the_model_judges_unfit_is_dropped_and_answered_without_tools(tmp_path: Path) -> None:
    unfit = policy([WEATHER], relevance=0.5)
    events, backend = await run(tmp_path, [CALL, "", "no", "Canberra."], unfit, ask="Capital of France? Paris?")
    assert not [e for e in events if isinstance(e, ToolCallDelta)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Canberra."
    assert "Do these calls do what the user asked?" in backend.prompts[2]
    assert "get_weather" not in backend.prompts[3]  # asked again with no tools shown
    report = next(e for e in events if isinstance(e, Provenance) and e.mode == "calls").report
    assert report["dropped"] == 1 and report["calls"] == 0 and report["relevance"] == 0.0


async def test_a_call_the_model_judges_fit_is_kept_and_the_score_reported(tmp_path: Path) -> None:
    events, backend = await run(tmp_path, [CALL, "", "yes"], policy([WEATHER], relevance=0.5), ask=ASKED)
    assert [json.loads(d.arguments) for d in events if isinstance(d, ToolCallDelta) and not d.name] == [
        {"city": "Paris"}
    ]
    report = next(e for e in events if isinstance(e, Provenance) and e.mode == "calls")
    assert report.report["relevance"] == 1.0 and report.report["calls"] == 1
    assert len(backend.prompts) == 3


@pytest.mark.parametrize(
    "calls",
    [policy([WEATHER]), policy([WEATHER], "required", relevance=0.5), policy([WEATHER], "get_weather", relevance=0.5)],
)
async def test_no_question_when_switched_off_or_a_call_is_demanded(tmp_path: Path, calls: object) -> None:
    events, backend = await run(tmp_path, [CALL, "", "no"], calls, ask=ASKED)  # type: ignore[arg-type]
    assert [d.name for d in events if isinstance(d, ToolCallDelta) and d.name] == ["get_weather"]
    assert not any("Do these calls do" in p for p in backend.prompts)


async def test_a_question_too_long_for_the_context_leaves_the_calls_alone(tmp_path: Path) -> None:
    events, backend = await run(tmp_path, [CALL, "", "no"], policy([WEATHER], relevance=0.5), ASKED, context=256)
    assert [d.name for d in events if isinstance(d, ToolCallDelta) and d.name] == ["get_weather"]
    assert len(backend.prompts) == 2


async def test_no_question_when_no_call_was_made(tmp_path: Path) -> None:
    events, backend = await run(tmp_path, ["It is sunny."], policy([WEATHER], relevance=0.5), ask=ASKED)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "It is sunny."
    assert len(backend.prompts) == 1


def test_the_setting_reaches_the_policy() -> None:
    from ponder.config import CallsSettings, Settings
    from ponder.server.protocol import ChatCompletionRequest

    assert Settings().calls.relevance is None  # each model's own threshold, unless configured
    req = ChatCompletionRequest.model_validate(
        {
            "messages": [{"role": "user", "content": ASKED}],
            "tools": [{"type": "function", "function": WEATHER.openai()["function"]}],
        }
    )
    made = req.call_policy(CallsSettings(relevance=0.3, reask=False))
    assert made is not None and made.relevance == 0.3 and not made.reask


async def test_the_question_never_lists_the_tools_whatever_template_it_gets(tmp_path: Path) -> None:
    from ponder.calls.relevance import relevance
    from ponder.models.templates import get_template

    backend = FakeBackend().enqueue("yes")
    listed = replace(get_template("qwen"), tools=(WEATHER.openai(),))
    call = ToolCall(id="a", name="get_weather", arguments='{"city": "Paris"}')
    assert await relevance(backend, listed, [Message(role="user", content=ASKED)], [call], [WEATHER]) == 1.0
    assert "<tools>" not in backend.prompts[0] and "Do these calls do" in backend.prompts[0]


def test_each_model_has_its_own_threshold_unless_one_is_configured(tmp_path: Path) -> None:
    from ponder.config import Settings
    from ponder.models import relevance_threshold, resolve

    # The 1.5B's P(yes) was calibrated; the 0.5B gave right calls 0.29-0.55, so it is not asked.
    assert relevance_threshold(Settings(), resolve(Settings(), "qwen2.5-coder-1.5b")) == 0.6
    assert relevance_threshold(Settings(), resolve(Settings(), "qwen2.5-coder-0.5b")) == 0.0
    settings = fake_settings(tmp_path)
    settings.models[0].relevance = 0.4
    assert relevance_threshold(settings, resolve(settings, "fake")) == 0.4
    settings.calls.relevance = 0.2
    assert relevance_threshold(settings, resolve(settings, "fake")) == 0.2
    assert relevance_threshold(settings, resolve(settings, "qwen2.5-coder-0.5b")) == 0.2


async def test_a_policy_without_a_threshold_takes_the_answering_models(tmp_path: Path) -> None:
    # The model's own threshold asks, and its "no" drops the call...
    events, backend = await run(tmp_path, [CALL, "", "no", "Canberra."], policy([WEATHER]), ASKED, own=0.5)
    assert not [e for e in events if isinstance(e, ToolCallDelta)]
    assert "Do these calls do what the user asked?" in backend.prompts[2]
    # ...and a model with none is not asked.
    events, backend = await run(tmp_path, [CALL, ""], policy([WEATHER]), ASKED, own=0.0)
    assert [e for e in events if isinstance(e, ToolCallDelta)]
    assert not any("Do these calls do" in p for p in backend.prompts)
