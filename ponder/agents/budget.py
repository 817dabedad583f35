"""One budget for a whole tree of agents: model turns, tokens and wall time, spent by everyone.

An orchestrated request fans out into a planner, sub-agents (which may delegate to sub-agents of
their own) and a synthesiser. Limits per agent would let the tree as a whole run away, so every
agent draws on the same `Budget`; the synthesiser's share is held back so that an answer can always
be written from what the agents found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

Exhausted = Literal["steps", "tokens", "time"]


@dataclass
class Budget:
    steps: int
    """Tool-calling rounds allowed across every agent."""
    tokens: int
    """Tokens the agents may generate, all together."""
    seconds: float
    reserve: int = 0
    """Tokens kept back for the final answer (the synthesiser); agents cannot spend them."""
    steps_used: int = 0
    tokens_used: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def tokens_left(self) -> int:
        """Tokens an agent may still generate (the reserve is not theirs)."""
        return max(self.tokens - self.reserve - self.tokens_used, 0)

    @property
    def seconds_left(self) -> float:
        return max(self.seconds - (time.monotonic() - self.started), 0.0)

    def exhausted(self) -> Exhausted | None:
        """Which limit is used up, if any: an agent then stops calling tools and answers."""
        if self.steps_used >= self.steps:
            return "steps"
        if self.tokens_left <= 0:
            return "tokens"
        if self.seconds_left <= 0:
            return "time"
        return None

    def spend(self, tokens: int) -> None:
        self.tokens_used += tokens

    def release(self) -> int:
        """Hand the reserve over (to the synthesiser): the tokens that remain for the final answer."""
        self.reserve = 0
        return max(self.tokens - self.tokens_used, 0)

    def report(self) -> dict[str, float | int]:
        return {
            "steps": self.steps_used,
            "max_steps": self.steps,
            "tokens": self.tokens_used,
            "max_tokens": self.tokens,
            "seconds": round(time.monotonic() - self.started, 3),
            "max_seconds": self.seconds,
        }
