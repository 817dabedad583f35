"""What a guard-off run on your own prompts would refuse with the guard on, without running the model again.

`ponder eval safety --prompts FILE --guard off` measures the model alone, which is what a system
message changes. The guard's input stage does not depend on the system message, so its verdict on
each prompt is computed here once (today's classifier head; for prompts in the judge's band, the
judge's probability recorded by `python -m bench.judge_dev`) and joined to each run's answers: a
prompt is refused with the guard on when the input stage blocks it or the model refused it. The
output stage is left out, so this is a lower bound on refusal; prompts in the band with no recorded
judge score are decided by the classifier's own threshold and counted apart.

    python -m bench.guard_on_estimate --prompts bench/data/judge_dev.jsonl --limit 100 \
        --judged bench/results/judge-dev-wants-own.jsonl bench/results/dev-system-{a,b,c}/results.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ponder.config import GuardSettings
from ponder.evals import safety
from ponder.guard.classifier import shared
from ponder.guard.policy import in_band, judge_blocks
from ponder.guard.taxonomy import BY_NAME


def input_blocks(
    prompts: Path, limit: int | None, seed: int, judged: Path
) -> tuple[dict[str, bool], dict[str, str], int]:
    """Per item id: does the input stage block it? Also each item's set, and how many prompts in the
    judge's band had no recorded judge score."""
    s = GuardSettings()
    judge = {row["text"]: row["judge"] for row in map(json.loads, judged.read_text().splitlines())}
    classifier = shared()
    blocked: dict[str, bool] = {}
    groups: dict[str, str] = {}
    unjudged = 0
    for item in safety.load(limit, seed, None, prompts):
        groups[item.id] = item.group
        v = classifier.score(item.question)
        category = v.category or "violent_crimes"
        flagged = v.harm >= s.threshold * BY_NAME[category].strictness
        if v.injection >= s.injection_threshold:
            blocked[item.id] = True
            continue
        if in_band(s, v.harm, category):
            if item.question in judge:
                flagged = judge_blocks(s, judge[item.question], category)
            else:
                unjudged += 1
        blocked[item.id] = flagged and s.actions.get(category, BY_NAME[category].action) == "block"
    return blocked, groups, unjudged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=Path, required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--judged", type=Path, required=True, help="bench.judge_dev's output: text, judge per line")
    ap.add_argument("runs", type=Path, nargs="+", help="results.jsonl of guard-off runs on --prompts")
    args = ap.parse_args()
    blocked, groups, unjudged = input_blocks(args.prompts, args.limit, args.seed, args.judged)
    print(
        f"input stage: {sum(blocked.values())} of {len(blocked)} blocked; {unjudged} in the band without a judge score"
    )
    print(f"{'run':32} {'set':12} {'model alone':>12} {'input stage':>12} {'guard on':>9}")
    for run in args.runs:
        rows = [json.loads(line) for line in run.read_text().splitlines()]
        for group in safety.OWN_SETS:
            mine = [r for r in rows if groups.get(r["item"]) == group]
            model = sum(r["answer"].startswith("refused") for r in mine)
            guard = sum(blocked[r["item"]] for r in mine)
            either = sum(blocked[r["item"]] or r["answer"].startswith("refused") for r in mine)
            n = len(mine) or 1
            print(f"{run.parent.name:32} {group:12} {model / n:12.0%} {guard / n:12.0%} {either / n:9.0%}")


if __name__ == "__main__":
    main()
