"""What the guard costs a user: time to the first text a client sees, and to the whole answer, with the
guard off, on, and on without each of its slow parts, for everyday questions in instant mode.

Why: the guard's cost per check (`ponder eval safety`, `guard.cost`) says what each check takes, not how
long a user waits. Before the first word is released the request is read (the classifier, the judge for a
borderline one, the probe's prefill, which the answer then reuses), the model writes its openings
(`majority_openings`), and the first window of the answer is held until it has been read. This runs the
same prompts through each setting by turns (the same seed per prompt, one loaded model shared), so the
figures are ratios measured side by side:

    python -m bench.guard_latency --prompts bench/results/dev-plain-cleared/prompts.jsonl --limit 12 \\
        --out bench/results/guard-latency.json

Settings: `off` (no guard), `on` (the defaults), `no-majority` (`majority_openings=0`), `no-probe`
(`probe=false`); the first given is the baseline of the ratios (the first words: p50 against p50; the
whole answer: the summed times, what the run cost). Only harmless prompts are taken from the file (an
everyday question answered, not refused, is the path every user meets). Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.majority import prompts
from ponder.assistant import Assistant
from ponder.config import Settings
from ponder.guard import cost
from ponder.guard.refusals import phrased
from ponder.types import Message, Safety, SamplingParams, TextDelta

VARIANTS: dict[str, dict[str, Any]] = {
    "off": {"enabled": False},
    "on": {},
    "no-majority": {"majority_openings": 0},
    "no-probe": {"probe": False},
}


async def timed(assistant: Assistant, text: str, params: SamplingParams) -> dict[str, Any]:
    """One answer: seconds to the first released text and to the end, its guard checks, whether refused."""
    t0 = time.perf_counter()
    first: float | None = None
    blocked = False
    answer = ""
    with cost.counting() as checks:
        messages = [Message(role="user", content=text)]
        async for ev in assistant.run(assistant.plan(None, "instant"), messages, params):
            if isinstance(ev, TextDelta) and ev.text:
                first = first if first is not None else time.perf_counter() - t0
                answer += ev.text
            blocked |= isinstance(ev, Safety) and ev.action == "block"
    total = time.perf_counter() - t0
    return {
        "first_s": round(first if first is not None else total, 3),
        "total_s": round(total, 3),
        "refused": blocked or phrased(answer),
        "checks": [c.json() for c in checks],
    }


def p50(rows: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in rows))


async def measure(path: Path, limit: int, model: str, max_tokens: int, variants: list[str]) -> dict[str, Any]:
    settings = Settings(model=model)

    def with_guard(update: dict[str, Any]) -> Settings:
        return settings.model_copy(update={"guard": settings.guard.model_copy(update=update)})

    first, *rest = variants
    base = Assistant(with_guard(VARIANTS[first]))
    runs = {first: base, **{v: base.sharing(with_guard(VARIANTS[v])) for v in rest}}
    rows = [r for r in prompts(path, None) if not r.get("harmful")][:limit]
    times: dict[str, list[dict[str, Any]]] = {v: [] for v in runs}
    try:
        # Load what each setting uses (the model, the classifier, the judge's context) before timing.
        for assistant in runs.values():
            await timed(assistant, "Hello.", SamplingParams(max_tokens=4, temperature=0.6, seed=0))
        for i, row in enumerate(rows):
            order = list(runs)[i % len(runs) :] + list(runs)[: i % len(runs)]  # each setting goes first in turn
            for v in order:
                params = SamplingParams(max_tokens=max_tokens, temperature=0.6, seed=i)
                times[v].append({"prompt": row["text"], **await timed(runs[v], row["text"], params)})
                r = times[v][-1]
                print(f"{i:2d} {v:12s} first {r['first_s']:6.2f} s  whole {r['total_s']:6.2f} s", flush=True)
    finally:
        await base.aclose()
    summary = {
        v: {
            "first_p50_s": round(p50(rs, "first_s"), 3),
            "total_p50_s": round(p50(rs, "total_s"), 3),
            "first_ratio": round(p50(rs, "first_s") / p50(times[first], "first_s"), 2),
            "total_ratio": round(
                sum(r["total_s"] for r in rs) / sum(r["total_s"] for r in times[first]),
                2,
            ),
            "refused": sum(r["refused"] for r in rs),
        }
        for v, rs in times.items()
    }
    return {
        "model": model,
        "prompts": len(rows),
        "max_tokens": max_tokens,
        "baseline": first,
        "summary": summary,
        "runs": times,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=Path, default=Path("bench/results/dev-plain-cleared/prompts.jsonl"))
    ap.add_argument("--limit", type=int, default=12)
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--out", type=Path, default=Path("bench/results/guard-latency.json"))
    args = ap.parse_args()
    report = asyncio.run(measure(args.prompts, args.limit, args.model, args.max_tokens, args.variants))
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    against = "x " + report["baseline"]
    print(f"{'setting':12s} {'first p50':>10s} {against:>6s} {'whole p50':>10s} {against:>6s} refused")
    for v, s in report["summary"].items():
        print(
            f"{v:12s} {s['first_p50_s']:9.2f}s {s['first_ratio']:6.2f} {s['total_p50_s']:9.2f}s "
            f"{s['total_ratio']:6.2f} {s['refused']}"
        )


if __name__ == "__main__":
    main()
