"""Contemplate mode on scripted agents: voting, early stopping, consensus, synthesis, provenance, usage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ponder.assistant import Assistant
from ponder.backends.fake import FakeBackend
from ponder.errors import BadRequest
from ponder.types import Done, Event, Message, Progress, Provenance, ReasoningDelta, SamplingParams, TextDelta, Usage
from tests.conftest import fake_settings

ASK = [Message(role="user", content="Tom has 40 apples and buys 2 more. How many now?")]
SURE = {"logprob": -0.01, "alt": -9.0}  # peaked: high token confidence
UNSURE = {"logprob": -1.6, "alt": -1.7}  # flat: low token confidence
OPTS = {"agents": 4, "warmup": 4, "window": 4}


def agent(text: str, how: dict[str, float] = SURE) -> dict[str, Any]:
    return {"text": text, **how}


async def contemplate(tmp_path: Path, scripts: list[Any], **options: Any) -> tuple[list[Event], FakeBackend]:
    assistant = Assistant(fake_settings(tmp_path, scripts=scripts))
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend)
    plan = assistant.plan("ponder-contemplate")
    events = [e async for e in assistant.run(plan, ASK, SamplingParams(max_tokens=64), 1, {**OPTS, **options})]
    return events, backend


def report(events: list[Event]) -> dict[str, Any]:
    (prov,) = [e for e in events if isinstance(e, Provenance)]
    return dict(prov.report)


def answer(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_confident_majority_wins_and_provenance_adds_up(tmp_path: Path) -> None:
    scripts = [
        agent("40 plus 2 is 42 </think> The answer is 42."),
        agent("two more than 40 </think> The answer is 42."),
        agent("hmm 40 and 2 </think> The answer is 41."),
        agent("so 42 in all </think> The answer is 42."),
    ]
    events, backend = await contemplate(tmp_path, scripts, early_stop=False)
    assert answer(events) == "The answer is 42."
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta))  # the winner's trace
    rep = report(events)
    assert rep["answer"] == "42" and rep["combined_by"] == "vote"
    assert rep["votes"] == {"42": pytest.approx(0.75, abs=0.01), "41": pytest.approx(0.25, abs=0.01)}
    assert 0 < rep["confidence"] < 1 and rep["agreement"] == pytest.approx(0.75, abs=0.01)
    usage = [e for e in events if isinstance(e, Usage)][-1]
    assert usage.completion_tokens == sum(a["tokens"] for a in rep["agents"]) == rep["tokens"]
    assert usage.reasoning_tokens == usage.completion_tokens
    assert all(
        p.endswith("assistant\n<think>\n" + a["approach"] + "\n")
        for p, a in zip(backend.prompts, rep["agents"], strict=True)
    )
    assert len({a["approach"] for a in rep["agents"]}) == 4  # diverse approaches, not copies
    assert [e.finish_reason for e in events if isinstance(e, Done)] == ["stop"]
    assert isinstance(events[0], Progress) and events[0].running == 4
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].running == 0 and progress[-1].tokens == rep["tokens"]


async def test_a_low_confidence_agent_is_stopped_early(tmp_path: Path) -> None:
    rambling = " ".join(["maybe"] * 60) + " </think> The answer is 7."
    scripts = [agent("40 and 2 </think> The answer is 42."), agent(rambling, UNSURE)]
    scripts += [agent("x </think> The answer is 42."), agent("y </think> The answer is 42.")]
    events, _ = await contemplate(tmp_path, scripts, consensus=4)
    agents = report(events)["agents"]
    assert agents[1]["stopped_early"] == "low_confidence"
    assert agents[1]["tokens"] < 60 and agents[1]["answer"] is None
    assert answer(events) == "The answer is 42."


async def test_consensus_stops_the_rest(tmp_path: Path) -> None:
    long_one = " ".join(["working"] * 100) + " </think> The answer is 42."
    scripts = [
        agent("a </think> The answer is 42."),
        agent("b </think> 42"),
        agent("c </think> It is 42."),
        agent(long_one),
    ]
    events, _ = await contemplate(tmp_path, scripts)
    rep = report(events)
    assert rep["agents"][3]["stopped_early"] == "consensus" and rep["agents"][3]["tokens"] < 100
    assert rep["stopped_early"] == 1 and rep["answer"] == "42"
    assert rep["tokens"] < rep["token_budget"]


async def test_free_text_is_synthesised(tmp_path: Path) -> None:
    lines = ["Rain taps the glass.", "Grey rain, soft and slow.", "The roof hums with rain.", "Rain at dusk."]
    scripts: list[str | dict[str, Any]] = [agent(f"draft </think> {line}") for line in lines]
    scripts.append("Soft rain on the roof.")  # the synthesis pass
    events, backend = await contemplate(tmp_path, scripts, agents=4, early_stop=False)
    assert answer(events) == "Soft rain on the roof."
    assert report(events)["combined_by"] == "synthesis"
    assert "Draft 1:" in backend.prompts[-1] and "Rain at dusk." in backend.prompts[-1]


async def test_the_answer_leaves_out_the_words_a_forced_answer_starts_from(tmp_path: Path) -> None:
    """ "The final answer is:" is where a forced answer starts, not what it says: neither the winner's text nor
    a synthesis's drafts carry it (synthesised, the 1.5B wrote "…the single best final answer is: The final
    answer is: Hindus should…")."""
    agreed = [agent(f"{w} </think> The final answer is: 42 apples.") for w in "abcd"]
    events, _ = await contemplate(tmp_path / "vote", agreed, early_stop=False)
    assert answer(events) == "42 apples."
    lines = ["Rain taps the glass.", "Grey rain.", "The roof hums.", "Rain at dusk."]
    drafts = [agent(f"draft </think> The final answer is: {line}") for line in lines] + ["Soft rain."]
    events, backend = await contemplate(tmp_path / "synthesis", drafts, early_stop=False)
    assert report(events)["combined_by"] == "synthesis"
    assert "Draft 1:\nRain taps the glass." in backend.prompts[-1]
    assert "final answer" not in backend.prompts[-1].lower()


async def test_confidence_grows_with_agreement_and_certainty(tmp_path: Path) -> None:
    sure = [agent(f"{w} </think> 42") for w in "abcd"]
    split = [agent("a </think> 42"), agent("b </think> 42", UNSURE), agent("c </think> 41"), agent("d </think> 40")]
    high = report((await contemplate(tmp_path / "sure", sure, early_stop=False))[0])["confidence"]
    low = report((await contemplate(tmp_path / "split", split, early_stop=False))[0])["confidence"]
    assert 0.5 < high < 1 and 0 < low < 0.5


async def test_abstains_below_the_threshold(tmp_path: Path) -> None:
    scripts = [agent("a </think> 1"), agent("b </think> 2"), agent("c </think> 3"), agent("d </think> 4")]
    events, _ = await contemplate(tmp_path, scripts, early_stop=False, abstain_below=0.6)
    assert "not confident enough" in answer(events)
    assert report(events)["abstained"] is True


async def test_an_agent_that_never_closes_is_forced_to_answer(tmp_path: Path) -> None:
    scripts = [
        agent("thinking and thinking"),
        " 42.",
        agent("a </think> 42"),
        agent("b </think> 42"),
        agent("c </think> 42"),
    ]
    events, backend = await contemplate(tmp_path, scripts, early_stop=False)
    assert backend.prompts[1].endswith("</think>\n\nThe final answer is")
    assert report(events)["agents"][0]["answer"] == "42"


async def test_bad_options_are_a_400(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="agents"):
        await contemplate(tmp_path, [], agents=0)
    with pytest.raises(BadRequest, match="agentz"):
        await contemplate(tmp_path, [], agentz=3)


async def test_agents_sample_at_their_own_temperatures_unless_the_request_sets_one(tmp_path: Path) -> None:
    scripts = [agent("so 42 </think> The answer is 42.")] * 4
    _, backend = await contemplate(tmp_path, scripts, early_stop=False)
    spread = sorted(p.temperature for p in backend.params)
    assert len(set(spread)) == 4  # diverse by default
    _, backend = await contemplate(tmp_path, scripts, early_stop=False, temperature=0.6)
    assert [p.temperature for p in backend.params] == [0.6] * 4


def test_with_no_draft_left_the_synthesis_is_the_request_itself() -> None:
    """Every agent stopped for low confidence: the request is answered as if asked once, not with a prompt
    of no drafts (the 1.5B answered one with "Please provide the drafts you've written")."""
    from ponder.models.templates import get_template
    from ponder.modes.base import RunRequest
    from ponder.modes.contemplate import Agent, ContemplateMode
    from ponder.reasoning.confidence import Tracker

    agents = [Agent(i, "", Tracker(window=4, tail_size=8), ["a draft"], stopped="low_confidence") for i in range(2)]
    for a in agents:
        a.done = True
    request = RunRequest(FakeBackend(), get_template("qwen"), ASK, SamplingParams())
    assert ContemplateMode()._synthesis(request, agents) == ASK
