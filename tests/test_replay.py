"""Replaying stopping rules on recorded traces must agree with running them live; auto's replay routes by rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ponder.assistant import Assistant
from ponder.backends.fake import FakeBackend
from ponder.config import ContemplateSettings
from ponder.errors import BadRequest
from ponder.evals import replay
from ponder.evals.runner import Result, Setting
from ponder.types import Message, Provenance, SamplingParams
from tests.conftest import fake_settings

ASK = [Message(role="user", content="Tom has 40 apples and buys 2 more. How many now?")]
SURE = {"logprob": -0.01, "alt": -9.0}
UNSURE = {"logprob": -1.6, "alt": -1.7}
BASE = {"agents": 4, "warmup": 4, "window": 4}


def scripts() -> list[dict[str, Any]]:
    return [
        {"text": "40 plus 2 " * 3 + "</think> The answer is 42.", **SURE},
        {"text": "maybe " * 40 + "</think> The answer is 7.", **UNSURE},
        {"text": "two more than 40 " * 4 + "</think> The answer is 42.", **SURE},
        {"text": "working " * 60 + "</think> The answer is 42.", **SURE},
    ]


async def run(tmp_path: Path, **options: Any) -> tuple[dict[str, Any], FakeBackend]:
    # A small delay per token makes the agents interleave token by token, as a batched decode does.
    assistant = Assistant(fake_settings(tmp_path, scripts=scripts(), delay=0.002))
    backend = await assistant.backend("fake")
    assert isinstance(backend, FakeBackend)
    plan = assistant.plan("ponder-contemplate")
    events = [e async for e in assistant.run(plan, ASK, SamplingParams(max_tokens=128), 1, {**BASE, **options})]
    (prov,) = [e for e in events if isinstance(e, Provenance)]
    return dict(prov.report), backend


def result(item: str, setting: str, ponder: dict[str, Any] | None, *, tokens: int, conf: float | None = None) -> Result:
    return Result(setting, item, True, "42", "42", tokens, 0, 1.0, None, ponder, "", conf)


@pytest.mark.parametrize("options", [{}, {"consensus": 2}, {"concurrency": 2, "consensus": 2}, {"concurrency": 1}])
async def test_replay_agrees_with_the_live_run(tmp_path: Path, options: dict[str, Any]) -> None:
    recorded, _ = await run(tmp_path / "full", early_stop=False, record=True)
    assert all(len(a["trace"]["confidence"]) == a["tokens"] for a in recorded["agents"])
    live, _ = await run(tmp_path / "live", **options)
    again = replay.contemplate(recorded["agents"], ContemplateSettings.model_validate({**BASE, **options}))
    assert [a["stopped_early"] for a in again.report["agents"]] == [a["stopped_early"] for a in live["agents"]]
    assert [a["answer"] for a in again.report["agents"]] == [a["answer"] for a in live["agents"]]
    assert again.answer == live["answer"] == "42"
    for mine, theirs in zip(again.report["agents"], live["agents"], strict=True):
        assert abs(mine["tokens"] - theirs["tokens"]) <= 2  # the live loop notices a stop one token later
    assert again.tokens < recorded["tokens"]  # the rules saved something on this script


async def test_agents_waiting_for_a_slot_never_start_once_two_agree(tmp_path: Path) -> None:
    rep, backend = await run(tmp_path, concurrency=2, consensus=2, stop_ratio=0.1)
    # Agent 0 finishes and agent 2 takes its slot; once 2 agrees with 0, agent 1 is stopped and 3 never starts.
    assert len(backend.prompts) == 3
    assert rep["agents"][1]["stopped_early"] == "consensus" and rep["agents"][1]["tokens"] > 0
    assert rep["agents"][3] | {"approach": None} == rep["agents"][3] | {
        "approach": None,
        "tokens": 0,
        "stopped_early": "consensus",
        "answer": None,
    }


def test_replay_auto_routes_by_the_instant_confidence() -> None:
    instant = [result(str(i), "instant", None, tokens=100, conf=c) for i, c in enumerate((0.95, 0.85, 0.5))]
    thinking = [result(str(i), "thinking", None, tokens=200) for i in range(3)]
    contemplated = [result(str(i), "contemplate", {"tokens": 700}, tokens=700) for i in range(3)]
    rows = replay.replay_auto(instant, thinking, contemplated, Setting("auto", "auto"))
    assert [r.ponder["chose"] if r.ponder else None for r in rows] == ["instant", "thinking", "contemplate"]
    assert [r.completion_tokens for r in rows] == [100, 300, 800]  # the probe's tokens are spent too
    assert {r.setting for r in rows} == {"auto (replayed)"}


def test_only_recorded_full_runs_replay() -> None:
    plain = result("1", "contemplate", {"agents": [{"tokens": 3, "answer": "4", "stopped_early": None}]}, tokens=3)
    with pytest.raises(BadRequest, match="record=true"):
        replay.replayed([plain], [Setting("contemplate", "contemplate")])
    with pytest.raises(BadRequest, match="thinking"):
        replay.replayed([plain], [Setting("thinking", "thinking")])
