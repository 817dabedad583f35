"""Replaying stopping rules and routing on recorded runs, so one run of full traces answers many settings.

Evaluating contemplate on a 1.5B model takes about half a minute per question on two cores. Tuning its
early stopping (warm-up, window, ratio, floor, consensus, how many agents decode at once) and auto's
thresholds by running every variant would take days. An agent's tokens do not depend on the other
agents (each has its own seed and sampler), so a run without early stopping that records every
token's confidence (`contemplate:early_stop=false,record=true`) holds everything a stopping rule can
see. `contemplate` walks those traces step by step, one token per agent per batched decode step as
the engine does, through the very functions the live mode uses (`unsure`, `agreed`, `tally`).
`auto` combines recorded instant, thinking and contemplate results by auto's own routing rule.

What a replay cannot do is generate: an agent stopped early simply has no answer, and an item whose
agents all end without a votable answer (where the live mode would write a synthesis) keeps the full
run's answer. Replayed rows are named `… (replayed)` so a report never passes them off as live runs;
`ponder eval … --modes contemplate` on a few items checks that replay and live agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ponder.config import AutoSettings, ContemplateSettings
from ponder.errors import BadRequest
from ponder.evals.runner import Result, Setting, contemplation
from ponder.modes.contemplate import APPROACHES, Agent, agreed, provenance, tally, unsure
from ponder.reasoning.answers import NONE, classify
from ponder.reasoning.confidence import Tracker

SUFFIX = " (replayed)"


@dataclass(frozen=True)
class Replayed:
    """One item under a replayed stopping rule: the report a live run would have made, and its cost."""

    report: dict[str, Any]
    answer: str | None
    tokens: int
    steps: int
    """Batched decode steps until the last agent finished: wall time, in the engine's unit."""
    synthesised: bool


def recorded(result: Result) -> list[dict[str, Any]] | None:
    """The agents of a full-trace contemplate result, or None when the run did not record traces."""
    agents = contemplation(result.ponder).get("agents")
    if not agents or any("trace" not in a or a.get("stopped_early") for a in agents):
        return None
    return list(agents)


def contemplate(agents: Sequence[dict[str, Any]], opts: ContemplateSettings) -> Replayed:
    """Walk recorded agents through `opts`' stopping rules, exactly as `ContemplateMode` applies them."""
    if opts.agents > len(agents):
        raise BadRequest(f"the recorded run has {len(agents)} agents; cannot replay {opts.agents}")
    live = [
        Agent(i, APPROACHES[i % len(APPROACHES)], Tracker(window=opts.window, tail_size=2 * opts.window))
        for i in range(opts.agents)
    ]
    traces = [agents[i]["trace"] for i in range(opts.agents)]
    pending = list(range(opts.agents))
    running = [pending.pop(0) for _ in range(min(opts.concurrency or opts.agents, opts.agents))]
    stop_all, step = False, 0

    def finish(i: int) -> None:
        nonlocal stop_all
        live[i].done = True
        if opts.early_stop and not stop_all and agreed(live, opts):
            stop_all = True
        if pending and not stop_all:
            running.append(pending.pop(0))

    while running:
        step += 1
        for i in list(running):
            me, trace = live[i], traces[i]
            if me.tracker.n < len(trace["confidence"]):
                me.tracker.add_value(trace["confidence"][me.tracker.n], trace["logprob"][me.tracker.n])
                me.tokens += 1
            if me.tracker.n >= len(trace["confidence"]):  # it finished, with its recorded answer and forced tail
                me.tokens = int(agents[i]["tokens"])
                me.answer = classify(agents[i]["answer"]) if agents[i].get("answer") else NONE
            elif stop_all:
                me.stopped = "consensus"
            elif opts.early_stop and unsure(me, live, opts):
                me.stopped = "low_confidence"
            else:
                continue
            running.remove(i)
            finish(i)
    for i in pending:  # never started: consensus came first
        live[i].stopped, live[i].done = "consensus", True
    vote = tally(live)
    report = provenance(live, vote, opts)
    answer = vote.winner.answer.shown if vote.winner else None
    return Replayed(report, answer, int(report["tokens"]), step, vote.winner is None)


def _correct(answer: str | None, gold: str) -> bool:
    return answer is not None and classify(answer).key == classify(gold).key


def replay_contemplate(results: Sequence[Result], setting: Setting) -> list[Result]:
    """Replayed rows for `setting` (a contemplate setting) from every recorded full-trace result."""
    opts = ContemplateSettings.model_validate(dict(setting.options))
    rows: list[Result] = []
    for r in results:
        agents = recorded(r)
        if agents is None:
            continue
        out = contemplate(agents, opts)
        full = contemplation(r.ponder)
        steps_full = max(len(a["trace"]["confidence"]) for a in agents) or 1
        correct = r.correct if out.synthesised else _correct(out.answer, r.gold)
        rows.append(
            replace(
                r,
                setting=setting.name + SUFFIX,
                correct=correct,
                answer=r.answer if out.synthesised else out.answer or "",
                completion_tokens=r.completion_tokens - int(full.get("tokens") or 0) + out.tokens,
                reasoning_tokens=out.tokens,
                # The full run's wall time, scaled by the decode steps the rule needed.
                latency_s=round(r.latency_s * out.steps / steps_full, 3),
                confidence=out.report["confidence"],
                ponder={**out.report, "synthesised": out.synthesised, "steps": out.steps},
                text="",
            )
        )
    return rows


def replay_auto(
    instant: Sequence[Result], thinking: Sequence[Result], contemplated: Sequence[Result], setting: Setting
) -> list[Result]:
    """Auto mode's choice per item, from recorded instant (with token confidence), thinking and contemplate."""
    opts = AutoSettings.model_validate({k: v for k, v in setting.options if k in AutoSettings.model_fields})
    by_item = {
        name: {r.item: r for r in rows} for name, rows in (("thinking", thinking), ("contemplate", contemplated))
    }
    rows: list[Result] = []
    for probe in instant:
        if probe.token_confidence is None:
            continue
        p = probe.token_confidence
        chose = "instant" if p >= opts.instant_above else "thinking" if p >= opts.thinking_above else "contemplate"
        if chose == "instant":
            rows.append(replace(probe, setting=setting.name + SUFFIX, ponder={"chose": chose}))
            continue
        picked = by_item[chose].get(probe.item)
        if picked is None:
            continue
        rows.append(
            replace(
                picked,
                setting=setting.name + SUFFIX,
                completion_tokens=picked.completion_tokens + probe.completion_tokens,
                reasoning_tokens=picked.reasoning_tokens + probe.completion_tokens,
                latency_s=round(picked.latency_s + probe.latency_s, 3),
                ponder={"chose": chose, "contemplate": contemplation(picked.ponder)}
                if chose == "contemplate"
                else {"chose": chose},
            )
        )
    return rows


def replayed(results: Sequence[Result], wanted: Sequence[Setting]) -> list[Result]:
    """Rows for each wanted `contemplate…` or `auto…` setting, replayed from the recorded results."""
    full = [r for r in results if recorded(r) is not None]
    rows: list[Result] = []
    for setting in wanted:
        if setting.mode not in ("contemplate", "auto"):
            raise BadRequest(f"only contemplate and auto settings can be replayed, not {setting.name!r}")
        if not full:
            raise BadRequest("nothing to replay: run a setting like contemplate:early_stop=false,record=true first")
        if setting.mode == "contemplate":
            rows += replay_contemplate(full, setting)
            continue
        own = tuple((k, v) for k, v in setting.options if k in ContemplateSettings.model_fields)
        contemplated = replay_contemplate(full, Setting("contemplate", "contemplate", options=own))
        instant = [r for r in results if r.setting == "instant"]
        thinking = [r for r in results if r.setting == "thinking"]
        rows += replay_auto(instant, thinking, contemplated, setting)
    return rows
