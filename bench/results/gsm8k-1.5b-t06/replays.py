"""The figures of replays.txt: one temperature (0.6) for 8 agents against the default spread of 4.

On the first 40 seeded GSM8K items, from a run that recorded 8 agents at temperature 0.6
(`contemplate:early_stop=false,record=true,agents=8,temperature=0.6`) beside the 200-item run's
rows for the same items: plain majority vote over the first k agents, and stopping rules replayed
on them (`ponder.evals.replay`). Run from the repository root: `PYTHONPATH=. python
bench/results/gsm8k-1.5b-t06/replays.py`. Latency is the full run's, scaled by decode steps.
"""
import statistics, json
from ponder.evals.runner import Store
from ponder.evals.replay import replay_contemplate
from ponder.evals.report import majority
from bench.contemplate_sweep import first, figures, setting
rows = Store(__import__("pathlib").Path("bench/results/gsm8k-1.5b-t06/results.jsonl")).results
F = "contemplate:early_stop=false,record=true,agents=8,temperature=0.6"
S = "contemplate:early_stop=false,record=true"
by = {}
for r in rows: by.setdefault(r.setting, {})[r.item] = r
items = [i for i in by[F] if i in by[S]]
def p50(rs): return statistics.median(r.latency_s for r in rs)
th = [by["thinking"][i] for i in items]
print("n", len(items), "thinking", figures(th)["accuracy"], figures(th)["tokens"], "p50", p50(th))
print("instant", figures([by["instant"][i] for i in items])["accuracy"])
for name, full, k in (("spread4", S, 4), ("t06-4", F, 4), ("t06-8", F, 8)):
    fr = first([by[full][i] for i in items], k)
    mv = majority(fr)
    print(f"{name}: MV acc {mv['accuracy']:.3f} tokens {figures(fr)['tokens']:.0f} alone {[round(x,2) for x in mv['each_agent_alone']]} agree {mv['pairs_agreeing']:.2f} p50(full) {p50(fr):.1f}")
    rules = [{"agents": k, "early_stop": False}, {"agents": k}]
    if k == 8:
        rules += [{"agents": 8, "concurrency": 4, "consensus": 3}, {"agents": 8, "concurrency": 4, "consensus": 2},
                  {"agents": 8, "concurrency": 2, "consensus": 2}, {"agents": 8, "concurrency": 3, "consensus": 3}]
    if k == 4:
        rules += [{"agents": 4, "concurrency": 2, "consensus": 2}]
    for o in rules:
        rr = replay_contemplate(fr, setting("contemplate", o))
        f = figures(rr)
        print(f"   {o}: acc {f['accuracy']:.3f} tokens {f['tokens']:.0f} ({f['tokens']/figures(fr)['tokens']:.2f}x MV) p50 {p50(rr):.1f} ({p50(rr)/p50(th):.2f}x thinking) kept {f['kept_full_answer']}")
