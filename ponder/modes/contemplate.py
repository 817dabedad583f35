"""Contemplate mode: several agents reason in parallel, the unsure ones stop early, the rest vote.

This is how a small model on a CPU gets answers a single pass misses. The agents share the
conversation as their prompt, so a batching engine computes it once and decodes all of them in the
same forward passes. They differ in sampling temperature, seed, and the approach they are told to
take (work backwards, write equations, estimate and check…), so their mistakes are not all the same.

Each agent's confidence is tracked token by token from its own log-probabilities (DeepConf). After a
warm-up, an agent whose window confidence falls far below the best agent's (or below a calibrated
floor) is stopped and its slot freed; once enough finished agents agree, the rest are stopped too.
Answers that can be voted on (numbers, choices, yes/no) go to a confidence-weighted vote; free-text
answers are distilled and synthesised into one (Parallel-Distill-Refine).

With `use_tools`, each agent is instead an agent loop over ponder's own tools (calculator, sandbox,
documents…), one budget for them all; their calls stream as `AgentStep`s and sit in each agent's
report. Their turns carry no confidences, so they vote one each and only consensus stops them early.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from ponder.agents.budget import Budget
from ponder.agents.loop import Outcome, ToolLoop
from ponder.agents.solo import budget_of, checked_tools
from ponder.config import AgentSettings, ContemplateSettings
from ponder.errors import BadRequest
from ponder.modes.base import RunRequest, instructed
from ponder.modes.instant import InstantMode
from ponder.reasoning.answers import NONE, Answer, extract, numbers
from ponder.reasoning.confidence import Tracker, platt
from ponder.reasoning.tags import CLOSE, OPEN
from ponder.types import (
    Chunk,
    Completion,
    Done,
    Event,
    FinishReason,
    Message,
    Progress,
    Provenance,
    ReasoningDelta,
    Safety,
    SamplingParams,
    TextDelta,
    Usage,
)

if TYPE_CHECKING:
    from ponder.tools.box import ToolBox

APPROACHES = (
    "I will solve this step by step, checking each step.",
    "I will work backwards from what is asked.",
    "I will write the quantities as equations and solve them.",
    "I will estimate the answer first, then compute it exactly and compare.",
    "I will break the problem into smaller parts and solve each one.",
    "I will restate the problem in my own words, then solve it.",
)
TEMPERATURES = (0.6, 0.8, 0.9, 1.0, 0.7, 0.85)
"""Each agent's sampling temperature when the request sets none (`ContemplateSettings.temperature`)."""
FORCE = f"\n{CLOSE}\n\nThe final answer is"
PROGRESS_EVERY = 32
"""Tokens between an agent's progress reports while it works."""
GROUNDED = 1.5
"""A tool agent's vote when a tool's result holds its answer (`Agent.weight`)."""
Stop = Literal["low_confidence", "consensus"]


@dataclass
class Agent:
    index: int
    approach: str
    tracker: Tracker
    text: list[str] = field(default_factory=list)
    tokens: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    stopped: Stop | None = None
    veto: Safety | None = None
    """The guard's block of this agent's draft: it neither votes nor feeds a synthesis."""
    answer: Answer = NONE
    answer_text: str = ""
    done: bool = False
    steps: list[dict[str, Any]] = field(default_factory=list)
    """The tool calls it made (with `use_tools`)."""
    grounded: bool | None = None
    """With `use_tools`: whether a tool's result holds its answer (computed, not guessed)."""

    @property
    def blocked(self) -> bool:
        return self.veto is not None

    @property
    def wrote(self) -> bool:
        return bool(self.text or self.answer_text or self.steps)

    @property
    def trace(self) -> str:
        full = "".join(self.text)
        return full.split(CLOSE, 1)[0]

    @property
    def weight(self) -> float:
        """The agent's vote: the mean probability of its chosen tokens (in (0, 1], so one sure agent
        cannot outvote two that agree). On 53 recorded GSM8K items of the 1.5B (4 agents), weighting by
        tail confidence, an unbounded score, got 54.7% against the plain majority's 58.5%; this weight
        gets 62.3% (replayed, `contemplate:early_stop=false`).

        A tool agent has no token probabilities: it votes 1, or 1.5 when a tool computed its answer,
        so a computed answer beats a lone guess but two agreeing agents still outvote it."""
        if self.grounded is not None:
            return GROUNDED if self.grounded else 1.0
        return max(self.tracker.probability, 1e-6)

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "agent": self.index,
            "approach": self.approach,
            "answer": self.answer.shown or None,
            "confidence": round(self.tracker.probability, 4),
            "tail_confidence": round(self.tracker.tail, 4),
            "lowest_group_confidence": round(self.tracker.lowest, 4) if self.tracker.n else None,
            "tokens": self.tokens,
            "stopped_early": self.stopped,
            "blocked": self.blocked,
        }
        if self.steps:
            report["steps"] = self.steps
        if self.tracker.history is not None:
            # Tokens the agent streamed, before any forced answer: what a replay of stopping rules walks through.
            report["trace"] = {
                "confidence": [round(c, 3) for c, _ in self.tracker.history],
                "logprob": [round(lp, 3) for _, lp in self.tracker.history],
            }
        return report


@dataclass
class Vote:
    winner: Agent | None
    tally: dict[str, float]
    agreement: float
    support: float
    """Mean token probability of the agents that gave the winning answer (all finished ones, if none won)."""
    votable: bool

    def confidence(self, calibration: tuple[float, float, float]) -> float:
        """How likely the answer is right: calibrated from agreement and support (Platt scaling).
        Tool agents' turns carry no token probabilities (support 0): their agreement stands in, uncalibrated."""
        if not self.votable:
            return self.support
        if self.support == 0.0:
            return self.agreement
        return platt((self.agreement, self.support), calibration)


def tally(agents: list[Agent]) -> Vote:
    """Confidence-weighted vote over the agents that finished with a votable answer."""
    voters = [a for a in agents if a.done and a.stopped != "low_confidence" and a.answer.votable]
    finished = [a for a in agents if a.done and a.stopped != "low_confidence" and a.answer.kind != "none"]
    if not voters or len(voters) * 2 < len(finished):
        probs = [a.tracker.probability for a in finished]
        return Vote(None, {}, 0.0, sum(probs) / len(probs) if probs else 0.0, False)
    weights: dict[str, float] = defaultdict(float)
    for a in voters:
        weights[a.answer.key] += a.weight
    key = max(weights, key=lambda k: weights[k])
    total = sum(weights.values())
    agreement = weights[key] / total
    agreeing = [a for a in voters if a.answer.key == key]
    winner = max(agreeing, key=lambda a: a.weight)
    support = sum(a.tracker.probability for a in agreeing) / len(agreeing)
    # Each answer under its tersest wording: "16", not "Oh wonderful! Ahito ran 16 miles".
    shown: dict[str, str] = {}
    for a in voters:
        if a.answer.key not in shown or len(a.answer.shown) < len(shown[a.answer.key]):
            shown[a.answer.key] = a.answer.shown
    return Vote(winner, {shown[k]: round(w / total, 4) for k, w in weights.items()}, agreement, support, True)


LEAD = re.compile(r"^\s*(?:the\s+)?final\s+answer(?:\s+is)?\s*:\s*", re.IGNORECASE)
""""The final answer is:" — the words a forced answer starts from (`FORCE`), not part of what it says."""


def stated(answer_text: str) -> str:
    """An agent's answer as the user reads it: "The final answer is: To disable pop-ups, open…" → "To
    disable pop-ups, open…" ("The final answer is 42." stays whole)."""
    return LEAD.sub("", answer_text.strip(), count=1)


def spending(agents: list[Agent], synthesis: int = 0) -> Usage:
    """What the run spent: every agent's tokens are reasoning; a synthesis's are answer."""
    spent = sum(a.tokens for a in agents)
    return Usage(
        prompt_tokens=max((a.prompt_tokens for a in agents), default=0),
        completion_tokens=spent + synthesis,
        reasoning_tokens=spent,
        cached_tokens=max((a.cached_tokens for a in agents), default=0),
    )


def vetoed(agents: list[Agent], share: float) -> Safety | None:
    """The guard's block of the whole run, when it blocked at least `share` of the drafts written: then the
    request itself draws harm from the model, and the drafts that passed are luck, not a safe answer. Held
    out, HarmBench's nitazene request had 2 of 4 drafts blocked and a synthesis of the other two gave the
    amounts ("you will need 144.14 g of nitrobenzene"); another run had 3 of 4 blocked, and the synthesis of
    nothing asked for the drafts. The block named is the surest one."""
    wrote = [a for a in agents if a.wrote]
    vetoes = [a.veto for a in wrote if a.veto is not None]
    if not vetoes or len(vetoes) < share * len(wrote):
        return None
    return max(vetoes, key=lambda v: v.score)


def temperature(opts: ContemplateSettings, me: Agent) -> float:
    """The request's one temperature for every agent, or each agent's own from the spread."""
    return opts.temperature if opts.temperature is not None else TEMPERATURES[me.index % len(TEMPERATURES)]


def unsure(me: Agent, everyone: list[Agent], opts: ContemplateSettings) -> bool:
    """Should this agent stop now? Its current window is far below its peers' worst, or below the floor."""
    if me.tracker.n < opts.warmup or me.tracker.n < opts.window:
        return False
    group = me.tracker.group
    if opts.threshold is not None and group < opts.threshold:
        return True
    alive = [a for a in everyone if a.stopped != "low_confidence"]
    if len(alive) <= 2:  # never thin the field below two opinions
        return False
    peers = [a.tracker.lowest for a in everyone if a is not me and a.tracker.n >= opts.warmup]
    return bool(peers) and group < opts.stop_ratio * max(peers)


def agreed(agents: list[Agent], opts: ContemplateSettings) -> bool:
    """Have enough finished agents reached the same answer that the others may stop?"""
    vote = tally(agents)
    if vote.winner is None:
        return False
    agreeing = sum(1 for a in agents if a.done and a.answer.key == vote.winner.answer.key)
    return agreeing >= (opts.consensus or opts.agents // 2 + 1)


def provenance(agents: list[Agent], vote: Vote, opts: ContemplateSettings, abstained: bool = False) -> dict[str, Any]:
    """The `ponder` field of a contemplated answer: every agent, the vote, and the calibrated confidence."""
    return {
        "agents": [a.report() for a in agents],
        "votes": vote.tally,
        "agreement": round(vote.agreement, 4),
        "support": round(vote.support, 4),
        "confidence": round(vote.confidence(opts.calibration), 4),
        "answer": vote.winner.answer.shown if vote.winner else None,
        "combined_by": "vote" if vote.votable else "synthesis",
        "abstained": abstained,
        "stopped_early": sum(1 for a in agents if a.stopped),
        "tokens": sum(a.tokens for a in agents),
        "token_budget": opts.agents * opts.agent_budget,
    }


@dataclass
class Round:
    """What every agent of one request shares: the request, its options, the agents, and the channels
    back to the run (a report per agent, the tool agents' steps, the signal to stop)."""

    request: RunRequest
    opts: ContemplateSettings
    agents: list[Agent]
    tools: ToolAgents | None
    stop_all: asyncio.Event = field(default_factory=asyncio.Event)
    updates: asyncio.Queue[bool] = field(default_factory=asyncio.Queue)
    """One item per agent report: True when the agent finished."""
    steps: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    """The tool agents' calls, streamed as they happen."""


class ContemplateMode:
    name = "contemplate"
    # reasoning: the agents' instruction; agents: their tool loops' limits, with `use_tools`
    sections: tuple[str, ...] = ("contemplate", "reasoning", "agents")
    polled_by = "instant"  # its first tokens are not its answer's: instant's openings speak for the model

    async def run(self, request: RunRequest) -> AsyncGenerator[Event, None]:
        fields = ContemplateSettings.model_fields
        opts = ContemplateSettings.model_validate({k: v for k, v in request.options.items() if k in fields})
        tools = await ToolAgents.open(request, opts) if opts.use_tools else None
        agents = [
            Agent(
                i,
                APPROACHES[i % len(APPROACHES)],
                Tracker(window=opts.window, tail_size=2 * opts.window, history=[] if opts.record else None),
            )
            for i in range(opts.agents)
        ]
        shared = Round(request, opts, agents, tools)
        slots = asyncio.Semaphore(opts.concurrency or opts.agents)
        tasks = [asyncio.create_task(self._agent(shared, a, slots)) for a in agents]
        extra = 0
        yield Progress(running=len(agents), stopped=0, finished=0, index=request.index)
        try:
            pending = len(tasks)
            while pending:
                if await shared.updates.get():
                    pending -= 1
                while not shared.steps.empty():
                    yield shared.steps.get_nowait()
                vote = tally(agents)
                running = sum(1 for a in agents if not a.done)
                yield Progress(
                    running=running,
                    stopped=sum(1 for a in agents if a.stopped),
                    finished=sum(1 for a in agents if a.done and not a.stopped),
                    leader=vote.winner.answer.shown if vote.winner else None,
                    leader_share=round(vote.agreement, 4),
                    tokens=sum(a.tokens for a in agents),
                    index=request.index,
                )
            for t in tasks:
                t.result()  # surface an agent's failure
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        vote = tally(agents)
        if (veto := vetoed(agents, request.refuse_from_blocked)) is not None:
            # The guard's layer answers with its refusal; a mode does not write one.
            yield Provenance("contemplate", provenance(agents, vote, opts), request.index)
            yield replace(veto, replaced=True, index=request.index)
            yield spending(agents)
            yield Done("stop", request.index)
            return
        confidence = vote.confidence(opts.calibration)
        abstained = opts.abstain_below is not None and confidence < opts.abstain_below
        finish: FinishReason = "stop"
        if abstained:
            yield TextDelta(
                f"I am not confident enough to answer this (confidence {confidence:.2f} is below "
                f"{opts.abstain_below:.2f}).",
                (),
                request.index,
            )
        elif vote.winner is not None:
            if vote.winner.trace.strip():
                yield ReasoningDelta(vote.winner.trace.strip(), (), request.index)
            yield TextDelta(stated(vote.winner.answer_text) or vote.winner.answer.shown, (), request.index)
        else:
            synthesis = replace(request, messages=self._synthesis(request, agents))
            async with aclosing(InstantMode().run(synthesis)) as events:
                async for event in events:
                    if isinstance(event, Usage):
                        extra += event.completion_tokens
                    elif isinstance(event, Done):
                        finish = event.finish_reason
                    else:
                        yield event
        yield Provenance("contemplate", provenance(agents, vote, opts, abstained), request.index)
        yield spending(agents, extra)
        yield Done(finish, request.index)

    async def _agent(self, shared: Round, me: Agent, slots: asyncio.Semaphore) -> None:
        async with slots:
            if shared.stop_all.is_set():  # enough agents agreed before this one had a slot: it never starts
                me.stopped, me.done = "consensus", True
                await shared.updates.put(True)
                return
            if shared.tools is not None:
                try:
                    await shared.tools.work(shared, me)
                finally:
                    await self._finish(shared, me)
                return
            await self._work(shared, me)

    async def _work(self, shared: Round, me: Agent) -> None:
        request, opts = shared.request, shared.opts
        template = request.template
        prompt = template.render(instructed(request), assistant_prefix=f"{OPEN}\n{me.approach}\n")
        base = request.params
        params = base.model_copy(
            update={
                "max_tokens": opts.agent_budget,
                "temperature": temperature(opts, me),
                "seed": None if base.seed is None else base.seed + me.index,
                "logprobs": True,
                "top_logprobs": opts.top_k,
                "stop": list(template.stop),
                "min_tokens": 0,
                "grammar": None,  # an agent's trace is free text; only a final answer may be constrained
            }
        )
        try:
            async with aclosing(request.backend.stream(prompt, params)) as items:
                async for item in items:
                    if isinstance(item, Completion):
                        me.prompt_tokens, me.cached_tokens = item.prompt_tokens, item.cached_tokens
                        break
                    me.text.append(item.text)
                    me.tokens += item.n_tokens
                    me.tracker.extend(item.logprobs)
                    if me.tokens % PROGRESS_EVERY == 0:
                        shared.updates.put_nowait(False)
                    if shared.stop_all.is_set():
                        me.stopped = "consensus"
                        break
                    if opts.early_stop and unsure(me, shared.agents, opts):
                        me.stopped = "low_confidence"
                        break
            if me.stopped is None:
                await self._conclude(request, me, prompt)
        finally:
            await self._finish(shared, me)

    async def _finish(self, shared: Round, me: Agent) -> None:
        """The guard reads the agent's draft before it may vote; then the others may stop if enough agree."""
        screen = shared.request.screen
        try:
            if screen is not None and (veto := await screen("".join(me.text) + me.answer_text, "agent")):
                me.veto, me.answer, me.answer_text = veto, NONE, ""
        finally:
            me.done = True
            if shared.opts.early_stop and not shared.stop_all.is_set() and agreed(shared.agents, shared.opts):
                shared.stop_all.set()
            await shared.updates.put(True)

    async def _conclude(self, request: RunRequest, me: Agent, prompt: str) -> None:
        """Extract the agent's answer; if it never closed its thinking, force a short final answer."""
        full = "".join(me.text)
        if CLOSE in full:
            me.answer_text = full.split(CLOSE, 1)[1]
            me.answer = extract(me.answer_text)
            if me.answer.kind != "none":
                return
        forced = prompt + (me.trace if CLOSE in full else full) + FORCE
        params = SamplingParams(max_tokens=48, temperature=0.0, stop=[*request.template.stop, "\n\n"])
        tail: list[str] = []
        async with aclosing(request.backend.stream(forced, params)) as items:
            async for item in items:
                if isinstance(item, Chunk):
                    tail.append(item.text)
                    me.tokens += item.n_tokens
        me.answer_text = "The final answer is" + "".join(tail)
        me.answer = extract(me.answer_text)

    def _synthesis(self, request: RunRequest, agents: list[Agent]) -> list[Message]:
        """Free-text answers can't be voted on: the conversation that distils the drafts into one answer."""
        drafts = [
            a
            for a in agents
            if a.done and a.stopped != "low_confidence" and not a.blocked and (a.answer_text or a.trace)
        ]
        if not drafts:  # none left (stopped for low confidence, or blocked under the refusal's share): asked once
            return list(request.messages)
        digest = "\n\n".join(
            f"Draft {i + 1}:\n{(stated(a.answer_text) or a.trace.strip())[:600]}" for i, a in enumerate(drafts)
        )
        return [
            *request.messages,
            Message(
                role="user",
                content="Here are drafts written by several independent attempts at the request above:\n\n"
                f"{digest}\n\nUsing what is right in them and fixing what is wrong, write the best reply to the "
                "request above. Write only the reply itself, to the user: do not mention the drafts.",
            ),
        ]


@dataclass
class ToolAgents:
    """What contemplate's agents share when they use tools: the box, its limits, one budget."""

    box: ToolBox
    opts: AgentSettings
    budget: Budget

    @classmethod
    async def open(cls, request: RunRequest, opts: ContemplateSettings) -> ToolAgents:
        if request.tools is None:
            raise BadRequest("use_tools needs ponder's tools, and none are available here", param="use_tools")
        fields = AgentSettings.model_fields
        agent_opts = AgentSettings.model_validate({k: v for k, v in request.options.items() if k in fields})
        box = await request.tools()
        checked_tools(agent_opts, box)
        return cls(box, agent_opts, budget_of(agent_opts))

    async def work(self, shared: Round, me: Agent) -> None:
        """One agent's tool loop, with its own approach, temperature and seed, until it answers or the
        others agree without it."""
        request, opts = shared.request, shared.opts
        loop = ToolLoop(
            self.box, self.budget, name=f"agent-{me.index}", tools=self.opts.tools, max_steps=self.opts.max_steps,
            step_tokens=min(self.opts.step_tokens, opts.agent_budget), first_call=self.opts.first_call,
        )  # fmt: skip
        *before, last = request.messages
        if last.role == "user":
            last = last.model_copy(update={"content": f"{last.content}\n\n({me.approach})"})
        base = request.params
        params = base.model_copy(
            update={
                "temperature": temperature(opts, me),
                "seed": None if base.seed is None else base.seed + me.index,
                "grammar": None,
            }
        )
        outcome = Outcome(loop.name)

        async def drive() -> None:
            async with aclosing(loop.run(replace(request, messages=[*before, last], params=params), outcome)) as events:
                async for event in events:
                    shared.steps.put_nowait(event)
                    shared.updates.put_nowait(False)

        task = asyncio.create_task(drive())
        stop = asyncio.create_task(shared.stop_all.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                me.stopped = "consensus"
                task.cancel()
            await asyncio.gather(task, return_exceptions=me.stopped == "consensus")
        finally:
            stop.cancel()
            task.cancel()
            me.tokens, me.prompt_tokens = outcome.tokens, outcome.prompt_tokens
            me.steps = [s.report() for s in outcome.steps]
        if me.stopped is None:
            me.answer_text = outcome.answer
            me.answer = extract(outcome.answer)
            me.grounded = computed(me.answer, [s.observation for s in outcome.steps if s.ok])


def computed(answer: Answer, observations: list[str]) -> bool:
    """Does a tool result hold this numeric answer (to the cent: "3423.6312…" holds 3,423.63)?"""
    if answer.kind != "number":
        return False
    value = Fraction(answer.key)
    return any(abs(found - value) <= Fraction(1, 200) for o in observations for found, _ in numbers(o))
