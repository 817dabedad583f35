"""The engine's spare slots, on the smallest packaged model: finished prompts outlive a burst of
openings, and a pool of cells that runs out gives idle slots' cells back without corrupting answers."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from ponder.backends.llama import LlamaBackend
from ponder.config import Settings
from ponder.models import resolve
from ponder.types import Chunk, Completion, SamplingParams

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


async def test_a_reading_beside_running_answers_leaves_them_and_itself_as_they_are() -> None:
    """A reading's last token takes a step of its own with embeddings on (the other prompts' chunks wait a
    step): the answers generating and prefilling meanwhile start as they do without it, token for token with
    the same log-probabilities up to batched numerics (a batch's make-up moves them slightly, and a greedy
    answer 24 tokens long may part ways on a near tie), and the state is the one read alone."""
    asks = [policy("west", 8) + "\nWhat is rule 2?", "Tell me about the sea."]
    read = policy("read", 6) + "\nWhat is rule 1?"
    params = SamplingParams(max_tokens=6, temperature=0.0, logprobs=True)
    runs: list[list[list[tuple[str, float]]]] = []
    for reading in (False, True):
        eng = backend(parallel=4, spare=0)
        try:
            state = await eng.read(read) if reading else None
            answers = [asyncio.create_task(tokens(eng, ask, params)) for ask in asks]
            beside = await eng.read(read) if reading else None
            runs.append(list(await asyncio.gather(*answers)))
        finally:
            await eng.aclose()
    for without, with_reading in zip(*runs, strict=True):
        assert [t for t, _ in with_reading] == [t for t, _ in without]
        assert max(abs(a - b) for (_, a), (_, b) in zip(with_reading, without, strict=True)) < 0.1
    assert state is not None and beside is not None and state.shape == (576,)
    assert float(np.abs(beside - state).max()) < 1e-2 * float(np.abs(state).max())


async def tokens(model: LlamaBackend, text: str, params: SamplingParams) -> list[tuple[str, float]]:
    """The answer's tokens and their log-probabilities."""
    return [
        (lp.token, lp.logprob)
        async for item in model.stream(text, params)
        if isinstance(item, Chunk)
        for lp in item.logprobs
    ]
