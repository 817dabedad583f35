"""The tool loop: a model that calls tools, reads what they return, and answers when it is done.

This is what "server-side tools" means: ponder runs the calls itself instead of handing them to
the client. Each turn goes through `CallingMode`, so the model's calls are parsed leniently and
validated against the tools' schemas before anything runs; the tools run through `ToolBox`, so
every mistake the model makes (unknown tool, bad arguments, a failing computation, a timeout)
comes back to it as an observation it can correct. The guard reads every call before it runs and
every result before the model sees it, for injected instructions too where the tool reads outside
text (`Tool.outside_text`). Limits come from a shared `Budget`: when a limit is reached, the model gets one last turn
without tools to answer from what it has.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ponder.agents.budget import Budget, Exhausted
from ponder.calls.mode import CallingMode
from ponder.calls.spec import CallPolicy, FunctionSpec, function
from ponder.calls.validate import call_key
from ponder.modes.base import Mode, RunRequest
from ponder.modes.instant import InstantMode
from ponder.tools.base import carries_outside_text
from ponder.types import AgentStep, Done, Event, Message, TextDelta, ToolCall, ToolCallDelta, Usage

if TYPE_CHECKING:
    from ponder.guard.base import Stage
    from ponder.tools.box import ToolBox

ANSWER_NOW = "Using the tool results above, answer my question now, in words. Do not call any more tools."
SHOWN = 400
"""Characters of an observation kept in the provenance and progress (the model sees it whole)."""
BLOCKED_CALL = "This call was not run: the safety policy does not allow it."
WITHHELD = "The tool's output was withheld: the safety policy flagged it (for example, instructions hidden in it)."


@dataclass
class Step:
    """One tool call an agent made, and what came back."""

    tool: str
    arguments: str
    ok: bool
    observation: str
    seconds: float

    def report(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "arguments": self.arguments,
            "ok": self.ok,
            "observation": self.observation[:SHOWN],
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Outcome:
    """What one agent did: its calls, its answer, what it spent, and why it stopped if it was cut short."""

    agent: str
    task: str = ""
    answer: str = ""
    steps: list[Step] = field(default_factory=list)
    turns: int = 0
    tokens: int = 0
    prompt_tokens: int = 0
    stopped: Exhausted | None = None
    delegated: list[Outcome] = field(default_factory=list)
    """The sub-agents it handed tasks to (`delegate`), each with its own steps."""

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {"agent": self.agent}
        if self.task:
            out["task"] = self.task
        out |= {
            "steps": [s.report() for s in self.steps],
            "answer": self.answer,
            "turns": self.turns,
            "tokens": self.tokens,
            "stopped": self.stopped,
        }
        if self.delegated:
            out["delegated"] = [o.report() for o in self.delegated]
        return out


@dataclass
class Turn:
    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish: str = "stop"


def specs(box: ToolBox, names: Sequence[str] | None) -> tuple[FunctionSpec, ...]:
    """The box's tools (or the named ones) as function specs for the call machinery."""
    # A request's own `delegate` tool comes with delegation, whichever tools the request names.
    chosen = box.names() if names is None else [*names, "delegate"]
    out = []
    for spec in box.specs():
        fn = spec["function"]
        if fn["name"] in chosen:
            out.append(function(fn["name"], fn.get("description"), fn.get("parameters"), where="tools"))
    return tuple(out)


class ToolLoop:
    """Runs one agent to an answer with the tools of `box`, drawing on `budget`."""

    def __init__(
        self,
        box: ToolBox,
        budget: Budget,
        *,
        name: str = "agent",
        tools: Sequence[str] | None = None,
        max_steps: int = 5,
        step_tokens: int = 512,
        inner: Mode | None = None,
        first_call: bool = False,
    ) -> None:
        self.box = box
        self.budget = budget
        self.name = name
        self.functions = specs(box, tools)
        self.max_steps = max_steps
        self.step_tokens = step_tokens
        self.inner: Mode = inner or InstantMode()
        self.first_call = first_call

    async def run(self, request: RunRequest, outcome: Outcome) -> AsyncGenerator[Event, None]:
        """Yield an `AgentStep` per call and one for the answer; the answer itself lands in `outcome`."""
        # No instruction of our own: with the template's default system message and the tools block, the
        # coder models call tools; with an agent instruction in its place, the 1.5B answered from memory.
        convo = list(request.messages)
        made: dict[tuple[str, str], Step] = {}
        answer_now = False
        self.budget.running += 1
        try:
            await asyncio.sleep(0)  # agents started together all count themselves before the first grant
            while True:
                why = self._limit(outcome)
                offer = why is None and not answer_now
                if offer:  # held through the turn, so agents running at once see it taken
                    self.budget.hold_step()
                turn = await self._turn(request, convo, outcome, tools=offer)
                fresh = [c for c in turn.calls if call_key(c) not in made] if turn is not None and offer else []
                if offer and not fresh:
                    self.budget.return_step()
                if turn is None:  # out of time or tokens before the model could answer
                    outcome.stopped = outcome.stopped or self.budget.exhausted() or "time"
                    break
                if why is not None:
                    outcome.stopped = why
                if not turn.calls or not offer:
                    outcome.answer = turn.text.strip()
                    break
                if not fresh:
                    # Small models often ask again for what they already have: they have what they need, so
                    # the next turn offers no tools and the model answers from the results above.
                    answer_now = True
                    continue
                convo.append(Message(role="assistant", content=turn.text, tool_calls=fresh))
                steps = await asyncio.gather(*(self._call(request, c) for c in fresh))
                for call, step in zip(fresh, steps, strict=True):
                    made[call_key(call)] = step
                    outcome.steps.append(step)
                    convo.append(Message(role="tool", content=step.observation, tool_call_id=call.id, name=call.name))
                    yield AgentStep(
                        self.name, "call", f"{call.name}({call.arguments})", call.name, step.ok,
                        step.observation[:SHOWN], request.index,
                    )  # fmt: skip
        finally:
            self.budget.running -= 1
        if not outcome.answer:
            outcome.answer = _fallback(outcome)
        yield AgentStep(self.name, "answer", outcome.answer[:SHOWN], index=request.index)

    def _limit(self, outcome: Outcome) -> Exhausted | None:
        """Why this agent may not call tools any more: the tree's budget, or its own step limit."""
        if outcome.turns >= self.max_steps:
            return "steps"
        return self.budget.exhausted()

    async def _turn(self, request: RunRequest, convo: list[Message], outcome: Outcome, tools: bool) -> Turn | None:
        room = self.budget.grant(self.step_tokens)
        seconds = self.budget.seconds_left
        if room <= 0 or seconds <= 0:
            self.budget.settle(room, 0)
            return None
        # The last turn keeps the tools in the prompt (without them, the calls above make no sense to the model
        # and it refuses) and asks for the answer in words; any call it still makes is ignored.
        # No continuation for more calls in the same turn (`more_calls`): the loop gives the model a new turn anyway.
        choice = "required" if tools and self.first_call and outcome.turns == 0 else "auto"
        # Nor the user-grounding filters: an agent's calls pass what it computed or read in tool results.
        policy = CallPolicy(self.functions, choice if self.functions else "none", more_calls=False, grounded=False)
        messages = convo if tools or not outcome.steps else [*convo, Message(role="user", content=ANSWER_NOW)]
        # A thinking agent's trace comes out of the same grant as its answer.
        thinking = self.inner.name == "thinking"
        think = min(request.thinking_budget, room // 2) if thinking else request.thinking_budget
        params = request.params.model_copy(update={"max_tokens": room - think if thinking else room})
        sub = replace(request, messages=messages, params=params, thinking_budget=think)
        turn = Turn()
        calls: dict[int, dict[str, str]] = {}
        try:
            async with asyncio.timeout(seconds):
                async with aclosing(CallingMode(self.inner, policy).run(sub)) as events:
                    async for ev in events:
                        if isinstance(ev, TextDelta):
                            turn.text += ev.text
                        elif isinstance(ev, ToolCallDelta):
                            piece = calls.setdefault(ev.call_index, {"id": "", "name": "", "arguments": ""})
                            piece["id"] = ev.id or piece["id"]
                            piece["name"] = ev.name or piece["name"]
                            piece["arguments"] += ev.arguments
                        elif isinstance(ev, Usage):
                            turn.usage = ev
                        elif isinstance(ev, Done):
                            turn.finish = ev.finish_reason
        except TimeoutError:
            outcome.stopped = "time"
            return None
        finally:
            outcome.turns += 1
            outcome.tokens += turn.usage.completion_tokens
            outcome.prompt_tokens = max(outcome.prompt_tokens, turn.usage.prompt_tokens)
            self.budget.settle(room, turn.usage.completion_tokens)
        turn.calls = [ToolCall(**calls[i]) for i in sorted(calls)]
        return turn

    async def _call(self, request: RunRequest, call: ToolCall) -> Step:
        if request.screen is not None and await request.screen(f"{call.name}({call.arguments})", "tool_call"):
            return Step(call.name, call.arguments, False, BLOCKED_CALL, 0.0)
        # The tool's own limit, or less when the request's wall time runs out first.
        limit = min(self.box.settings.tools.timeout + 1.0, self.budget.seconds_left)
        seen = await self.box.call(call.name, call.arguments, timeout=max(limit, 0.1))
        content = seen.content
        # Injection is looked for only where outside text can be: a sandbox's print of "ignore your
        # instructions" is the model's own code talking. Harm is looked for in every result.
        tool = self.box.get(call.name)
        stage: Stage = "tool_result" if tool is not None and carries_outside_text(tool) else "computed"
        if request.screen is not None and await request.screen(content, stage):
            content = WITHHELD
        return Step(call.name, call.arguments, seen.ok, content, seen.seconds)


def _fallback(outcome: Outcome) -> str:
    """An agent cut off before it could answer still reports what its tools found."""
    found = [s for s in outcome.steps if s.ok]
    if not found:
        return f"(no answer: the {outcome.stopped or 'budget'} limit was reached first)"
    last = found[-1]
    return (
        f"(cut off by the {outcome.stopped or 'budget'} limit; last result of {last.tool}: {last.observation[:SHOWN]})"
    )
