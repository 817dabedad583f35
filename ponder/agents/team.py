"""Agents mode (`mode: agents`, `ponder-agents`): plan, solve the parts in parallel with tools, synthesise.

A hard request is often several easy ones. A planner splits it into self-contained sub-tasks (JSON,
constrained by a grammar where the engine supports one); one sub-agent per sub-task works through
the tool loop; all of them run at once, so a batching engine decodes them in the same forward
passes; a synthesiser writes the answer from their results. One `Budget` covers the whole tree
(planner, sub-agents, anything they delegate, and the synthesis, whose share is held back), the
plan and every agent's steps stream as `AgentStep` events, and all of it lands in the provenance.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ponder.agents.budget import Budget
from ponder.agents.delegate import Delegate, toolbox_for
from ponder.agents.loop import SHOWN, Outcome, ToolLoop
from ponder.agents.solo import budget_of, checked_tools, inner_mode, settings_of
from ponder.calls.mode import CallingMode
from ponder.calls.spec import CallPolicy, ResponseFormat
from ponder.config import AgentSettings
from ponder.errors import BadRequest
from ponder.modes.base import RunRequest, answer_of
from ponder.modes.instant import InstantMode
from ponder.types import AgentStep, Done, Event, FinishReason, Message, Progress, Provenance, TextDelta, Usage

if TYPE_CHECKING:
    from ponder.tools.box import ToolBox

PLANNER = (
    "You plan work for a team of assistants. Split the user's request into at most {n} sub-tasks that "
    "can be solved independently and at the same time. Each sub-task must be self-contained: repeat "
    "every number and fact it needs. A simple request is a single sub-task. The assistants can use "
    'these tools: {tools}. Reply with JSON only, in the form {{"subtasks": ["…", "…"]}}.'
)
SYNTHESIS = (
    "{question}\n\nFacts found with tools:\n{facts}\n\nWhat the assistants who worked on the parts concluded:\n"
    "{answers}\n\nUsing these facts, reply to the question above in a few sentences."
)
PLAN_TOKENS = 256


def plan_schema(n: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"subtasks": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": n}},
        "required": ["subtasks"],
    }


def read_plan(text: str, n: int) -> list[str]:
    """The sub-tasks of the planner's JSON, at most `n`; empty when the planner wrote no usable plan."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return []
    tasks = value.get("subtasks") if isinstance(value, dict) else None
    if not isinstance(tasks, list):
        return []
    return [t.strip() for t in tasks if isinstance(t, str) and t.strip()][:n]


def last_user(request: RunRequest) -> str:
    return next((m.content for m in reversed(request.messages) if m.role == "user"), "")


class AgentsMode:
    name = "agents"
    sections: tuple[str, ...] = ("agents", "reasoning")

    async def run(self, request: RunRequest) -> AsyncGenerator[Event, None]:
        if request.tools is None:
            raise BadRequest("agents mode needs ponder's tools, and none are available here", param="mode")
        opts = settings_of(request)
        shared = await request.tools()
        checked_tools(opts, shared)
        budget = budget_of(opts, reserve=min(opts.synthesis_tokens, opts.token_budget // 2))

        tasks, planned = await self._plan(request, opts, shared.names(), budget)
        prompt = planned.prompt_tokens
        yield AgentStep("planner", "plan", json.dumps(tasks, ensure_ascii=False), index=request.index)

        outcomes = [Outcome(f"agent-{i + 1}", task) for i, task in enumerate(tasks)]
        async with aclosing(self._solve(request, opts, shared, budget, outcomes)) as events:
            async for event in events:
                yield event

        room = min(request.params.max_tokens, budget.release())
        finish: FinishReason = "stop"
        answered = 0
        if room > 0 and budget.seconds_left > 0:
            synthesis = replace(
                request,
                messages=synthesis_messages(request, outcomes),
                params=request.params.model_copy(update={"max_tokens": room}),
            )
            try:
                async with asyncio.timeout(budget.seconds_left), aclosing(InstantMode().run(synthesis)) as events:
                    async for event in events:
                        if isinstance(event, Usage):
                            answered, prompt = event.completion_tokens, max(prompt, event.prompt_tokens)
                        elif isinstance(event, Done):
                            finish = event.finish_reason
                        else:
                            yield event
            except TimeoutError:  # the request's wall time ran out mid-answer: what was written stands
                finish = "length"
            budget.spend(answered)
        else:  # nothing left to write with, or no time: the agents' results are the answer
            yield TextDelta(_results(outcomes), (), request.index)
            finish = "length"
        report = {
            "plan": tasks,
            "agents": [o.report() for o in outcomes],
            "planner_tokens": planned.completion_tokens,
            "synthesis_tokens": answered,
            "budget": budget.report(),
        }
        yield Provenance("agents", report, request.index)
        yield Usage(max(prompt, *(o.prompt_tokens for o in outcomes)), budget.tokens_used, 0, 0)
        yield Done(finish, request.index)

    async def _plan(
        self, request: RunRequest, opts: AgentSettings, tools: list[str], budget: Budget
    ) -> tuple[list[str], Usage]:
        """The sub-tasks (the request itself when the planner gives nothing usable) and what planning cost."""
        if opts.subagents == 1:
            return [last_user(request)], Usage()
        fmt = ResponseFormat("json_schema", plan_schema(opts.subagents), "plan")
        system = PLANNER.format(n=opts.subagents, tools=", ".join(tools) or "none")
        convo = [Message(role="system", content=system), *(m for m in request.messages if m.role != "system")]
        params = request.params.model_copy(
            update={"max_tokens": min(PLAN_TOKENS, budget.tokens_left), "temperature": 0.0}
        )
        sub = replace(request, messages=convo, params=params)
        try:
            async with asyncio.timeout(budget.seconds_left):
                text, usage = await answer_of(CallingMode(InstantMode(), CallPolicy(response_format=fmt)), sub)
        except TimeoutError:  # no plan in time: the request itself is the one sub-task
            return [last_user(request)], Usage()
        budget.spend(usage.completion_tokens)
        return read_plan(text, opts.subagents) or [last_user(request)], usage

    async def _solve(
        self, request: RunRequest, opts: AgentSettings, shared: ToolBox, budget: Budget, outcomes: list[Outcome]
    ) -> AsyncGenerator[Event, None]:
        """Run every sub-agent at once, passing their steps on as they happen."""
        queue: asyncio.Queue[Event | BaseException | None] = asyncio.Queue()

        async def one(outcome: Outcome) -> None:
            delegate = Delegate(request, shared, budget, opts, 1, outcome.delegated) if opts.delegate else None
            loop = ToolLoop(
                toolbox_for(shared, delegate), budget, name=outcome.agent, tools=opts.tools,
                max_steps=opts.max_steps, step_tokens=opts.step_tokens, inner=inner_mode(opts),
                first_call=opts.first_call,
            )  # fmt: skip
            # The sub-task alone: shown the whole request too, the 1.5B answered the other part.
            messages = [Message(role="user", content=outcome.task)]
            try:
                async with aclosing(loop.run(replace(request, messages=messages), outcome)) as events:
                    async for event in events:
                        await queue.put(event)
            except BaseException as exc:  # re-raised by the consumer below
                await queue.put(exc)
            finally:
                await queue.put(None)

        workers = [asyncio.create_task(one(o)) for o in outcomes]
        yield Progress(running=len(workers), stopped=0, finished=0, index=request.index)
        try:
            pending = len(workers)
            while pending:
                item = await queue.get()
                if item is None:
                    pending -= 1
                    yield Progress(
                        running=pending,
                        stopped=sum(1 for o in outcomes if o.stopped),
                        finished=len(workers) - pending,
                        tokens=budget.tokens_used,
                        index=request.index,
                    )
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


def synthesis_messages(request: RunRequest, outcomes: list[Outcome]) -> list[Message]:
    """The conversation with its last request restated beside the findings, in one turn.

    As a separate turn after the request, the 1.5B copied the first sub-agent's sentence; with the
    question and the tool results side by side it answers the question.
    """
    messages = list(request.messages)
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=len(messages))
    question = messages[last].content if last < len(messages) else ""
    answers = "\n".join(f"- {o.answer}" for o in outcomes)
    turn = Message(role="user", content=SYNTHESIS.format(question=question, facts=_facts(outcomes), answers=answers))
    return [*messages[:last], turn, *messages[last + 1 :]]


def _results(outcomes: list[Outcome]) -> str:
    """The agents' answers, each after what its tools returned: what is shown when nothing is left to synthesise."""
    return "\n\n".join(f"{o.task}\n{_facts([o])}\n{o.answer}" for o in outcomes)


def _facts(outcomes: list[Outcome]) -> str:
    """What the tools returned, a line each: a small model's closing sentence can garble a number its tool got right.

    Plain lines, not a labelled record: given "Sub-task 1: … Tool …(…) returned: …", the 1.5B echoed the format.
    """
    facts = [f"- {s.observation[:SHOWN].strip()}" for o in outcomes for s in o.steps if s.ok]
    return "\n".join(facts) or "- (no tool results)"
