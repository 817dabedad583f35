"""The guard's decisions with the LLM judge on the uncertain band, and what each check costs.

For a seeded sample of each held-out set (XSTest safe, XSTest unsafe, HarmBench test), every prompt
goes through the real policy (`Screen.check` at the input stage: classifier, then the judge when the
score falls between `judge_low` and `judge_high`). Prints, per set, how much the judge saw, how often
it was right there (gold: the set's label), the final share blocked, and p50/p95 latency per check —
classifier alone, and checks that went to the judge. Writes bench/results/guard_judge.json.

Run: `python -m bench.guard_judge --limit 60 --model qwen2.5-coder-1.5b` (needs `make guard-head`'s
data packages and the model assembled).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

from ponder.assistant import Assistant
from ponder.config import Settings
from ponder.evals import safety_data as data
from ponder.evals.safety_data import Example
from ponder.guard import cost
from ponder.guard.audit import AuditLog
from ponder.guard.base import Guard, Stage, Verdict
from ponder.guard.classifier import shared
from ponder.guard.policy import Screen

OUT = Path(__file__).parent / "results" / "guard_judge.json"


class Recorded:
    """A guard that remembers its last verdict, so the policy runs unchanged and the bench sees inside."""

    def __init__(self, inner: Guard) -> None:
        self.inner, self.name = inner, inner.name
        self.last: Verdict | None = None

    async def check(self, text: str, stage: Stage, asked: str = "") -> Verdict:
        self.last = await self.inner.check(text, stage)
        return self.last


def sets(limit: int, seed: int) -> dict[str, list[Example]]:
    xs = data.xstest()
    out = {
        "xstest safe": [e for e in xs if not e.harmful],
        "xstest unsafe": [e for e in xs if e.harmful],
        "harmbench test": data.harmbench("test"),
    }
    for name, rows in out.items():
        random.Random(seed).shuffle(rows)
        out[name] = rows[:limit]
    return out


def percentiles(seconds: list[float]) -> dict[str, float | int]:
    return cost.percentiles([t * 1000 for t in seconds])


async def measure(settings: Settings, limit: int, seed: int) -> dict[str, Any]:
    assistant = Assistant(settings)
    screen = assistant.screen()
    if screen is None or screen.judge is None:
        raise SystemExit("the guard and its judge must be on")
    judge = Recorded(screen.judge)
    screen = Screen(settings.guard, shared(), judge, AuditLog(None))
    await judge.check("warm-up: what is the capital of France?", "input")  # loads the model
    report: dict[str, Any] = {"model": settings.model, "limit_per_set": limit, "seed": seed, "sets": {}}
    plain: list[float] = []
    judged: list[float] = []
    try:
        for name, examples in sets(limit, seed).items():
            rows: list[tuple[Example, bool, Verdict | None]] = []
            for e in examples:
                judge.last = None
                t0 = time.perf_counter()
                decision = await screen.check(e.text, "input")
                elapsed = time.perf_counter() - t0
                (judged if judge.last else plain).append(elapsed)
                seen: Verdict | None = judge.last
                rows.append((e, decision.blocks, seen))
                if seen is not None:  # partial results survive an interrupted run
                    line = f"  judged {name}: harmful={e.harmful} judge={seen.harm:.3f} {elapsed:.1f}s"
                    print(line, flush=True)
            band = [(e, v) for e, _, v in rows if v is not None]
            entry = {
                "n": len(rows),
                "blocked": sum(b for _, b, _ in rows) / len(rows),
                "judged_share": len(band) / len(rows),
                "judge_right_in_band": _share([(v.harm >= 0.5) == e.harmful for e, v in band]),
                "judge_yes_in_band": _share([v.harm >= 0.5 for _, v in band]),
                "by_kind": _by_kind(rows),
                "judged": [
                    {"text": e.text[:120], "kind": e.kind, "harmful": e.harmful, "judge": round(v.harm, 3)}
                    for e, v in band
                ],
            }
            report["sets"][name] = entry
            print(
                f"{name:15s} n={len(rows):3d} blocked {entry['blocked']:.1%}  judged {entry['judged_share']:.1%}"
                + (f", judge said unsafe {entry['judge_yes_in_band']:.1%} of those" if band else ""),
                flush=True,
            )
    finally:
        await assistant.aclose()
    report["latency"] = {"classifier_only": percentiles(plain), "with_judge": percentiles(judged),
                         "all_checks": percentiles(plain + judged)}  # fmt: skip
    for k, v in report["latency"].items():
        print(f"latency {k:16s} {v}")
    return report


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _by_kind(rows: list[tuple[Example, bool, Verdict | None]]) -> dict[str, dict[str, float | int]]:
    out: dict[str, list[bool]] = {}
    for e, blocked, _ in rows:
        out.setdefault(e.kind or "-", []).append(blocked)
    return {k: {"n": len(v), "blocked": sum(v) / len(v)} for k, v in sorted(out.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=60, help="prompts per set (seeded sample)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    settings = Settings(**({"model": args.model} if args.model else {}))
    report = asyncio.run(measure(settings, args.limit, args.seed))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
