"""What the guard costs: the time of each check the screen makes, and of each guard inside it.

Why: the issue's target is a guard check of at most 30 ms p50 on 2 cores, and the checks differ by two
orders of magnitude. The classifier reads a text in about 10 ms; the judge decodes a dozen tokens (seconds);
the probe prefills the request through the 1.5B (most of a second). An answer meets the screen once at
the input and then every streamed window, so one figure over all checks would hide the input's cost behind
many cheap windows. Checks are kept per stage, with each guard's share, and a report gives both.

Time is kept only while a caller counts (`counting`, as `ponder eval safety` does for each answer): the
tally is a context variable, so the tasks a mode starts (contemplate's agents) and the threads a guard runs
in add to the same tally, and a server that counts nothing pays nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ponder.guard.base import Guard, Stage, Verdict


@dataclass
class Check:
    """One screen check: its stage, its whole time and each guard's time in it (seconds)."""

    stage: Stage
    seconds: float = 0.0
    by: dict[str, float] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "ms": round(self.seconds * 1000, 1),
            "by": {k: round(v * 1000, 1) for k, v in self.by.items()},
        }


_tally: ContextVar[list[Check] | None] = ContextVar("guard_tally", default=None)
_open: ContextVar[Check | None] = ContextVar("guard_check", default=None)


@contextmanager
def counting() -> Iterator[list[Check]]:
    """Every check made inside the block (in this task, the tasks it starts and their threads)."""
    checks: list[Check] = []
    token = _tally.set(checks)
    try:
        yield checks
    finally:
        _tally.reset(token)


@asynccontextmanager
async def check(stage: Stage) -> AsyncIterator[None]:
    """Times one screen check; guards timed inside it (`timed`) are its parts."""
    checks = _tally.get()
    if checks is None:
        yield
        return
    made = Check(stage)
    token = _open.set(made)
    start = time.perf_counter()
    try:
        yield
    finally:
        made.seconds = time.perf_counter() - start
        _open.reset(token)
        checks.append(made)


async def timed(guard: Guard, text: str, stage: Stage, asked: str = "") -> Verdict:
    """`guard.check`, its time added to the open check's (to a check of its own outside one: the judge
    asked whether a refusal may be asked again)."""
    if _tally.get() is None:
        return await guard.check(text, stage, asked)
    made = _open.get()
    if made is None:
        async with check(stage):
            return await timed(guard, text, stage, asked)
    start = time.perf_counter()
    try:
        return await guard.check(text, stage, asked)
    finally:
        made.by[guard.name] = made.by.get(guard.name, 0.0) + time.perf_counter() - start


def percentiles(ms: list[float]) -> dict[str, float | int]:
    if not ms:
        return {"n": 0}
    p50, p95 = np.percentile(ms, [50, 95])
    return {"n": len(ms), "p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1)}


def summary(answers: list[list[dict[str, Any]]]) -> dict[str, Any] | None:
    """Per check (all, and per stage), per guard call, and per answer (its checks' sum), from each answer's
    checks as `Check.json` wrote them; None when no answer was counted."""
    checks = [c for a in answers for c in a]
    if not checks:
        return None
    stages = sorted({c["stage"] for c in checks})
    guards = sorted({g for c in checks for g in c["by"]})
    return {
        "per_check": percentiles([c["ms"] for c in checks]),
        "by_stage": {s: percentiles([c["ms"] for c in checks if c["stage"] == s]) for s in stages},
        "by_guard": {g: percentiles([c["by"][g] for c in checks if g in c["by"]]) for g in guards},
        "per_answer": percentiles([sum(c["ms"] for c in a) for a in answers if a]),
    }
