"""The guard extension point: anything that scores a text for hazards at a stage of a run.

Built-ins (`classifier`, `judge`) register here exactly as a plugin would (entry point group
`ponder.guards`). A guard only scores; what to do with a score is the policy's job (`policy.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from ponder.registry import Registry

Stage = Literal["input", "reasoning", "agent", "output", "tool_call", "tool_result", "computed"]
STAGES: tuple[Stage, ...] = ("input", "reasoning", "agent", "output", "tool_call", "tool_result", "computed")
"""`tool_result` is the output of a tool that reads outside text (documents, MCP servers); `computed` the
output of one that computes from the model's own arguments (calculator, sandbox: `Tool.outside_text`)."""
INJECTABLE: frozenset[Stage] = frozenset({"input", "tool_result"})
"""Stages whose text comes from outside the model, where instructions may be smuggled in."""


@dataclass(frozen=True)
class Verdict:
    """A guard's reading of one text."""

    harm: float
    """Probability-like score in [0, 1] that the text asks for or gives hazardous help."""
    category: str | None
    """The most likely hazard category, whatever the score."""
    injection: float = 0.0
    """Score in [0, 1] that the text tries to override the assistant's instructions."""
    guard: str = ""


class Guard(Protocol):
    name: str

    async def check(self, text: str, stage: Stage, asked: str = "") -> Verdict:
        """Score `text` at `stage`. `asked` is the user's request, when the model wrote `text` in answer
        to it: a guard may read the text in its light ("What is marihuana?" makes an answer about the
        drug an explanation, not a push to use it)."""
        ...


guards: Registry[type[Guard]] = Registry("guard", entry_point_group="ponder.guards")
guards.register("classifier", "ponder.guard.classifier:ClassifierGuard")
guards.register("judge", "ponder.guard.judge:JudgeGuard")
