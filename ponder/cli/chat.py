"""The terminal chat: streams the event stream, thinking dimmed on stderr, the answer on stdout."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from ponder.assistant import Assistant, Plan
from ponder.config import Settings
from ponder.types import (
    AgentStep,
    Media,
    Message,
    Perception,
    Progress,
    Provenance,
    ReasoningDelta,
    SamplingParams,
    TextDelta,
    ToolCallDelta,
    Usage,
)


async def _answer(
    assistant: Assistant, plan: Plan, history: list[Message], params: SamplingParams, out: Console, err: Console
) -> str:
    answer: list[str] = []
    thinking = ended = False
    async for ev in assistant.run(plan, history, params):
        if isinstance(ev, ReasoningDelta) and ev.text:
            if not thinking:
                err.print("[dim]thinking…[/dim]")
                thinking = True
            err.print(ev.text, style="dim italic", end="", highlight=False, markup=False)
        elif isinstance(ev, TextDelta) and ev.text:
            if thinking:
                err.print()
                err.rule(style="dim")
                thinking = ended = False
            answer.append(ev.text)
            out.print(ev.text, end="", highlight=False, markup=False, soft_wrap=True)
        elif isinstance(ev, AgentStep):
            if ev.kind == "plan":
                err.print(f"plan: {ev.text}", style="dim", highlight=False, markup=False)
            elif ev.kind == "call":
                mark = "→" if ev.ok else "✗"
                err.print(
                    f"{ev.agent}: {ev.text} {mark} {ev.observation[:120]}", style="dim", highlight=False, markup=False
                )
        elif isinstance(ev, ToolCallDelta):  # a call the model made (only with client-defined tools)
            err.print(f"[dim]call {ev.name}(…)[/dim]" if ev.name else f"[dim]{ev.arguments}[/dim]", highlight=False)
        elif isinstance(ev, Perception):
            err.print(f"[dim]{_seen(ev)}[/dim]", highlight=False, markup=False)
        elif isinstance(ev, Progress):
            leader = f", leading answer: {ev.leader} ({ev.leader_share:.0%})" if ev.leader else ""
            err.print(f"[dim]agents: {ev.running} running, {ev.stopped} stopped early{leader}[/dim]", highlight=False)
        elif isinstance(ev, Provenance):
            if answer and not ended:
                out.print()
                ended = True
            report = ev.report
            if ev.mode == "auto":
                err.print(f"[dim]auto chose {report['chose']}: {report['reason']}[/dim]", highlight=False)
            elif "confidence" in report:
                err.print(f"[dim]confidence {report['confidence']}, votes {report.get('votes')}[/dim]", highlight=False)
        elif isinstance(ev, Usage):
            if not ended:
                out.print()
            detail = f", {ev.reasoning_tokens} thinking" if ev.reasoning_tokens else ""
            err.print(f"[dim]{ev.completion_tokens} tokens{detail}[/dim]", highlight=False)
    return "".join(answer)


def _seen(ev: Perception) -> str:
    """One line on what was perceived in an attachment: what was found, and where the time went."""
    s = ev.summary
    took = ", ".join(f"{stage} {t:.2f}s" for stage, t in (ev.timings or {}).items())
    if ev.kind == "image":
        found = ", ".join([f"{len(s.get('text', []))} lines of text", *s.get("shapes", []), *s.get("labels", {})])
        return f"image {ev.item}: {s.get('width')}×{s.get('height')} {s.get('format')}; {found} ({took})"
    plain = ", ".join(f"{k} {v}" for k, v in s.items() if isinstance(v, str | int | float))
    return f"{ev.kind} {ev.item}: {plain} ({took})"


async def run_chat(
    settings: Settings,
    question: str | None,
    plan: Plan,
    max_tokens: int | None,
    temperature: float,
    seed: int | None,
    out: Console,
    err: Console,
    media: Sequence[Media] = (),
) -> None:
    """`media` (spoken questions) go with QUESTION, or are the whole question when there is none."""
    assistant = Assistant(settings)
    params = SamplingParams(
        max_tokens=max_tokens or settings.server.max_tokens_default, temperature=temperature, seed=seed
    )
    try:
        if question is not None or media:
            ask = Message(role="user", content=question or "", media=list(media))
            await _answer(assistant, plan, [ask], params, out, err)
            return
        err.print(f"[dim]ponder chat · {plan.model} · {plan.mode} · empty line or Ctrl-D to quit[/dim]")
        history: list[Message] = []
        while True:
            try:
                line = err.input("[bold]> [/bold]")
            except EOFError:
                break
            if not line.strip():
                break
            history.append(Message(role="user", content=line, media=[] if history else media or []))
            reply = await _answer(assistant, plan, history, params, out, err)
            history.append(Message(role="assistant", content=reply))
    finally:
        await assistant.aclose()
