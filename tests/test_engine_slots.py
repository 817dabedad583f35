"""The engine's spare slots, on the smallest packaged model: finished prompts outlive a burst of
openings, and a pool of cells that runs out gives idle slots' cells back without corrupting answers."""

from __future__ import annotations

import asyncio

import pytest

from ponder.backends.llama import LlamaBackend
from ponder.config import Settings
from ponder.models import resolve
from ponder.types import Completion, SamplingParams

pytestmark = pytest.mark.model
GREEDY = SamplingParams(max_tokens=1, temperature=0.0)


def backend(parallel: int, spare: int, context: int = 512) -> LlamaBackend:
    settings = Settings(engine={"context": context, "parallel": parallel, "spare": spare, "threads": 2})
    return LlamaBackend(resolve(settings, "smollm2-135m"), settings)


async def run(model: LlamaBackend, text: str, params: SamplingParams = GREEDY) -> Completion:
    items = [item async for item in model.stream(text, params)]
    assert isinstance(items[-1], Completion)
    return items[-1]


def policy(name: str, lines: int = 20) -> str:
    """A long prompt, like the guard judge's policy with its worked cases."""
    return f"Policy {name}.\n" + "\n".join(f"Rule {i} of {name}: answer briefly and kindly." for i in range(lines))


@pytest.mark.parametrize(("spare", "kept"), [(0, False), (2, True)])
async def test_a_burst_of_openings_leaves_a_long_prompt_cached_only_with_spare_slots(spare: int, kept: bool) -> None:
    """Two places, as the guard's judge prompt waits between checks while four openings of another
    prompt run two at a time: with spare slots they take those, and the judge's cells survive."""
    eng = backend(parallel=2, spare=spare)
    try:
        judge = policy("judge")
        first = await run(eng, judge)
        assert first.cached_tokens == 0
        opening = SamplingParams(max_tokens=4, temperature=0.8)
        await asyncio.gather(*[run(eng, "Tell me about the sea.", opening) for _ in range(4)])
        again = await run(eng, judge)
        assert (again.cached_tokens >= first.prompt_tokens - 1) is kept
    finally:
        await eng.aclose()


async def test_a_full_pool_gives_idle_cells_back_and_answers_stay_the_same() -> None:
    """256 cells, three prompts of about 170 tokens: the third needs the first's cells back. Its greedy
    answer is the one a fresh engine gives, and the newest prompt is still cached."""
    asks = [policy(name, 12) + "\nWhat is rule 3?" for name in ("north", "south", "east")]
    params = SamplingParams(max_tokens=12, temperature=0.0)
    fresh = backend(parallel=1, spare=0, context=256)
    try:
        expected = (await run(fresh, asks[2], params)).text
    finally:
        await fresh.aclose()
    eng = backend(parallel=1, spare=3, context=256)
    try:
        for ask in asks:
            done = await run(eng, ask, params)
            assert 150 < done.prompt_tokens < 220
        assert done.text == expected
        stats = eng.engine.stats()
        assert stats["released"] >= 1 and stats["spare"] == 3 and stats["idle_held"] >= 1
        assert (await run(eng, asks[2])).cached_tokens >= done.prompt_tokens - 1
    finally:
        await eng.aclose()
