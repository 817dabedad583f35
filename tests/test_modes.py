"""Instant and thinking modes on the scripted backend: traces, budgets, forcing, several choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.assistant import Assistant
from ponder.backends.fake import FakeBackend
from ponder.config import InstantSettings, ReasoningSettings
from ponder.errors import UnknownPlugin
from ponder.models.templates import get_template
from ponder.types import Done, Event, Message, ReasoningDelta, SamplingParams, TextDelta, Usage
from tests.conftest import fake_settings

ASK = [Message(role="user", content="What is 6 times 7?")]
REPLY = ReasoningSettings.model_fields["reply"].default
REPLY_CUT = ReasoningSettings.model_fields["reply_cut"].default


async def run(tmp_path: Path, scripts: list[str], **plan: object) -> tuple[list[Event], FakeBackend]:
    assistant = Assistant(fake_settings(tmp_path, scripts=scripts))
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend)
    n = int(plan.pop("n", 1))  # type: ignore[call-overload]
    events = [ev async for ev in assistant.run(assistant.plan(**plan), ASK, SamplingParams(max_tokens=50), n)]  # type: ignore[arg-type]
    return events, backend


def text(events: list[Event], kind: type[TextDelta] | type[ReasoningDelta], index: int = 0) -> str:
    return "".join(e.text for e in events if isinstance(e, kind) and e.index == index)


async def test_instant_answers_directly(tmp_path: Path) -> None:
    events, backend = await run(tmp_path, ["It is 42."], model="ponder-instant")
    assert text(events, TextDelta) == "It is 42."
    assert not any(isinstance(e, ReasoningDelta) for e in events)
    assert "<think>" not in backend.prompts[0]
    assert isinstance(events[-1], Usage) and events[-1].completion_tokens == 3


async def test_thinking_separates_trace_from_answer(tmp_path: Path) -> None:
    events, backend = await run(
        tmp_path, ["six sevens are 42 </think> ignored", "The answer is 42."], model="ponder-thinking"
    )
    assert text(events, ReasoningDelta) == "six sevens are 42 "
    assert text(events, TextDelta) == "The answer is 42."
    assert backend.prompts[0].endswith("<|im_start|>assistant\n<think>\n")
    # The reply is asked for in a user turn after the closed trace, which stays the prompt's prefix.
    trace_turn = backend.prompts[0] + "six sevens are 42 \n</think><|im_end|>\n"
    assert backend.prompts[1].startswith(trace_turn)
    assert backend.prompts[1].endswith(f"<|im_start|>user\n{REPLY}<|im_end|>\n<|im_start|>assistant\n")
    usage = events[-1]
    assert isinstance(usage, Usage)
    assert usage.reasoning_tokens == 5 and usage.completion_tokens == 5 + 4  # the token holding the tag counts


@pytest.mark.parametrize("mode", ["thinking", "contemplate"])
async def test_draft_style_asks_for_short_steps_in_the_instruction(tmp_path: Path, mode: str) -> None:
    from ponder.modes.base import DRAFT

    assistant = Assistant(fake_settings(tmp_path, scripts=["6*7=42 </think>", "42."] * 4))
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend)
    plan = assistant.plan(mode=mode)
    options = {"style": "draft", **({"agents": 1} if mode == "contemplate" else {})}
    _ = [ev async for ev in assistant.run(plan, ASK, SamplingParams(max_tokens=50), 1, options)]
    instruction = ReasoningSettings.model_fields["instruction"].default
    assert f"<|im_start|>system\n{instruction} {DRAFT}<|im_end|>" in backend.prompts[0]
    own = [Message(role="system", content="Be brief."), *ASK]  # a conversation's own system message stands
    _ = [ev async for ev in assistant.run(plan, own, SamplingParams(max_tokens=50), 1, options)]
    assert DRAFT not in backend.prompts[-1]


async def test_budget_forces_the_answer_when_the_model_never_closes(tmp_path: Path) -> None:
    endless = " ".join(["hmm"] * 100)  # never closes the tag; stops only at the budget
    events, backend = await run(tmp_path, [endless, "42."], model="ponder-thinking", thinking_budget=5)
    assert text(events, ReasoningDelta).split() == ["hmm"] * 5
    assert text(events, TextDelta) == "42."
    assert "hmm\n</think><|im_end|>" in backend.prompts[1]
    # A cut trace is mid-computation: its reply is asked to finish the working, not to answer first.
    assert backend.prompts[1].endswith(f"<|im_start|>user\n{REPLY_CUT}<|im_end|>\n<|im_start|>assistant\n")
    usage = events[-1]
    assert isinstance(usage, Usage) and usage.reasoning_tokens == 5


async def test_a_trace_the_model_closed_within_the_budget_gets_the_usual_reply(tmp_path: Path) -> None:
    _, backend = await run(tmp_path, ["6 * 7 = 42 </think>", "42."], model="ponder-thinking", thinking_budget=8)
    assert backend.prompts[1].endswith(f"<|im_start|>user\n{REPLY}<|im_end|>\n<|im_start|>assistant\n")


async def test_without_a_reply_request_the_answer_continues_the_trace_turn(tmp_path: Path) -> None:
    assistant = Assistant(fake_settings(tmp_path, scripts=["six sevens are 42 </think>", "42."]))
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend)
    plan = assistant.plan(model="ponder-thinking")
    events = [ev async for ev in assistant.run(plan, ASK, SamplingParams(max_tokens=50), 1, {"reply": ""})]
    assert text(events, TextDelta) == "42."
    assert backend.prompts[1] == backend.prompts[0] + "six sevens are 42 \n</think>\n\n"


async def test_a_stray_closing_tag_ends_the_answer(tmp_path: Path) -> None:
    events, _ = await run(tmp_path, ["ok </think>", "It is 42. </think> junk"], model="ponder-thinking")
    assert text(events, TextDelta) == "It is 42. "


async def test_model_that_ends_its_turn_inside_the_trace_still_answers(tmp_path: Path) -> None:
    events, _ = await run(tmp_path, ["just thinking", "final."], model="ponder-thinking")
    assert text(events, ReasoningDelta) == "just thinking"
    assert text(events, TextDelta) == "final."


@pytest.mark.parametrize(("effort", "budget"), [("low", 4), ("medium", 8), ("high", 16)])
async def test_reasoning_effort_maps_to_budgets(tmp_path: Path, effort: str, budget: int) -> None:
    assistant = Assistant(fake_settings(tmp_path))
    plan = assistant.plan("fake", reasoning_effort=effort)  # type: ignore[arg-type]
    assert (plan.mode, plan.thinking_budget) == ("thinking", budget)


async def test_model_name_means_instant_and_explicit_mode_wins(tmp_path: Path) -> None:
    assistant = Assistant(fake_settings(tmp_path))
    assert assistant.plan("fake").mode == "instant"
    assert assistant.plan("fake", mode="thinking").mode == "thinking"
    assert assistant.plan("ponder-thinking").model == "fake"
    assert assistant.plan("ponder-instant", reasoning_effort="high").mode == "instant"
    with pytest.raises(UnknownPlugin, match="valid modes are: agent, agents, auto, contemplate, instant, thinking"):
        assistant.plan("fake", mode="dreaming")
    with pytest.raises(UnknownPlugin, match="ponder-instant"):
        assistant.plan("gpt-5")


async def test_several_choices_are_tagged_and_usage_counts_prompt_once(tmp_path: Path) -> None:
    events, _ = await run(tmp_path, ["first one", "second one", "third one"], model="fake", n=3)
    answers = sorted(text(events, TextDelta, i) for i in range(3))
    assert answers == ["first one", "second one", "third one"]
    assert sorted(e.index for e in events if isinstance(e, Done)) == [0, 1, 2]
    usage = [e for e in events if isinstance(e, Usage)]
    assert len(usage) == 1 and usage[0].completion_tokens == 6
    system = Message(role="system", content=InstantSettings().system)
    prompt = get_template("chatml").render([system, *ASK])
    assert usage[0].prompt_tokens == FakeBackend().count_tokens(prompt)


@pytest.mark.parametrize(
    ("messages", "options", "system"),
    [
        (ASK, {}, InstantSettings().system),
        ([Message(role="system", content="Be terse."), *ASK], {}, "Be terse."),
        (ASK, {"system": ""}, None),
    ],
)
async def test_instant_brings_its_system_message_unless_the_conversation_has_one(
    tmp_path: Path, messages: list[Message], options: dict[str, str], system: str | None
) -> None:
    assistant = Assistant(fake_settings(tmp_path, scripts=["42"]))
    backend = await assistant.backend("fake")
    events = [
        e async for e in assistant.run(assistant.plan("fake"), messages, SamplingParams(max_tokens=8), options=options)
    ]
    prompt = backend.prompts[0]  # type: ignore[attr-defined]
    assert text(events, TextDelta) == "42" and prompt.count("<|im_start|>system") == (system is not None)
    assert system is None or prompt.startswith(f"<|im_start|>system\n{system}<|im_end|>")


async def test_an_empty_trace_is_nudged_to_think_within_budget(tmp_path: Path) -> None:
    events, backend = await run(tmp_path, ["</think>", "so it is 42 </think>", "42."], model="ponder-thinking")
    assert text(events, ReasoningDelta) == "Let me think this through.so it is 42 "
    assert backend.prompts[1].endswith("<think>\nLet me think this through.")
    assert text(events, TextDelta) == "42."
    usage = events[-1]
    assert (
        isinstance(usage, Usage) and usage.reasoning_tokens == 0 + 5
    )  # both attempts count (the fake bills 0 for a bare tag)
