"""The terminal chat: streams the event stream, thinking dimmed on stderr, the answer on stdout.

An interactive conversation sends its attachments with every turn (the model reads the whole
history each time), but perceives each one only once: OCR and speech recognition take seconds, and
the answer to "and the second line?" should not wait for them again.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from ponder.assistant import Assistant, Plan
from ponder.config import Settings
from ponder.media import Memo
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
    assistant: Assistant,
    plan: Plan,
    history: list[Message],
    params: SamplingParams,
    out: Console,
    err: Console,
    memo: Memo | None = None,
) -> str:
    answer: list[str] = []
    thinking = ended = False
    async for ev in assistant.run(plan, history, params, memo=memo):
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
        elif isinstance(ev, Perception) and not ev.cached:  # described on the turn it was attached
            err.print(_seen(ev), style="dim", highlight=False, markup=False)
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
    if ev.kind == "audio":
        heard = f"{s.get('duration', 0):.1f} s, language {s.get('language')} ({s.get('language_probability', 0):.0%})"
        return f"audio {ev.item}: {heard}, {s.get('model')} ({took})"
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
    interactive: bool = False,
) -> None:
    """`media` go with QUESTION, or are the whole question when there is none (a spoken one).

    Interactive (no QUESTION and no media, or `interactive`), the conversation goes on until an empty
    line; a QUESTION or audio is answered first, and images without either go with the first line typed.
    """
    assistant = Assistant(settings)
    params = SamplingParams(
        max_tokens=max_tokens or settings.server.max_tokens_default, temperature=temperature, seed=seed
    )
    history: list[Message] = []
    memo: Memo = {}  # the attachments, perceived once for the whole conversation
    pending = list(media)
    try:
        if question is not None or any(m.kind == "audio" for m in media) or (media and not interactive):
            history.append(Message(role="user", content=question or "", media=pending))
            pending = []
            reply = await _answer(assistant, plan, history, params, out, err, memo)
            history.append(Message(role="assistant", content=reply))
            if not interactive:
                return
        err.print(f"[dim]ponder chat · {plan.model} · {plan.mode} · empty line or Ctrl-D to quit[/dim]")
        while True:
            try:
                line = err.input("[bold]> [/bold]")
            except EOFError:
                break
            if not line.strip():
                break
            history.append(Message(role="user", content=line, media=pending))
            pending = []
            reply = await _answer(assistant, plan, history, params, out, err, memo)
            history.append(Message(role="assistant", content=reply))
    finally:
        await assistant.aclose()
