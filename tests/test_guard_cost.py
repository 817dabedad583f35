"""The guard's cost: each screen check timed, with each guard's part, only while someone counts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ponder.guard import cost
from ponder.guard.audit import AuditLog
from ponder.guard.policy import Screen
from tests.conftest import fake_settings
from tests.test_guard import Judge, Recorder, collect
from tests.test_probe import REFUSAL, Probed, probed_assistant


async def test_each_check_is_timed_by_stage_with_each_guards_part(tmp_path: Path) -> None:
    """The request meets the classifier and the probe; each window of the answer the classifier alone (its
    score is below the judge's band). A check's time covers its guards' times."""
    assistant = probed_assistant(
        tmp_path, ["A plain answer that runs past one window. " * 6], Probed(0.1), Judge(False)
    )
    with cost.counting() as checks:
        await collect(assistant, "Tell me about the weather.")
    first, *rest = checks
    assert first.stage == "input" and set(first.by) == {"classifier", "probe"}
    assert rest and {c.stage for c in rest} == {"output"} and all(set(c.by) == {"classifier"} for c in rest)
    assert all(c.seconds >= sum(c.by.values()) > 0 for c in checks)
    assert first.json()["by"].keys() == {"classifier", "probe"} and first.json()["stage"] == "input"


async def test_the_judge_asked_about_a_second_try_is_a_check_of_its_own(tmp_path: Path) -> None:
    """Without a probe, the judge decides whether a refusal is asked again, outside any screen check."""
    judge = Judge(unsafe=False)
    assistant = probed_assistant(
        tmp_path, [REFUSAL, " Close it with `kill`."], Probed(0.1), judge, guard={"probe": False}
    )
    with cost.counting() as checks:
        await collect(assistant, "How do I kill a Python process?")
    assert judge.asked and any(set(c.by) == {"judge"} for c in checks)


async def test_checks_in_tasks_a_run_starts_are_counted_and_nothing_is_kept_when_no_one_counts(tmp_path: Path) -> None:
    settings = fake_settings(tmp_path, guard={"judge": False})
    screen = Screen(settings.guard, Recorder(), None, AuditLog(tmp_path / "log.jsonl"))
    with cost.counting() as checks:
        await asyncio.gather(*(asyncio.create_task(screen.check(f"draft {i}", "agent")) for i in range(3)))
    assert [c.stage for c in checks] == ["agent"] * 3
    with cost.counting() as outer:
        pass
    await screen.check("uncounted", "input")
    assert outer == [] and len(checks) == 3


def test_the_summary_keeps_the_inputs_cost_apart_from_the_cheap_windows() -> None:
    answers = [
        [{"stage": "input", "ms": 800.0, "by": {"classifier": 9.0, "probe": 790.0}}]
        + [{"stage": "output", "ms": 10.0, "by": {"classifier": 10.0}}] * 4
    ] * 3
    s = cost.summary(answers)
    assert s is not None
    assert s["per_check"]["p50_ms"] == 10.0 and s["by_stage"]["input"]["p50_ms"] == 800.0
    assert s["by_guard"]["probe"] == {"n": 3, "p50_ms": 790.0, "p95_ms": 790.0}
    assert s["by_guard"]["classifier"]["n"] == 15 and s["per_answer"]["p50_ms"] == 840.0
    assert cost.summary([[], []]) is None
