"""Sub-agents as tools: an agent hands a self-contained sub-task to another agent and reads its answer.

To the calling model, `delegate` is one more tool with one argument (the task). Behind it runs a
full `ToolLoop` with the same tools and the same shared `Budget`, so delegation can never escape
the limits of the request that started it; below `max_depth` the sub-agent cannot delegate again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ponder.agents.budget import Budget
from ponder.agents.loop import Outcome, ToolLoop
from ponder.errors import ToolError
from ponder.modes.base import RunRequest
from ponder.tools.base import openai_spec
from ponder.types import Message

if TYPE_CHECKING:
    from ponder.config import AgentSettings
    from ponder.tools.box import ToolBox


class Delegate:
    """The `delegate` tool: runs a sub-agent on the task it is given, within the caller's budget."""

    name = "delegate"
    description = (
        "Hand a self-contained sub-task to another assistant that has the same tools, and get its answer. "
        "Include every number and fact the sub-task needs."
    )
    outside_text = True
    """The sub-agent's answer may relay what its own tools read (a document, an MCP server)."""
    parameters: dict[str, Any] = {  # noqa: RUF012 - the Tool protocol's attribute
        "type": "object",
        "properties": {"task": {"type": "string", "description": "The sub-task, stated completely."}},
        "required": ["task"],
    }

    def __init__(
        self,
        request: RunRequest,
        box: ToolBox,
        budget: Budget,
        opts: AgentSettings,
        depth: int,
        outcomes: list[Outcome] | None = None,
    ) -> None:
        self.request, self.box, self.budget, self.opts, self.depth = request, box, budget, opts, depth
        self.outcomes: list[Outcome] = [] if outcomes is None else outcomes
        """The sub-agents this tool ran: the calling agent's `Outcome.delegated`, so they land in the provenance."""

    def spec(self) -> dict[str, Any]:
        return openai_spec(self.name, self.description, self.parameters)

    async def run(self, arguments: dict[str, Any]) -> str:
        task = str(arguments.get("task", "")).strip()
        if not task:
            raise ToolError('delegate needs a task: {"task": "what the other assistant should do"}')
        outcome = Outcome(f"delegate-{self.depth}.{len(self.outcomes) + 1}", task)
        self.outcomes.append(outcome)
        deeper = Delegate(self.request, self.box, self.budget, self.opts, self.depth + 1, outcome.delegated)
        box = toolbox_for(self.box, deeper if self.depth + 1 < self.opts.max_depth else None)
        messages = [Message(role="user", content=task)]
        loop = ToolLoop(box, self.budget, name=outcome.agent, tools=self.opts.tools, max_steps=self.opts.max_steps,
                        step_tokens=self.opts.step_tokens)  # fmt: skip
        async for _ in loop.run(replace(self.request, messages=messages), outcome):
            pass
        return outcome.answer


def toolbox_for(shared: ToolBox, delegate: Delegate | None) -> ToolBox:
    """The shared box, plus this request's `delegate` tool when delegation is on."""
    return shared if delegate is None else shared.extended([delegate])
