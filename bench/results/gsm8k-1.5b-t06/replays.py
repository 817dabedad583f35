"""The figures of replays.txt: one temperature (0.6) for 8 agents against the default spread of 4.

On the first 40 seeded GSM8K items, from a run that recorded 8 agents at temperature 0.6
(`contemplate:early_stop=false,record=true,agents=8,temperature=0.6`) beside the 200-item run's
rows for the same items: plain majority vote over the first k agents, and stopping rules replayed
on them (`ponder.evals.replay`). Run from the repository root: `PYTHONPATH=. python
bench/results/gsm8k-1.5b-t06/replays.py`. Latency is the full run's, scaled by decode steps.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.contemplate_sweep import figures, first, setting
from ponder.evals.replay import replay_contemplate
from ponder.evals.report import majority
from ponder.evals.runner import Result, Store

HERE = Path(__file__).parent
ONE = "contemplate:early_stop=false,record=true,agents=8,temperature=0.6"
SPREAD = "contemplate:early_stop=false,record=true"


def p50(rows: list[Result]) -> float:
    return statistics.median(r.latency_s for r in rows)


def main() -> None:
    by: dict[str, dict[str, Result]] = {}
    for r in Store(HERE / "results.jsonl").results:
        by.setdefault(r.setting, {})[r.item] = r
    items = [i for i in by[ONE] if i in by[SPREAD]]
    thinking = [by["thinking"][i] for i in items]
    print("n", len(items), "thinking", figures(thinking)["accuracy"], figures(thinking)["tokens"], "p50", p50(thinking))
    print("instant", figures([by["instant"][i] for i in items])["accuracy"])
    for name, full, k in (("spread4", SPREAD, 4), ("t06-4", ONE, 4), ("t06-8", ONE, 8)):
        rows = first([by[full][i] for i in items], k)
        vote, tokens = majority(rows) or {}, figures(rows)["tokens"]
        alone = [round(x, 2) for x in vote["each_agent_alone"]]
        print(f"{name}: MV acc {vote['accuracy']:.3f} tokens {tokens:.0f} alone {alone} ", end="")
        print(f"agree {vote['pairs_agreeing']:.2f} p50(full) {p50(rows):.1f}")
        rules: list[dict[str, Any]] = [{"agents": k, "early_stop": False}, {"agents": k}]
        if k == 8:
            rules += [{"agents": 8, "concurrency": c, "consensus": n} for c, n in ((4, 3), (4, 2), (2, 2), (3, 3))]
        if k == 4:
            rules += [{"agents": 4, "concurrency": 2, "consensus": 2}]
        for options in rules:
            replayed = replay_contemplate(rows, setting("contemplate", options))
            f = figures(replayed)
            share, slower = f["tokens"] / tokens, p50(replayed) / p50(thinking)
            print(f"   {options}: acc {f['accuracy']:.3f} tokens {f['tokens']:.0f} ({share:.2f}x MV) ", end="")
            print(f"p50 {p50(replayed):.1f} ({slower:.2f}x thinking) kept {f['kept_full_answer']}")


if __name__ == "__main__":
    main()
