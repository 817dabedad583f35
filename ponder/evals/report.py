"""Per-setting figures from `results.jsonl`: accuracy with a 95% interval, tokens, latency, calibration.

Written as JSON and Markdown, and as a PNG of accuracy against tokens per answer (one point per
setting) that a person would put on a slide.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from ponder.config import ReasoningSettings
from ponder.evals.calibration import calibration_error, refit
from ponder.evals.runner import Result, contemplation, parse_setting
from ponder.reasoning.answers import classify


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def majority(results: list[Result]) -> dict[str, Any] | None:
    """Plain (unweighted) majority vote over each item's agents, from a run that kept them all."""
    rows = [r for r in results if contemplation(r.ponder).get("agents")]
    if not rows or any(a.get("stopped_early") for r in rows for a in contemplation(r.ponder)["agents"]):
        return None  # only a run whose agents all finished is a fair baseline
    correct, pairs, agreeing = 0, 0, 0
    alone: dict[int, list[bool]] = defaultdict(list)
    for r in rows:
        gold = classify(r.gold).key
        answers = [classify(a["answer"]).key if a.get("answer") else None for a in contemplation(r.ponder)["agents"]]
        keys = Counter(k for k in answers if k is not None)
        if keys:
            correct += keys.most_common(1)[0][0] == gold
        for i, k in enumerate(answers):
            alone[i].append(k == gold)
            for other in answers[i + 1 :]:
                pairs += 1
                agreeing += k is not None and k == other
    # How good each agent is alone, and how often two agents agree: what a vote, and a consensus stop, have
    # to work with (a diverse but weak agent adds disagreement, not information).
    return {
        "items": len(rows),
        "accuracy": correct / len(rows),
        "each_agent_alone": [statistics.fmean(alone[i]) for i in sorted(alone)],
        "pairs_agreeing": agreeing / pairs if pairs else None,
    }


def summarise(results: list[Result]) -> dict[str, Any]:
    by: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by[r.setting].append(r)
    out: dict[str, Any] = {}
    for setting, rows in by.items():
        n, ok = len(rows), sum(r.correct for r in rows)
        tokens = [r.completion_tokens for r in rows]
        lat = [r.latency_s for r in rows]
        low, high = wilson(ok, n)
        entry: dict[str, Any] = {
            "items": n,
            "accuracy": ok / n,
            "ci95": [low, high],
            "tokens_per_answer": statistics.fmean(tokens),
            "tokens_per_correct": sum(tokens) / ok if ok else None,
            "latency_p50_s": _percentile(lat, 0.5),
            "latency_p95_s": _percentile(lat, 0.95),
        }
        confs = [(r.confidence, r.correct) for r in rows if r.confidence is not None]
        if confs:
            entry["calibration_error"] = calibration_error(confs)
        if (fitted := refit(rows)) is not None:
            entry["calibration_fit"] = fitted
        reports = [contemplation(r.ponder) for r in rows]
        budgets = [(int(p["token_budget"]), int(p.get("tokens") or 0)) for p in reports if p.get("token_budget")]
        if budgets:
            entry["stopped_agents_per_item"] = statistics.fmean(int(p.get("stopped_early") or 0) for p in reports)
            entry["tokens_saved_vs_full_budget"] = 1 - sum(t for _, t in budgets) / sum(b for b, _ in budgets)
        # A replay's decode steps (a count); agent mode's `steps` is its list of tool calls.
        steps = [p["steps"] for p in reports if isinstance(p.get("steps"), int) and p["steps"]]
        if steps:
            entry["decode_steps_per_item"] = statistics.fmean(steps)
        calls = [len(p["steps"]) for p in (r.ponder or {} for r in rows) if isinstance(p.get("steps"), list)]
        if calls:
            entry["tool_calls_per_item"] = statistics.fmean(calls)
        if (budget := _budget(setting)) is not None:
            # How often the budget, not the model, ended the trace: a budget that never binds is no budget.
            entry["thinking_at_budget"] = statistics.fmean(r.reasoning_tokens >= budget for r in rows)
        chose = Counter(str((r.ponder or {}).get("chose")) for r in rows if (r.ponder or {}).get("chose"))
        if chose:
            entry["auto_chose"] = dict(chose)
        elif (baseline := majority(rows)) is not None:  # auto's escalated rows are no baseline of their own
            entry["plain_majority_vote"] = baseline
        out[setting] = entry
    return out


def markdown(summary: dict[str, Any], title: str) -> str:
    lines = [
        f"# {title}",
        "",
        "| setting | items | accuracy (95% CI) | tokens/answer | tokens/correct | latency p50 / p95 | calib. error |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        per_correct = f"{s['tokens_per_correct']:.0f}" if s["tokens_per_correct"] else "–"
        ece = f"{s['calibration_error']:.3f}" if s.get("calibration_error") is not None else "–"
        acc = f"{s['accuracy'] * 100:.1f}% ({s['ci95'][0] * 100:.1f}–{s['ci95'][1] * 100:.1f})"
        latency = f"{s['latency_p50_s']:.1f}s / {s['latency_p95_s']:.1f}s"
        lines.append(
            f"| {name} | {s['items']} | {acc} | {s['tokens_per_answer']:.0f} | {per_correct} | {latency} | {ece} |"
        )
    extras = [(n, s) for n, s in summary.items() if "tokens_saved_vs_full_budget" in s or "plain_majority_vote" in s]
    for name, s in extras:
        lines.append("")
        if "tokens_saved_vs_full_budget" in s:
            used = max(0.0, 1 - s["tokens_saved_vs_full_budget"])
            lines.append(
                f"- {name}: agents used {used * 100:.0f}% of their token budget "
                f"({s['stopped_agents_per_item']:.1f} stopped early per item)"
            )
        if "plain_majority_vote" in s:
            vote = s["plain_majority_vote"]
            lines.append(f"- {name}: plain majority vote over the same agents: {vote['accuracy'] * 100:.1f}%")
            if vote.get("each_agent_alone"):
                each = ", ".join(f"{a * 100:.1f}%" for a in vote["each_agent_alone"])
                lines.append(
                    f"- {name}: each agent alone: {each}; two agents agree on {vote['pairs_agreeing'] * 100:.0f}% "
                    "of pairs"
                )
    if against := targets(summary):
        lines += ["", "Against the targets:", *(f"- {line}" for line in against)]
    return "\n".join(lines) + "\n"


def _early(summary: dict[str, Any]) -> str | None:
    """The contemplate setting with early stopping that the targets judge: live, else replayed."""
    return next((n for n in ("contemplate", "contemplate (replayed)") if n in summary), None)


def targets(summary: dict[str, Any]) -> list[str]:
    """The issue's comparisons, where the report holds the settings they compare."""
    lines: list[str] = []
    full = next((n for n, s in summary.items() if "plain_majority_vote" in s), None)
    early = _early(summary)
    auto = next((n for n in ("auto", "auto (replayed)") if n in summary), None)
    think = summary.get("thinking")

    def points(a: str, b: dict[str, Any]) -> float:
        return float(summary[a]["accuracy"] - b["accuracy"]) * 100

    if think and early:
        lines.append(f"{early} − thinking accuracy: {points(early, think):+.1f} points (target ≥ +5)")
    if full and early:
        ratio = summary[early]["tokens_per_answer"] / summary[full]["tokens_per_answer"]
        delta = (summary[early]["accuracy"] - summary[full]["plain_majority_vote"]["accuracy"]) * 100
        lines.append(
            f"{early} tokens / plain majority vote's ({full}): {ratio:.2f} (target ≤ 0.50), "
            f"accuracy {delta:+.1f} points (target ≥ 0)"
        )
    if think and (early or full):
        name = early or full or ""
        ratio = summary[name]["latency_p50_s"] / think["latency_p50_s"]
        lines.append(f"{name} p50 wall time / thinking's: {ratio:.2f} (target ≤ 2.5)")
    lines += _budget_targets(summary)
    if auto and early:
        ratio = summary[auto]["tokens_per_answer"] / summary[early]["tokens_per_answer"]
        lines.append(
            f"{auto} − {early} accuracy: {points(auto, summary[early]):+.1f} points (target ≥ −1), "
            f"tokens {ratio:.2f} of it (target ≤ 0.40)"
        )
    if early and (bound := summary[early].get("perfect_router")):
        lines.append(
            f"the least any router probing with instant spends to come within 1 point of {early} "
            f"(an oracle escalating only what instant gets wrong and contemplate right): "
            f"{bound['tokens_vs_contemplate']:.2f} of its tokens, at {bound['accuracy'] * 100:.1f}%"
        )
    return lines


def _budget(name: str) -> int | None:
    """The thinking budget a setting runs with (`thinking:budget=256`, `thinking:effort=high`), None
    for any other mode."""
    if name != "thinking" and not name.startswith("thinking:"):
        return None  # replayed and other modes' names need not parse as settings
    setting = parse_setting(name)
    reasoning = ReasoningSettings()
    return setting.thinking_budget or reasoning.budget(setting.reasoning_effort or reasoning.effort)


def _budget_targets(summary: dict[str, Any]) -> list[str]:
    """Each other thinking setting (a tighter budget, draft-style traces) against the loosest budget run
    with full traces: the unbudgeted chain of thought."""
    budgets = {n: b for n in summary if (b := _budget(n)) is not None and summary[n]["tokens_per_correct"]}
    full = {n: b for n, b in budgets.items() if dict(parse_setting(n).options).get("style") != "draft"}
    if len(budgets) < 2 or not full:
        return []
    loose = max(full, key=lambda n: full[n])
    lines = []
    for name in sorted(set(budgets) - {loose}, key=lambda n: budgets[n]):
        ratio = summary[name]["tokens_per_correct"] / summary[loose]["tokens_per_correct"]
        delta = (summary[name]["accuracy"] - summary[loose]["accuracy"]) * 100
        lines.append(
            f"{name} tokens per correct answer / {loose}'s: {ratio:.2f} (target ≤ 0.60), "
            f"accuracy {delta:+.1f} points (target ≥ 0)"
        )
    return lines


def plot(summary: dict[str, Any], path: Path, title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=150)
    for name, s in summary.items():
        acc = s["accuracy"] * 100
        err = [[acc - s["ci95"][0] * 100], [s["ci95"][1] * 100 - acc]]
        ax.errorbar(s["tokens_per_answer"], acc, yerr=err, fmt="o", capsize=4, markersize=7, label=name)
    ax.set_xlabel("generated tokens per answer")
    ax.set_ylabel("accuracy (%, 95% CI)")
    ax.set_ylim(0, 100)
    ax.set_xlim(left=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize=8, ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def router_bound(results: list[Result], contemplated: str, slack: float = 0.01) -> dict[str, Any] | None:
    """The fewest tokens any router that probes with instant (as auto does) needs to come within
    `slack` of `contemplated`'s accuracy: an oracle that keeps every instant answer and escalates only
    items instant gets wrong and contemplate gets right, the cheapest first. When even this misses
    auto's token target, the target is out of reach for this model on these items."""
    instant = {r.item: r for r in results if r.setting == "instant"}
    rows = [(instant[r.item], r) for r in results if r.setting == contemplated and r.item in instant]
    if not rows:
        return None
    n = len(rows)
    goal = sum(c.correct for _, c in rows) / n - slack
    tokens = sum(i.completion_tokens for i, _ in rows)
    right = sum(i.correct for i, _ in rows)
    for _, c in sorted(((i, c) for i, c in rows if c.correct and not i.correct), key=lambda p: p[1].completion_tokens):
        if right / n >= goal:
            break
        right += 1
        tokens += c.completion_tokens
    return {
        "items": n,
        "accuracy": right / n,
        "reaches": right / n >= goal,
        "tokens_vs_contemplate": tokens / max(1, sum(c.completion_tokens for _, c in rows)),
    }


def write(results: list[Result], out_dir: Path, title: str) -> dict[str, Any]:
    summary = summarise(results)
    early = _early(summary)
    if early and (bound := router_bound(results, early)) is not None:
        summary[early]["perfect_router"] = bound
    (out_dir / "report.json").write_text(json.dumps(summary, indent=2))
    (out_dir / "report.md").write_text(markdown(summary, title))
    plot(summary, out_dir / "accuracy_vs_tokens.png", title)
    return summary
