"""What engine slots cost: memory and decoding speed of one server per setting (`python -m bench.slots`).

Why: the guard's judge keeps two long prompts in the engine's slots (a request's and an answer's, after the
same policy), and instant's majority writes eight openings, four at a time with 4 slots. The openings
overwrite the judge's prompts, so each answer's first judged window prefilled them again: 37-45 s against
3.4-10 s with 12 slots (`bench/results/judge-slots/`). More running places (`engine.parallel`) keep them,
but each adds a context's worth of cells to the pool; spare slots (`engine.spare`) keep them in the same
pool. Either way the unified cache's attention spans every cell in use, stale prefixes included. So, for
each setting (`PARALLEL+SPARE`), one `ponder serve` (guard off) and:
- resident memory once started and answering, and again once every slot holds a distinct prompt;
- generation speed of one request and of four at once, with the slots empty and then filled.
Speeds are compared as ratios between the settings, each server in turn in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.run import GEN_TOKENS, count_prompt
from tests.e2e import ponder_server

RESULTS = Path(__file__).parent / "results" / "slots"
ROUNDS = 3


def filler(i: int) -> list[dict[str, str]]:
    """A distinct prompt of about 700 tokens: notes whose numbers differ from the first line on."""
    notes = "\n".join(
        f"Note {j}: region {i * 100 + j} reported revenue of {i * 7 + j * 13} thousand." for j in range(40)
    )
    return [{"role": "user", "content": f"Ledger {i}.\n{notes}\nWhich region reported the most?"}]


async def measure(url: str, model: str, parallel: int, spare: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=900) as client:

        async def one(messages: list[dict[str, str]], max_tokens: int = GEN_TOKENS) -> int:
            body = {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0}
            r = await client.post("/v1/chat/completions", json=body)
            r.raise_for_status()
            return int(r.json()["usage"]["completion_tokens"])

        async def speeds(offset: int) -> tuple[float, float]:
            single = []
            for k in range(ROUNDS):
                t0 = time.perf_counter()
                n = await one(count_prompt(offset + k))
                single.append(n / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            n4 = sum(await asyncio.gather(*[one(count_prompt(offset + 10 + k)) for k in range(4)]))
            return statistics.median(single), n4 / (time.perf_counter() - t0)

        async def memory() -> float:
            return float((await client.get("/health")).json()["rss_mb"])

        await one(count_prompt(99), 8)  # loads the model
        out: dict[str, Any] = {"setting": f"{parallel}+{spare}", "rss_mb_started": await memory()}
        out["tps_1_empty"], out["tps_4_empty"] = await speeds(0)
        t0 = time.perf_counter()
        for i in range(parallel + spare):  # one at a time: each takes the free slot that loses least, an empty one
            await one(filler(i), 1)
        out["fill_s"] = time.perf_counter() - t0
        out["rss_mb_filled"] = await memory()
        out["tps_1_filled"], out["tps_4_filled"] = await speeds(100)
        out["rss_mb_end"] = await memory()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2.5-coder-1.5b")
    ap.add_argument("--settings", nargs="+", default=["4+0", "4+8", "12+0"], help="PARALLEL+SPARE, each")
    ap.add_argument("--context", type=int, default=4096)
    args = ap.parse_args()
    runs = []
    for setting in args.settings:
        parallel, spare = (int(x) for x in setting.split("+"))
        flags = ["--model", args.model, "--engine-parallel", str(parallel), "--engine-spare", str(spare)]
        with ponder_server(*flags, "--engine-context", str(args.context), "--no-guard-enabled", timeout=300) as url:
            m = asyncio.run(measure(url, args.model, parallel, spare))
        runs.append(m)
        print(
            f"{setting}: RSS {m['rss_mb_started']:.0f} MB started, {m['rss_mb_filled']:.0f} MB filled "
            f"({m['fill_s']:.0f} s to fill); tok/s 1 request {m['tps_1_empty']:.1f} empty, {m['tps_1_filled']:.1f} "
            f"filled; 4 at once {m['tps_4_empty']:.1f} empty, {m['tps_4_filled']:.1f} filled",
            flush=True,
        )
    base = runs[0]
    for m in runs[1:]:
        more = m["rss_mb_filled"] - base["rss_mb_filled"]
        print(
            f"{m['setting']} against {base['setting']}: memory filled +{more:.0f} MB; "
            f"speed filled x{m['tps_1_filled'] / base['tps_1_filled']:.2f} (1), "
            f"x{m['tps_4_filled'] / base['tps_4_filled']:.2f} (4)"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"slots-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    report = {"model": args.model, "context": args.context, "gen_tokens": GEN_TOKENS, "runs": runs}
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
