"""Choosing contemplate's stopping rule and auto's thresholds on recorded runs, without fooling ourselves.

Replays a grid of stopping rules (`ponder.evals.replay`) and auto thresholds over a results file
that holds `instant`, `thinking` and a full-trace contemplate run. The grid is searched on the even
items and the pick is reported on the odd ones, so the figure printed for the chosen rule is not
the best of many tries on the same items. Prints both halves and writes `bench/results/sweep.json`.

`--agents 4 8` sweeps each number of agents apart, on the first k agents of a run that recorded
more: the target compares early stopping with plain majority vote over *the same number* of agents,
so each k has its own baseline (the vote over those k, and their tokens) and its own pick.

Run: `python -m bench.contemplate_sweep ~/evalrun/gsm8k-1.5b/results.jsonl [--agents 4 8]`
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
from pathlib import Path
from typing import Any

from ponder.evals.replay import replay_auto, replay_contemplate
from ponder.evals.report import majority
from ponder.evals.runner import Result, Setting, Store, contemplation

RESULTS = Path(__file__).parent / "results"
GRID: dict[str, list[Any]] = {
    "stop_ratio": [0.5, 0.6, 0.7, 0.8],
    "warmup": [32, 64],
    "consensus": [2, 3],
    "concurrency": [2, 4],
}
# thinking_above == instant_above skips thinking (straight to contemplate); 0.0 never contemplates.
AUTO = sorted({(a, b) for a in (0.8, 0.85, 0.9, 0.95) for b in (0.0, 0.7, 0.8, 0.85, a) if b <= a})


def figures(rows: list[Result]) -> dict[str, float]:
    return {
        "items": len(rows),
        "accuracy": statistics.fmean(r.correct for r in rows) if rows else 0.0,
        "tokens": statistics.fmean(r.completion_tokens for r in rows) if rows else 0.0,
        # Items whose replay ended without a vote: they keep the full run's answer (a replay cannot synthesise).
        "kept_full_answer": sum(1 for r in rows if (r.ponder or {}).get("synthesised")),
    }


def first(rows: list[Result], k: int) -> list[Result]:
    """The full-trace rows as if the run had had only its first k agents (each agent's tokens are its own)."""
    out = []
    for r in rows:
        report = contemplation(r.ponder)
        agents = report["agents"][:k]
        spent = sum(int(a["tokens"]) for a in agents)
        extra = r.completion_tokens - int(report.get("tokens") or 0)
        out.append(
            dataclasses.replace(
                r, ponder={**report, "agents": agents, "tokens": spent}, completion_tokens=spent + extra
            )
        )
    return out


def setting(name: str, options: dict[str, Any]) -> Setting:
    text = ",".join(f"{k}={v}" for k, v in options.items())
    return Setting(f"{name}:{text}" if text else name, name, options=tuple(options.items()))


def sweep(full: dict[str, list[Result]], instant: dict[str, list[Result]], thinking: dict[str, list[Result]],
          k: int) -> dict[str, Any]:  # fmt: skip
    """Search the grid for k agents on the search half; report the pick on both halves."""
    grid = {**GRID, "concurrency": sorted({c for c in (*GRID["concurrency"], k) if c <= k})}
    out: dict[str, Any] = {"agents": k}
    for half, rows in full.items():
        out[half] = {
            "instant": figures(instant[half]),
            "thinking": figures(thinking[half]),
            "majority_vote": {**figures(rows), "accuracy": (majority(rows) or {}).get("accuracy", 0.0)},
        }
    # Search: the rule with the fewest tokens whose accuracy is at least majority vote's on the search half.
    tried = []
    for values in itertools.product(*grid.values()):
        options = {"agents": k, **dict(zip(grid, values, strict=True))}
        tried.append((options, figures(replay_contemplate(full["search"], setting("contemplate", options)))))
    floor = out["search"]["majority_vote"]["accuracy"]
    fit = [t for t in tried if t[1]["accuracy"] >= floor] or tried
    best, _ = min(fit, key=lambda t: (t[1]["tokens"], -t[1]["accuracy"]))
    out["contemplate_rule"] = best
    contemplated = {h: replay_contemplate(rows, setting("contemplate", best)) for h, rows in full.items()}
    for half in full:
        out[half]["contemplate"] = figures(contemplated[half])
        vote = out[half]["majority_vote"]["tokens"]
        out[half]["contemplate"]["of_majority_vote_tokens"] = out[half]["contemplate"]["tokens"] / vote if vote else 0
    # Auto: thresholds with the fewest tokens within 1 point of the chosen contemplate rule, on the search half.
    auto_tried = []
    for a, b in AUTO:
        s = setting("auto", {"instant_above": a, "thinking_above": b})
        auto_tried.append(
            ((a, b), figures(replay_auto(instant["search"], thinking["search"], contemplated["search"], s)))
        )
    target = out["search"]["contemplate"]["accuracy"] - 0.01
    ok = [t for t in auto_tried if t[1]["accuracy"] >= target] or auto_tried
    (a, b), _ = min(ok, key=lambda t: (t[1]["tokens"], -t[1]["accuracy"]))
    out["auto_thresholds"] = {"instant_above": a, "thinking_above": b}
    for half in full:
        s = setting("auto", out["auto_thresholds"])
        out[half]["auto"] = figures(replay_auto(instant[half], thinking[half], contemplated[half], s))
    out["grid"], out["auto_grid"] = tried, auto_tried
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--full", default="contemplate:early_stop=false,record=true")
    parser.add_argument("--agents", type=int, nargs="*", help="numbers of agents to sweep (default: all recorded)")
    parser.add_argument("--out", type=Path, default=RESULTS / "sweep.json")
    args = parser.parse_args()
    rows = Store(args.results).results
    by_setting: dict[str, dict[str, Result]] = {}
    for r in rows:
        by_setting.setdefault(r.setting, {})[r.item] = r
    wanted = ("instant", "thinking", args.full)
    common = set.intersection(*(set(by_setting.get(name, {})) for name in wanted))
    items = [i for i in dict.fromkeys(r.item for r in rows) if i in common]
    halves = {"search": items[0::2], "check": items[1::2]}

    def pick(name: str) -> dict[str, list[Result]]:
        return {half: [by_setting[name][i] for i in ids] for half, ids in halves.items()}

    full = pick(args.full)
    recorded = min(len(contemplation(r.ponder).get("agents") or []) for r in full["search"] + full["check"])
    out: dict[str, Any] = {"items": len(items), "sweeps": []}
    for k in args.agents or [recorded]:
        done = sweep({h: first(v, k) for h, v in full.items()}, pick("instant"), pick("thinking"), k)
        out["sweeps"].append(done)
        print(f"\n=== {k} agents: chosen stopping rule {done['contemplate_rule']}, auto {done['auto_thresholds']}")
        for half in halves:
            print(f"{half} half ({len(halves[half])} items)")
            for name, f in done[half].items():
                kept = f" (kept the full run's answer on {f['kept_full_answer']})" if f["kept_full_answer"] else ""
                ratio = f"  ({f['of_majority_vote_tokens']:.2f}x the vote's)" if "of_majority_vote_tokens" in f else ""
                print(
                    f"  {name:14s} accuracy {f['accuracy'] * 100:5.1f}%  tokens/answer {f['tokens']:6.0f}{ratio}{kept}"
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
