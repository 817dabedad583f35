"""Choosing contemplate's stopping rule and auto's thresholds on recorded runs, without fooling ourselves.

Replays a grid of stopping rules (`ponder.evals.replay`) and auto thresholds over a results file
that holds `instant`, `thinking` and a full-trace contemplate run. The grid is searched on the even
items and the pick is reported on the odd ones, so the figure printed for the chosen rule is not
the best of many tries on the same items. Prints both halves and writes `bench/results/sweep.json`.

Run: `python -m bench.contemplate_sweep ~/evalrun/gsm8k-1.5b/results.jsonl`
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
from pathlib import Path
from typing import Any

from ponder.evals.replay import replay_auto, replay_contemplate
from ponder.evals.report import majority
from ponder.evals.runner import Result, Setting, Store

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


def setting(name: str, options: dict[str, Any]) -> Setting:
    text = ",".join(f"{k}={v}" for k, v in options.items())
    return Setting(f"{name}:{text}" if text else name, name, options=tuple(options.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--full", default="contemplate:early_stop=false,record=true")
    args = parser.parse_args()
    rows = Store(args.results).results
    by_setting: dict[str, dict[str, Result]] = {}
    for r in rows:
        by_setting.setdefault(r.setting, {})[r.item] = r
    common = set.intersection(*(set(v) for v in by_setting.values()))
    items = [i for i in dict.fromkeys(r.item for r in rows) if i in common]
    halves = {"search": items[0::2], "check": items[1::2]}

    def pick(name: str, half: str) -> list[Result]:
        return [by_setting[name][i] for i in halves[half]]

    out: dict[str, Any] = {"items": len(items)}
    for half in halves:
        full = pick(args.full, half)
        out[half] = {
            "instant": figures(pick("instant", half)),
            "thinking": figures(pick("thinking", half)),
            "majority_vote": {**figures(full), "accuracy": (majority(full) or {}).get("accuracy", 0.0)},
        }
    # Search: the rule with the fewest tokens whose accuracy is at least majority vote's on the search half.
    tried = []
    for values in itertools.product(*GRID.values()):
        options = dict(zip(GRID, values, strict=True))
        s = setting("contemplate", options)
        tried.append((options, figures(replay_contemplate(pick(args.full, "search"), s))))
    floor = out["search"]["majority_vote"]["accuracy"]
    fit = [t for t in tried if t[1]["accuracy"] >= floor] or tried
    best, _ = min(fit, key=lambda t: (t[1]["tokens"], -t[1]["accuracy"]))
    out["contemplate_rule"] = best
    for half in halves:
        out[half]["contemplate"] = figures(replay_contemplate(pick(args.full, half), setting("contemplate", best)))
    # Auto: thresholds with the fewest tokens within 1 point of the chosen contemplate rule, on the search half.
    contemplated = {h: replay_contemplate(pick(args.full, h), setting("contemplate", best)) for h in halves}
    auto_tried = []
    for a, b in AUTO:
        s = setting("auto", {"instant_above": a, "thinking_above": b})
        rows_ = replay_auto(pick("instant", "search"), pick("thinking", "search"), contemplated["search"], s)
        auto_tried.append(((a, b), figures(rows_)))
    target = out["search"]["contemplate"]["accuracy"] - 0.01
    ok = [t for t in auto_tried if t[1]["accuracy"] >= target] or auto_tried
    (a, b), _ = min(ok, key=lambda t: (t[1]["tokens"], -t[1]["accuracy"]))
    out["auto_thresholds"] = {"instant_above": a, "thinking_above": b}
    for half in halves:
        s = setting("auto", out["auto_thresholds"])
        out[half]["auto"] = figures(replay_auto(pick("instant", half), pick("thinking", half), contemplated[half], s))
    for half in halves:
        print(f"\n{half} half ({len(halves[half])} items)")
        for name, f in out[half].items():
            kept = f" (kept the full run's answer on {f['kept_full_answer']})" if f["kept_full_answer"] else ""
            print(f"  {name:14s} accuracy {f['accuracy'] * 100:5.1f}%  tokens/answer {f['tokens']:6.0f}{kept}")
    print(f"\nchosen stopping rule: {best}\nchosen auto thresholds: {out['auto_thresholds']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sweep.json").write_text(json.dumps({**out, "grid": tried, "auto_grid": auto_tried}, indent=2))


if __name__ == "__main__":
    main()
