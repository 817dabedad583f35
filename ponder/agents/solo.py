"""Agent mode (`mode: agent`, `ponder-agent`): one model that uses ponder's own tools to answer.

The client does not define or run the tools: ponder does (the calculator, the Python sandbox, the
user's documents, MCP servers…), in a loop limited by steps, tokens and time, and returns the final
answer with every call and observation in the `ponder` field. With `delegate`, the agent can hand a
sub-task to another agent as if it were a tool.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TYPE_CHECKING

from ponder.agents.budget import Budget
from ponder.agents.delegate import Delegate, toolbox_for
from ponder.agents.loop import Outcome, ToolLoop
from ponder.config import AgentSettings
from ponder.errors import BadRequest
from ponder.modes.base import Mode, RunRequest
from ponder.modes.instant import InstantMode
from ponder.types import Done, Event, Provenance, TextDelta, Usage

if TYPE_CHECKING:
    from ponder.tools.box import ToolBox


def settings_of(request: RunRequest) -> AgentSettings:
    fields = AgentSettings.model_fields
    return AgentSettings.model_validate({k: v for k, v in request.options.items() if k in fields})


def checked_tools(opts: AgentSettings, box: ToolBox) -> None:
    """A request may narrow the tools to some of the box's, never name one that is not there."""
    unknown = sorted(set(opts.tools or ()) - set(box.names()))
    if unknown:
        raise BadRequest(
            f"unknown tool {unknown[0]!r}; the tools are: {', '.join(box.names()) or '(none)'}", param="tools"
        )


def budget_of(opts: AgentSettings, reserve: int = 0) -> Budget:
    return Budget(opts.total_steps, opts.token_budget, opts.wall_seconds, reserve=reserve)


def inner_mode(opts: AgentSettings) -> Mode:
    if opts.think:
        from ponder.modes.thinking import ThinkingMode

        return ThinkingMode()
    return InstantMode()


class AgentMode:
    name = "agent"
    sections: tuple[str, ...] = ("agents", "reasoning")

    async def run(self, request: RunRequest) -> AsyncGenerator[Event, None]:
        if request.tools is None:
            raise BadRequest("agent mode needs ponder's tools, and none are available here", param="mode")
        opts = settings_of(request)
        budget = budget_of(opts)
        shared = await request.tools()
        checked_tools(opts, shared)
        outcome = Outcome("agent")
        delegate = (
            Delegate(request, shared, budget, opts, depth=1, outcomes=outcome.delegated) if opts.delegate else None
        )
        box = toolbox_for(shared, delegate)
        loop = ToolLoop(
            box, budget, name="agent", tools=opts.tools, max_steps=opts.max_steps, step_tokens=opts.step_tokens,
            inner=inner_mode(opts), first_call=opts.first_call,
        )  # fmt: skip
        async with aclosing(loop.run(request, outcome)) as events:
            async for event in events:
                yield event
        yield TextDelta(outcome.answer, (), request.index)
        yield Provenance("agent", {**outcome.report(), "budget": budget.report()}, request.index)
        yield Usage(outcome.prompt_tokens, budget.tokens_used, 0, 0)
        yield Done("stop" if outcome.stopped is None else "length", request.index)
