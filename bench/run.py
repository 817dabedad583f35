"""`make bench`: speed figures for every installed packaged model, printed and written as JSON.

For each model:
- prompt and generation tokens/s of llama.cpp called directly (llama_cpp.Llama, one sequence);
- aggregate generation throughput through `ponder serve` with 1 and with 4 concurrent requests
  (the batching engine's reason to exist; target >= 1.5x on the 1.5B);
- time to first token, p50 over several streamed requests;
- the server's overhead against llama.cpp direct for the same single request (target <= 5%).

Figures are compared as ratios within one run; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ponder.config import Settings
from ponder.models import catalogue, store
from ponder.models.templates import get_template
from ponder.types import Message
from tests.e2e import ponder_server

RESULTS = Path(__file__).parent / "results"
GEN_TOKENS = 128
REPEATS = 3


def count_prompt(i: int) -> list[dict[str, str]]:
    """A prompt whose greedy continuation runs to max_tokens: models keep counting."""
    start = 1 + 37 * i
    seq = ", ".join(str(n) for n in range(start, start + 6))
    return [{"role": "user", "content": f"Continue this list up to {start + 5000}: {seq},"}]


LONG_PROMPT = [
    {
        "role": "user",
        "content": "Summarise the following notes in one sentence.\n"
        + "\n".join(
            f"Note {i}: the quarterly report lists revenue, costs and staffing for region {i}." for i in range(16)
        ),
    }
]


def direct(path: Path, template: str, threads: int) -> dict[str, float]:
    """llama.cpp through llama-cpp-python's own high-level API, no ponder in the way.

    Same kernels as ponder's engine (flash attention on, as llama.cpp's "auto" picks on CPU) and the
    same warm-up, so the prefix cache helps both sides equally.
    """
    import llama_cpp

    llm = llama_cpp.Llama(
        str(path), n_ctx=4096, n_threads=threads, n_threads_batch=threads, flash_attn=True, verbose=False
    )
    tpl = get_template(template)

    def render(messages: list[dict[str, str]]) -> str:
        return tpl.render([Message(role="user", content=m["content"]) for m in messages])

    long_prompt = render(LONG_PROMPT)
    n_long = len(llm.tokenize(long_prompt.encode(), add_bos=False, special=True))
    llm.create_completion(long_prompt, max_tokens=1)  # warm up
    llm.reset()
    t0 = time.perf_counter()
    llm.create_completion(long_prompt, max_tokens=1, temperature=0)
    prompt_tps = n_long / (time.perf_counter() - t0)
    times, n_gen = [], 0
    for _ in range(REPEATS):
        llm.create_completion(render(count_prompt(99)), max_tokens=8, temperature=0)  # the server's warm-up
        t0 = time.perf_counter()
        out = llm.create_completion(render(count_prompt(0)), max_tokens=GEN_TOKENS, temperature=0)
        times.append(time.perf_counter() - t0)
        n_gen = out["usage"]["completion_tokens"]  # type: ignore[index]
    llm.close()
    request_s = statistics.median(times)
    return {
        "prompt_tokens": n_long,
        "prompt_tps": prompt_tps,
        "gen_tokens": n_gen,
        "request_s": request_s,
        "gen_tps": n_gen / request_s,
    }


async def through_server(url: str, model: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:

        async def one(i: int, max_tokens: int = GEN_TOKENS) -> int:
            body = {"model": model, "messages": count_prompt(i), "max_tokens": max_tokens, "temperature": 0}
            r = await client.post("/v1/chat/completions", json=body)
            r.raise_for_status()
            return int(r.json()["usage"]["completion_tokens"])

        times, n1 = [], 0
        for _ in range(REPEATS):
            await one(99, 8)  # warm up (and the same prefix state as the direct run)
            t0 = time.perf_counter()
            n1 = await one(0)
            times.append(time.perf_counter() - t0)
        single_s = statistics.median(times)
        t0 = time.perf_counter()
        n4 = sum(await asyncio.gather(*[one(i) for i in range(1, 5)]))
        four_s = time.perf_counter() - t0

        ttft = []
        for i in range(7):
            body = {"model": model, "messages": count_prompt(10 + i), "max_tokens": 4, "stream": True}
            t0 = time.perf_counter()
            first: float | None = None
            async with client.stream("POST", "/v1/chat/completions", json=body) as r:
                async for line in r.aiter_lines():
                    if first is None and '"content"' in line:
                        first = time.perf_counter() - t0
            if first is not None:
                ttft.append(first)
    return {
        "single_tokens": n1,
        "single_s": single_s,
        "agg_tps_1": n1 / single_s,
        "agg_tps_4": n4 / four_s,
        "ttft_p50_s": statistics.median(ttft),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="catalogue models (default: every installed one)")
    args = parser.parse_args()
    settings = Settings()
    threads = os.cpu_count() or 1
    names = args.models or [m.name for m in catalogue.CATALOGUE.values() if store.packages_installed(m)]
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": threads, "python": platform.python_version(), "platform": platform.platform()},
        "gen_tokens": GEN_TOKENS,
        "models": {},
    }
    for name in names:
        model = catalogue.get(name)
        path = store.assemble(settings.cache_dir, model)
        print(f"== {name}", flush=True)
        d = direct(path, model.template, threads)
        print(
            f"  llama.cpp direct: prompt {d['prompt_tps']:.1f} tok/s, generation {d['gen_tps']:.1f} tok/s", flush=True
        )
        with ponder_server("--model", name, "--engine-parallel", "4") as url:
            s = asyncio.run(through_server(url, name))
        # Overhead: the same single greedy request, per generated token, server against direct.
        per_tok_server = s["single_s"] / s["single_tokens"]
        per_tok_direct = d["request_s"] / d["gen_tokens"]
        overhead = per_tok_server / per_tok_direct - 1
        speedup = s["agg_tps_4"] / s["agg_tps_1"]
        print(
            f"  server: 1 request {s['agg_tps_1']:.1f} tok/s, 4 concurrent {s['agg_tps_4']:.1f} tok/s "
            f"(x{speedup:.2f}); TTFT p50 {s['ttft_p50_s'] * 1000:.0f} ms; overhead vs direct {overhead * 100:+.1f}%",
            flush=True,
        )
        report["models"][name] = {
            **{f"direct_{k}": v for k, v in d.items()},
            **{f"server_{k}": v for k, v in s.items()},
            "concurrency_speedup": speedup,
            "server_overhead": overhead,
        }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    if not names:
        print("no packaged model is installed: run `ponder models pull NAME` first", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
