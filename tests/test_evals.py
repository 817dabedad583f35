"""The evaluation harness: settings, grading, statistics, resumable runs, and one real run end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ponder.errors import BadRequest
from ponder.evals import calibration, datasets, report
from ponder.evals.datasets import Item
from ponder.evals.graders import grade
from ponder.evals.runner import LocalTarget, Response, Result, Setting, Store, parse_settings, regraded, run
from tests.conftest import fake_settings

NUM = Item("1", "How many?", "1234", "number")
MC = Item("2", "Which?", "C", "choice", "ABCDE")


def test_settings_parse() -> None:
    s = parse_settings("instant, thinking:budget=256,effort=low, contemplate:agents=4,early_stop=false,auto")
    assert [x.mode for x in s] == ["instant", "thinking", "contemplate", "auto"]
    assert (s[1].thinking_budget, s[1].reasoning_effort) == (256, "low")
    assert dict(s[2].options) == {"agents": 4, "early_stop": False}
    assert s[2].name == "contemplate:agents=4,early_stop=false"
    with pytest.raises(BadRequest):
        parse_settings(" , ")


@pytest.mark.parametrize(
    ("item", "text", "ok"),
    [
        (NUM, "So she pays $1,234.00 in total.\nThe answer is 1,234.", True),
        (NUM, "The answer is 1234.5", False),
        (NUM, "\\boxed{1234}", True),
        (NUM, "I am not sure.", False),
        (MC, "The answer is (C).", True),
        (MC, "C. Hypertension", True),
        (MC, "The answer is B.", False),
        (Item("m", "q", "\\frac{1}{2}", "math"), "So the answer is $\\boxed{0.5}$.", True),
        (Item("m", "q", "\\left( 3, \\frac{\\pi}{2} \\right)", "math"), "$\\boxed{(3, \\pi/2)}$", True),
        (Item("m", "q", "\\frac{1}{2}", "math"), "\\boxed{\\frac{1}{3}}", False),
    ],
)
def test_grading(item: Item, text: str, ok: bool) -> None:
    assert grade(item, text)[0] is ok


SPEED = Item("ms-05", "65 mph in metres per second? Round to 2 decimal places.", "29.06", "number", decimals=2)
DAYS = Item("ms-08", "How many days are there from 14 March 2023 to 2 November 2025?", "964", "number")


@pytest.mark.parametrize(
    ("item", "text", "ok"),
    [
        (DAYS, "There are 964 days between the dates.", True),
        (DAYS, "There are 965 days between 14 March 2023 and 2 November 2025.", False),
        (SPEED, "The final speed is 29.06 m/s (rounded).", True),
        (SPEED, "65 mph is 29.0576 m/s.", True),  # more digits than asked: rounds to the gold
        (SPEED, "65 mph is about 29.1 m/s.", False),  # fewer: it does not
        (SPEED, "65 mph is 29.05 m/s.", False),
        (Item("k", "Energy in kJ? Round to 2 decimal places.", "375.00", "number", decimals=2), "It is 375 kJ.", True),
        (Item("t", "How many whole tiles (round up in each direction)?", "234", "number"), "About 233.7 tiles.", False),
    ],
)
def test_grading_prose_and_precision(item: Item, text: str, ok: bool) -> None:
    assert grade(item, text)[0] is ok


def test_multistep_items_state_the_precision_they_are_graded_at() -> None:
    """`decimals` is set exactly where the question asks for rounding, and the gold has that many places."""
    asks = re.compile(r"round(?:ed)? to (\d+) decimal places|round to the (cent)|round to the nearest (whole)", re.I)
    items = datasets.multistep()
    assert len(items) == 30
    for item in items:
        m = asks.search(item.question)
        stated = None if m is None else int(m.group(1)) if m.group(1) else 2 if m.group(2) else 0
        assert item.decimals == stated, item.id
        places = len(item.answer.partition(".")[2])
        assert places == (item.decimals or 0), item.id


def test_report_grades_again_from_the_stored_text() -> None:
    stale = Result("agent", DAYS.id, False, "", DAYS.answer, 20, 0, 1.0, None, None, "There are 964 days.")
    (again,) = regraded([stale], [DAYS])
    assert again.correct and again.answer == "There are 964 days"


def result(setting: str, correct: bool, spent: int, confidence: float | None = None, **ponder: object) -> Result:
    return Result(setting, "x", correct, "", "42", spent, 0, 1.0, confidence, dict(ponder) or None, "")


def test_statistics() -> None:
    assert report.wilson(0, 10)[0] == 0 and 0.4 < report.wilson(50, 100)[0] < 0.5 < report.wilson(50, 100)[1] < 0.6
    assert calibration.calibration_error([(0.9, True)] * 9 + [(0.9, False)]) == pytest.approx(0.0, abs=1e-9)
    assert calibration.calibration_error([(0.9, False)] * 10) == pytest.approx(0.9)
    agents = [{"answer": "42"}, {"answer": "41"}, {"answer": "The answer is 42"}]
    rows = [
        result("c", True, 300, 0.8, agents=agents, tokens=300, token_budget=400, stopped_early=1),
        result("c", False, 100, 0.4, agents=[{"answer": "7"}], tokens=100, token_budget=400, stopped_early=2),
        result("i", True, 50),
    ]
    s = report.summarise(rows)
    assert s["c"]["accuracy"] == 0.5 and s["c"]["tokens_per_correct"] == 400 and s["i"]["tokens_per_answer"] == 50
    assert s["c"]["tokens_saved_vs_full_budget"] == pytest.approx(0.5)
    vote = s["c"]["plain_majority_vote"]
    assert (vote["items"], vote["accuracy"]) == (2, 0.5)
    assert vote["each_agent_alone"] == [0.5, 0.0, 1.0]  # the first agent is right once in two items
    assert vote["pairs_agreeing"] == pytest.approx(1 / 3)  # 42 and "The answer is 42" agree; 41 agrees with neither
    text = report.markdown(s, "t")
    assert "| c | 2 | 50.0%" in text and "each agent alone: 50.0%, 0.0%, 100.0%; two agents agree on 33%" in text


def test_agent_rows_report_their_tool_calls() -> None:
    calls = [{"tool": "calculator"}, {"tool": "python"}]
    s = report.summarise([result("agent", True, 90, mode="agent", steps=calls), result("agent", False, 30, steps=[])])
    assert s["agent"]["tool_calls_per_item"] == 1.0 and "decode_steps_per_item" not in s["agent"]


def test_a_tighter_thinking_budget_is_compared_with_the_loosest() -> None:
    def thought(setting: str, correct: bool, spent: int, reasoning: int) -> Result:
        return Result(setting, "x", correct, "", "42", spent, reasoning, 1.0, None, None, "")

    loose, tight = "thinking:budget=2048", "thinking:budget=128"
    rows = [thought(loose, True, 600, 560), thought(loose, True, 400, 360), thought(loose, False, 500, 470)]
    rows += [thought(tight, True, 150, 128), thought(tight, True, 140, 100), thought(tight, False, 160, 128)]
    rows += [thought("thinking", True, 300, 512)]  # the default budget: medium effort's 512
    s = report.summarise(rows)
    assert s[tight]["thinking_at_budget"] == pytest.approx(2 / 3) and s["thinking"]["thinking_at_budget"] == 1.0
    lines = [line for line in report.targets(s) if "tokens per correct" in line]
    assert len(lines) == 2 and all(f"/ {loose}'s" in line for line in lines)
    assert lines[0].startswith(f"{tight} tokens per correct answer / {loose}'s: 0.30")  # (450 / 2) / (1500 / 2)
    assert "accuracy +0.0 points" in lines[0]


def test_draft_traces_are_compared_with_full_ones_not_taken_for_the_baseline() -> None:
    def thought(setting: str, spent: int) -> Result:
        return Result(setting, "x", True, "", "42", spent, spent - 40, 1.0, None, None, "")

    s = report.summarise([thought("thinking", 400), thought("thinking:style=draft,budget=2048", 120)])
    (line,) = [line for line in report.targets(s) if "tokens per correct" in line]
    assert line.startswith("thinking:style=draft,budget=2048 tokens per correct answer / thinking's: 0.30")


def test_the_perfect_router_escalates_only_what_contemplate_rights_cheapest_first() -> None:
    def row(setting: str, item: str, correct: bool, tokens: int) -> Result:
        return Result(setting, item, correct, "", "42", tokens, 0, 1.0, None, None, "")

    # instant right on a; contemplate rights b (300 tokens) and c (900); neither gets d.
    rows = [row("instant", k, k == "a", 100) for k in "abcd"]
    rows += [row("contemplate", k, ok, t) for k, ok, t in (("a", True, 400), ("b", True, 300), ("c", True, 900))]
    rows += [row("contemplate", "d", False, 400)]
    bound = report.router_bound(rows, "contemplate", slack=0.0)
    assert bound is not None and bound["reaches"] and bound["accuracy"] == 0.75
    assert bound["tokens_vs_contemplate"] == pytest.approx((400 + 300 + 900) / 2000)
    looser = report.router_bound(rows, "contemplate", slack=0.25)  # one escalation is enough: the cheap one
    assert looser is not None and looser["tokens_vs_contemplate"] == pytest.approx((400 + 300) / 2000)
    assert report.router_bound(rows, "thinking") is None


async def test_runs_resume_where_they_stopped(tmp_path: Path) -> None:
    settings = fake_settings(tmp_path, scripts=["The answer is 1234.", "The answer is 9.", "The answer is (C)."])
    target = LocalTarget(settings, max_tokens=32, temperature=0.0)
    store = Store(tmp_path / "r" / "results.jsonl")
    await run(target, parse_settings("instant"), [NUM, Item("9", "q", "8", "number"), MC], store)
    assert [r.correct for r in store.results] == [True, False, True]
    assert all(r.token_confidence == pytest.approx(0.7788, abs=1e-3) for r in store.results)  # the fake's -0.25
    again = Store(tmp_path / "r" / "results.jsonl")
    await run(target, parse_settings("instant"), [NUM, MC], again)  # nothing new to run
    assert len(again.results) == 3 and len((tmp_path / "r" / "results.jsonl").read_text().splitlines()) == 3
    summary = report.write(again.results, tmp_path / "r", "toy")
    assert summary["instant"]["accuracy"] == pytest.approx(2 / 3)
    assert (tmp_path / "r" / "accuracy_vs_tokens.png").stat().st_size > 10_000
    await target.aclose()


async def test_shards_together_answer_what_one_run_does(tmp_path: Path) -> None:
    items = [Item(str(i), f"q{i}", "1", "number") for i in range(5)]
    settings = fake_settings(tmp_path, scripts=["The answer is 1."] * 5)
    target = LocalTarget(settings, max_tokens=8, temperature=0.0)
    seeds: list[tuple[str, int]] = []
    ask = target.ask

    async def spy(setting: Setting, item: Item, seed: int) -> Response:
        seeds.append((item.id, seed))
        return await ask(setting, item, seed)

    target.ask = spy  # type: ignore[method-assign]
    first = Store(tmp_path / "a" / "results.jsonl")
    second = Store(tmp_path / "b" / "results.jsonl")
    await run(target, parse_settings("instant"), items, first, shard=(0, 2))
    await run(target, parse_settings("instant"), items, second, shard=(1, 2))
    assert [r.item for r in first.results] == ["0", "2", "4"] and [r.item for r in second.results] == ["1", "3"]
    assert sorted(seeds) == [(str(i), i) for i in range(5)]  # each item keeps the seed of the whole run
    await target.aclose()


def test_a_bad_shard_is_a_one_line_error(tmp_path: Path) -> None:
    from ponder.cli.main import cli

    result = CliRunner().invoke(cli, ["eval", "gsm8k", "--shard", "3/2", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "--shard takes K/N" in result.output
    result = CliRunner().invoke(cli, ["eval", "gsm8k", "--prompts", str(tmp_path / "p.jsonl"), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "--prompts is for `ponder eval safety`" in result.output


@pytest.mark.model
def test_ponder_eval_end_to_end(tmp_path: Path) -> None:
    from ponder.cli.main import cli

    full = "contemplate:agents=2,agent_budget=32,warmup=8,early_stop=false,record=true"
    args = ["eval", "gsm8k", "--limit", "2", "--modes", f"instant,{full}"]
    args += ["--model", "smollm2-135m", "--engine-context", "1024", "--max-tokens", "48", "--out", str(tmp_path)]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and {r["setting"] for r in rows} == {"instant", full}
    assert all(r["completion_tokens"] > 0 for r in rows)
    summary = json.loads((tmp_path / "report.json").read_text())
    assert summary[full]["items"] == 2 and "plain_majority_vote" in summary[full]
    replayed = CliRunner().invoke(cli, [*args, "--report-only", "--replay", "contemplate:agents=2,warmup=8"])
    assert replayed.exit_code == 0, replayed.output
    summary = json.loads((tmp_path / "report.json").read_text())
    again_rule = summary["contemplate:agents=2,warmup=8 (replayed)"]
    assert again_rule["items"] == 2 and again_rule["tokens_per_answer"] <= summary[full]["tokens_per_answer"]
    assert "| instant | 2 |" in (tmp_path / "report.md").read_text()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and len((tmp_path / "results.jsonl").read_text().splitlines()) == 4


def test_calibration_refit_learns_from_agreement_and_is_measured_out_of_fold() -> None:
    # Correctness follows agreement: 1 of 4 agents agreeing is right 1 time in 4, unanimity 4 times in 4.
    rows = []
    for i in range(200):
        share = (i % 4 + 1) / 4
        agents = [{"answer": "42", "confidence": 0.9}] + [{"answer": "7", "confidence": 0.5}] * 3
        ponder = {"answer": "42", "agreement": share, "agents": agents}
        ok = (i // 4) % 4 < share * 4
        rows.append(Result("c", str(i), ok, "42", "42", 10, 10, 1.0, None, ponder, ""))
    fitted = calibration.refit(rows)
    assert fitted is not None and fitted["items"] == 200
    assert fitted["weights"][0] > 2  # agreement carries the signal
    assert fitted["calibration_error_cross_validated"] < 0.1
    too_few = calibration.refit(rows[:5])
    assert too_few is None
