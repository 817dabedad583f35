"""One budget for a whole tree of agents: model turns, tokens and wall time, spent by everyone.

An orchestrated request fans out into a planner, sub-agents (which may delegate to sub-agents of
their own) and a synthesiser. Limits per agent would let the tree as a whole run away, so every
agent draws on the same `Budget`; the synthesiser's share is held back so that an answer can always
be written from what the agents found.

Agents run at once, so a limit is taken before it is spent: a model turn is granted its tokens up
front (`grant`, given back by `settle`), and a turn that may call tools holds a step (`hold_step`).
Checked after the fact, three agents that each saw 200 tokens left spent 292 between them.
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
    """Steps spent, and those held by turns in flight."""
    tokens_used: int = 0
    held: int = 0
    """Tokens granted to model turns still running."""
    running: int = 0
    """Agents running now, who share what is left."""
    started: float = field(default_factory=time.monotonic)

    @property
    def _unspent(self) -> int:
        """The agents' tokens not yet spent, whether granted to a running turn or not."""
        return max(self.tokens - self.reserve - self.tokens_used, 0)

    @property
    def tokens_left(self) -> int:
        """Tokens an agent may still be granted (the reserve is not theirs)."""
        return max(self._unspent - self.held, 0)

    def grant(self, want: int) -> int:
        """Tokens for one model turn, held until `settle`: at most `want`, what is left, and an even share
        of it per running agent, so that the first agent to ask does not starve the others."""
        granted = min(want, self._unspent // max(self.running, 1), self.tokens_left)
        self.held += granted
        return granted

    def settle(self, granted: int, used: int) -> None:
        """A turn granted `granted` tokens ended, having generated `used`."""
        self.held -= granted
        self.tokens_used += used

    def hold_step(self) -> None:
        """Hold a tool-calling step for a turn that may call tools (after `exhausted()` found one left)."""
        self.steps_used += 1

    def return_step(self) -> None:
        """The turn made no call: its step goes back."""
        self.steps_used -= 1

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
        """Tokens spent outside a granted turn (the planner, the synthesis)."""
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
