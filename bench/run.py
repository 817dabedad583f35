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
ROUNDS = 5


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


class Direct:
    """llama.cpp through llama-cpp-python's own high-level API, no ponder in the way.

    Same kernels as ponder's engine (flash attention on, as llama.cpp's "auto" picks on CPU) and the
    same warm-up before each timed request, so the prefix cache helps both sides equally.
    """

    def __init__(self, path: Path, template: str, threads: int) -> None:
        import llama_cpp

        self.llm = llama_cpp.Llama(
            str(path), n_ctx=4096, n_threads=threads, n_threads_batch=threads, flash_attn=True, verbose=False
        )
        self.tpl = get_template(template)

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.tpl.render([Message(role="user", content=m["content"]) for m in messages])

    def prompt_tps(self) -> tuple[int, float]:
        long_prompt = self.render(LONG_PROMPT)
        n = len(self.llm.tokenize(long_prompt.encode(), add_bos=False, special=True))
        self.llm.create_completion(long_prompt, max_tokens=1)  # warm up
        self.llm.reset()
        t0 = time.perf_counter()
        self.llm.create_completion(long_prompt, max_tokens=1, temperature=0)
        return n, n / (time.perf_counter() - t0)

    def single(self) -> tuple[int, float]:
        self.llm.create_completion(self.render(count_prompt(99)), max_tokens=8, temperature=0)  # as the server's
        t0 = time.perf_counter()
        out = self.llm.create_completion(self.render(count_prompt(0)), max_tokens=GEN_TOKENS, temperature=0)
        return int(out["usage"]["completion_tokens"]), time.perf_counter() - t0  # type: ignore[index]

    def close(self) -> None:
        self.llm.close()


async def measure(url: str, model: str, direct: Direct) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:

        async def one(i: int, max_tokens: int = GEN_TOKENS) -> int:
            body = {"model": model, "messages": count_prompt(i), "max_tokens": max_tokens, "temperature": 0}
            r = await client.post("/v1/chat/completions", json=body)
            r.raise_for_status()
            return int(r.json()["usage"]["completion_tokens"])

        # The same single request, alternately direct and through the server, so drift hits both alike.
        direct_s, server_s, n_direct, n_server = [], [], 0, 0
        for _ in range(ROUNDS):
            n_direct, t = direct.single()
            direct_s.append(t)
            await one(99, 8)  # warm up: the same prefix state as the direct run
            t0 = time.perf_counter()
            n_server = await one(0)
            server_s.append(time.perf_counter() - t0)
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
        peak_mb = float((await client.get("/health")).json()["peak_rss_mb"])
    single_direct, single_server = statistics.median(direct_s), statistics.median(server_s)
    return {
        "direct_gen_tps": n_direct / single_direct,
        "server_agg_tps_1": n_server / single_server,
        "server_agg_tps_4": n4 / four_s,
        "server_ttft_p50_s": statistics.median(ttft),
        "server_peak_rss_mb": peak_mb,
        # per generated token, so a different answer length does not skew it
        "server_overhead": (single_server / n_server) / (single_direct / n_direct) - 1,
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
        with ponder_server("--model", name, "--engine-parallel", "4", "--no-guard-enabled") as url:
            direct = Direct(path, model.template, threads)
            n_prompt, prompt_tps = direct.prompt_tps()
            m = asyncio.run(measure(url, name, direct))
            direct.close()
        m |= {"direct_prompt_tokens": n_prompt, "direct_prompt_tps": prompt_tps}
        m["concurrency_speedup"] = m["server_agg_tps_4"] / m["server_agg_tps_1"]
        print(
            f"  llama.cpp direct: prompt {prompt_tps:.1f} tok/s, generation {m['direct_gen_tps']:.1f} tok/s\n"
            f"  server: 1 request {m['server_agg_tps_1']:.1f} tok/s, 4 concurrent {m['server_agg_tps_4']:.1f} tok/s "
            f"(x{m['concurrency_speedup']:.2f}); TTFT p50 {m['server_ttft_p50_s'] * 1000:.0f} ms; "
            f"overhead vs direct {m['server_overhead'] * 100:+.1f}%; server peak RSS {m['server_peak_rss_mb']:.0f} MB",
            flush=True,
        )
        report["models"][name] = m
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")
    if not names:
        print("no packaged model is installed: run `ponder models pull NAME` first", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
