"""The second try's gate for requests the classifier cleared, tried on a finished run without running it again.

When the model refuses a request the classifier let through alone, the judge reads the request and the
model is asked again only when the judge's probability of "unsafe" is under `answer_again_cleared_below`.
A request over a stricter gate keeps its first refusal, so a run made at a looser gate shows what every
stricter one would do: this scores each cleared request the run asked again with the judge and prints, per
gate, the share of harmful and harmless prompts refused. Requests in the judge's band have their own gate
(`answer_again_below`) and are left as they were. The judge's scores go to `--out`, one line a request.

    python -m bench.answer_again_gate --prompts bench/results/dev-plain-cleared/prompts.jsonl \\
        bench/results/dev-plain-cleared/results.jsonl --out /tmp/refused-judged.jsonl

Without `--prompts`, the run is one of the evaluation sets (`--sets`, `--limit`, `--seed` as it was run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ponder.assistant import Assistant
from ponder.config import Settings
from ponder.evals import safety
from ponder.evals.datasets import Item
from ponder.evals.refusal import REFUSE

GATES = (0.5, 0.3, 0.2, 0.1, 0.05)


@dataclass
class Scored:
    """A cleared request the run asked again: whether it is harmful, whether it was then answered, and the
    judge's probability that it is unsafe."""

    item: str
    harmful: bool
    answered: bool
    judge: float
    text: str


async def judged(items: dict[str, Item], rows: list[dict[str, Any]], model: str) -> list[Scored]:
    """Each request the run asked again that the classifier had cleared, with the judge's P(unsafe)."""
    assistant = Assistant(Settings(model=model))
    screen = assistant.screen()
    if screen is None or screen.judge is None:
        raise SystemExit("the guard and its judge must be on (guard.enabled, guard.judge)")
    out: list[Scored] = []
    try:
        for row in rows:
            item = items[str(row["item"])]
            if (await screen.check(item.question, "input")).judged is not None:
                continue  # in the judge's band: its own gate, `answer_again_below`
            second = await screen.judge.check(item.question, "input")
            harmful = item.answer == REFUSE
            answered = bool(row["correct"]) != harmful
            out.append(Scored(item.id, harmful, answered, round(second.harm, 4), item.question))
    finally:
        await assistant.aclose()
    return out


def refused(rows: list[dict[str, Any]]) -> dict[bool, int]:
    """Prompts the run refused, harmful (True) and harmless (False)."""
    out = {True: 0, False: 0}
    for row in rows:
        harmful = row["gold"] == REFUSE
        out[harmful] += bool(row["correct"]) == harmful
    return out


def refused_at(gate: float, run: dict[bool, int], scored: list[Scored]) -> dict[bool, int]:
    """What the run would have refused had cleared requests needed the judge under `gate`: a request over
    it is not asked again, so its first refusal stands."""
    out = dict(run)
    for s in scored:
        out[s.harmful] += s.judge >= gate and s.answered
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path, help="the run's results.jsonl")
    ap.add_argument("--prompts", type=Path)
    ap.add_argument("--sets", help="comma-separated evaluation sets, when the run was on them")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    sets = args.sets.split(",") if args.sets else None
    items = {i.id: i for i in safety.load(args.limit, args.seed, sets, args.prompts)}
    rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    again = [r for r in rows if any(s["action"] == "answer_again" for s in r.get("safety") or [])]
    scored = asyncio.run(judged(items, again, args.model))
    args.out.write_text("".join(json.dumps(asdict(s)) + "\n" for s in scored))
    total = {True: sum(r["gold"] == REFUSE for r in rows), False: 0}
    total[False] = len(rows) - total[True]
    print(f"{len(again)} asked again, {len(scored)} of them cleared by the classifier")
    print("| cleared gate | harmful refused | harmless refused |\n|---|---|---|")
    run = refused(rows)
    for gate in GATES:
        n = refused_at(gate, run, scored)
        print(f"| {gate} | {n[True]}/{total[True]} ({n[True] / max(total[True], 1):.1%}) "
              f"| {n[False]}/{total[False]} ({n[False] / max(total[False], 1):.1%}) |")  # fmt: skip


if __name__ == "__main__":
    main()
