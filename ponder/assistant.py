"""The library entry point: one object that turns "ask this, this way" into an `Event` stream.

The server and the CLI are thin layers over `Assistant`. It decides which model and which mode a
request means (the `ponder-<mode>` aliases, a model name, `reasoning_effort`, an explicit `mode`),
opens backends lazily (one per model, shared by every request), and runs the mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ponder.backends.base import Backend, open_backend
from ponder.calls.mode import CallingMode
from ponder.calls.spec import CallPolicy, check_conversation
from ponder.config import Effort, Settings
from ponder.errors import BackendError, BadRequest, UnknownPlugin, WrongModelKind, first_problem
from ponder.guard.base import Guard
from ponder.guard.policy import Asked, Decision, Screen
from ponder.guard.stream import Polled, guarded, reassured, refused, request_text, settled
from ponder.media import Flag, Memo, perceive
from ponder.models import ModelKind, model_names, relevance_threshold, resolve, whisper
from ponder.models.templates import ChatTemplate
from ponder.modes.base import Mode, RunRequest, collect_usage, get_mode, modes, openings_of, run_choices
from ponder.types import Event, Message, SamplingParams

if TYPE_CHECKING:
    from ponder.tools.box import ToolBox

ALIAS_PREFIX = "ponder-"


@dataclass(frozen=True)
class Plan:
    """What a request resolved to."""

    model: str
    mode: str
    thinking_budget: int


class Assistant:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._backends: dict[str, Backend] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._screen: Screen | None = None
        self._toolbox: ToolBox | None = None
        self._toolbox_lock = asyncio.Lock()

    def sharing(self, settings: Settings) -> Assistant:
        """An assistant on other settings (the guard off, say) that uses this one's loaded models.

        Close only this one: the backends are the same objects.
        """
        other = Assistant(settings)
        other._backends, other._locks = self._backends, self._locks
        return other

    # --- names --------------------------------------------------------------------------------

    def aliases(self) -> list[str]:
        return [ALIAS_PREFIX + m for m in modes.names()]

    def model_ids(self) -> list[str]:
        """The names a chat request may give: the mode aliases, then the models."""
        return [*self.aliases(), *model_names(self.settings)]

    def model_kinds(self) -> dict[str, ModelKind]:
        """Every name the server answers to and what it is: `chat` models, then `speech` (transcription) models."""
        kinds: dict[str, ModelKind] = dict.fromkeys(self.model_ids(), "chat")
        for name in whisper.ids():
            kinds.setdefault(name, "speech")
        return kinds

    def plan(
        self,
        model: str | None = None,
        mode: str | None = None,
        reasoning_effort: Effort | None = None,
        thinking_budget: int | None = None,
    ) -> Plan:
        name = model or self.settings.model
        implied, alias = "instant", False
        if name.startswith(ALIAS_PREFIX):
            alias = True
            implied = name[len(ALIAS_PREFIX) :]
            if implied not in modes:
                raise UnknownPlugin("model", name, self.model_ids(), param="model")
            name = self.settings.model
        elif name not in model_names(self.settings):
            if name in whisper.ids():
                raise WrongModelKind(
                    f"{name!r} is a speech-recognition model, not a chat model: send audio to /v1/audio/transcriptions"
                    " (`ponder transcribe`), or as an input_audio part (`--audio`) to a chat model; chat models are: "
                    + ", ".join(self.model_ids()),
                    param="model",
                )
            raise UnknownPlugin("model", name, self.model_ids(), param="model")
        if mode is None:
            # A model name plus a reasoning knob means thinking; an explicit `ponder-<mode>` alias wins.
            wants_thinking = reasoning_effort is not None or thinking_budget is not None
            mode = "thinking" if wants_thinking and not alias else implied
        if mode not in modes:
            raise UnknownPlugin("mode", mode, modes.names(), param="mode")
        if thinking_budget is not None and thinking_budget < 0:
            raise BadRequest("thinking_budget must be 0 or more tokens", param="thinking_budget")
        budget = thinking_budget
        if budget is None:
            budget = self.settings.reasoning.budget(reasoning_effort or self.settings.reasoning.effort)
        return Plan(name, mode, budget)

    # --- backends -----------------------------------------------------------------------------

    async def backend(self, model: str) -> Backend:
        if model in self._backends:
            return self._backends[model]
        lock = self._locks.setdefault(model, asyncio.Lock())
        async with lock:
            if model not in self._backends:
                spec = resolve(self.settings, model)
                self._backends[model] = await asyncio.to_thread(open_backend, spec, self.settings)
        return self._backends[model]

    def loaded(self) -> list[str]:
        return list(self._backends)

    async def toolbox(self) -> ToolBox:
        """ponder's own tools, opened on first use (MCP servers start then) and shared by every request."""
        async with self._toolbox_lock:
            if self._toolbox is None:
                from ponder.tools.box import ToolBox

                self._toolbox = await ToolBox(self.settings).__aenter__()
        return self._toolbox

    async def aclose(self) -> None:
        if self._toolbox is not None:
            await self._toolbox.aclose()
            self._toolbox = None
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()

    def _options(self, mode: str, sections: tuple[str, ...], given: dict[str, Any]) -> dict[str, Any]:
        """A mode's options: the settings sections it reads, overridden by the request, checked once here."""
        models: list[BaseModel] = [getattr(self.settings, name) for name in sections]
        valid = sorted({key for m in models for key in type(m).model_fields})
        unknown = sorted(set(given) - set(valid))
        if unknown:
            raise BadRequest(
                f"unknown {mode} option {unknown[0]!r}; valid options are: {', '.join(valid) or '(none)'}",
                param=unknown[0],
            )
        merged: dict[str, Any] = {}
        for m in models:
            own = {k: v for k, v in given.items() if k in type(m).model_fields}
            try:
                merged |= type(m).model_validate({**m.model_dump(), **own}).model_dump()
            except ValidationError as exc:
                where, problem = first_problem(exc)
                raise BadRequest(f"{mode} option {where}: {problem}", param=where) from None
        return merged

    # --- safety ---------------------------------------------------------------------------------

    def _majority(self, mode: Mode, request: RunRequest) -> Polled | None:
        """The model's openings for `request` and the run that answers from the majority's side
        (`guard.majority_openings`), for a mode polled by itself or another (`Mode.polled_by`), when it
        samples (greedy openings are all alike) freely (no grammar) and at some length.

        A mode polled by another (thinking, contemplate and auto, by instant under instant's own options)
        answers a refusal in that mode, continuing the refusing opening, and an answer its own way. The
        first tokens of a trace do not refuse as an answer's do: without instant's openings, thinking
        answered 5 of XSTest's unsafe items 101-140 (`bench/results/safety-1.5b-v14-thinking-xstest-101-140`),
        instant 2, and instant's model had refused four of those five in words.
        """
        g = self.settings.guard
        k, tokens, p = g.majority_openings, g.majority_tokens, request.params
        by = getattr(mode, "polled_by", "")
        if not by or k < 2 or p.temperature <= 0 or p.grammar or p.max_tokens < 2 * tokens:
            return None
        pollster = mode if by == mode.name else get_mode(by)
        polling = request if pollster is mode else replace(request, options=self._options(by, pollster.sections, {}))
        update = {"max_tokens": tokens, "logprobs": False, "top_logprobs": 0}
        short = replace(polling, params=p.model_copy(update=update))

        first = min(g.majority_first, k)

        async def openings() -> list[str]:
            drawn = await openings_of(pollster, short, first)
            if settled(drawn, k, g.majority_refuses_from):
                return drawn
            seed = None if p.seed is None else p.seed + first  # the choices an all-at-once poll would make
            rest = replace(short, params=short.params.model_copy(update={"seed": seed}))
            return drawn + await openings_of(pollster, rest, k - first)

        def answer_from(words: str, refuses: bool) -> AsyncGenerator[Event, None]:
            if pollster is not mode and not refuses:
                return collect_usage(run_choices(mode, request, 1))
            left = max(p.max_tokens - request.backend.count_tokens(words), 1)
            start = replace(polling, params=p.model_copy(update={"max_tokens": left}), opening=words)
            return collect_usage(run_choices(pollster, start, 1))

        return Polled(openings, answer_from)

    def screen(self) -> Screen | None:
        """The guard, loaded on first use (None when the operator turned it off)."""
        g = self.settings.guard
        if not g.enabled:
            return None
        if self._screen is None:
            from ponder.guard import classifier
            from ponder.guard.audit import AuditLog
            from ponder.guard.judge import JudgeGuard

            judge_model = g.judge_model or self.settings.model

            async def opener() -> tuple[Backend, ChatTemplate]:
                return await self.backend(judge_model), resolve(self.settings, judge_model).template

            log = g.log_file or self.settings.cache_dir / "guard-log.jsonl"
            probe = self._probe(judge_model) if g.probe else None
            self._screen = Screen(g, classifier.shared(), JudgeGuard(opener), AuditLog(log), probe)
        return self._screen

    def _probe(self, model: str) -> Guard | None:
        """The probe of `model`'s hidden states, when a head was shipped for its file (catalogue models only,
        served by the local engine). It reads on the engine that answers, so the answer to the request reuses
        the reading's prefill."""
        from ponder.backends.llama import LlamaBackend
        from ponder.guard import probe

        spec = resolve(self.settings, model)
        head = probe.shipped(spec.name, spec.catalogue.sha256) if spec.catalogue is not None else None
        if head is None or spec.backend != "llama":
            return None

        async def read(prompt: str) -> probe.Array:
            backend = await self.backend(model)
            if not isinstance(backend, LlamaBackend):  # a plugin registered another backend as "llama"
                raise BackendError(f"the guard's probe reads {model}'s hidden states, which its backend does not give")
            return await backend.read(prompt)

        return probe.ProbeGuard(head, read)

    # --- running --------------------------------------------------------------------------------

    async def run(
        self,
        plan: Plan,
        messages: Sequence[Message],
        params: SamplingParams,
        n: int = 1,
        options: dict[str, Any] | None = None,
        calls: CallPolicy | None = None,
        *,
        memo: Memo | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Stream the events of `n` choices; ends with one merged `Usage`.

        `options` are the mode's own (contemplate's agents, …): the settings section named after the
        mode gives the defaults, and the request's options override them. `calls` are the client's
        tools, `tool_choice` and `response_format` (see `ponder.calls`). `memo` keeps what a
        conversation's attachments were perceived as, so a later turn does not perceive them again.
        """
        if not messages:
            raise BadRequest("messages must contain at least one message", param="messages")
        check_conversation(messages)
        seen: list[Event] = []
        flags: list[Flag] = []
        quoted: list[str] = []
        asked = messages  # what the guard reads: the user's words, not the observation's format
        if any(m.media for m in messages):
            perceived = await perceive(messages, self.settings, memo)
            messages, seen = perceived.messages, list(perceived.events)
            flags, quoted = perceived.flags, perceived.quoted
        backend = await self.backend(plan.model)
        spec = resolve(self.settings, plan.model)
        template = spec.template
        mode = get_mode(plan.mode)
        if calls is not None:
            if calls.relevance is None:  # the check's threshold is on the answering model's own scale
                calls = replace(calls, relevance=relevance_threshold(self.settings, spec))
            mode = CallingMode(mode, calls)
        merged = self._options(plan.mode, mode.sections, options or {})
        screen = self.screen()
        told = Asked(request_text(asked))  # the guard's view of the request, for the mode's hook too
        hook = partial(screen.vetoes, asked=told) if screen is not None else None
        request = RunRequest(
            backend,
            template,
            messages,
            params,
            plan.thinking_budget,
            options=merged,
            screen=hook,
            refuse_from_blocked=self.settings.guard.refuse_from_blocked,
            tools=self.toolbox,
        )
        events = collect_usage(run_choices(mode, request, n))
        if screen is not None:
            again = polled = None
            if calls is None and n == 1:  # a harmless request the model refused is asked once more
                opening = self.settings.guard.answer_again_opening if getattr(mode, "opens", False) else ""

                def again() -> AsyncGenerator[Event, None]:
                    retry = replace(request, messages=reassured(request.messages), opening=opening)
                    return collect_usage(run_choices(mode, retry, n))

                polled = self._majority(mode, request)
            events = guarded(screen, asked, n, events, again, told=told, polled=polled)
            blocked = await attachment_refused(screen, flags, quoted)
            if blocked is not None:  # the model never runs; the refusal is the answer
                await events.aclose()
                events = refused(blocked, n)
        async with aclosing(events) as stream:
            async for event in stream:
                # What was perceived goes out after the run's first event, so that failures up front
                # (a full queue, a prompt too long) still raise before anything is sent.
                while seen:
                    yield seen.pop(0)
                yield event


async def attachment_refused(screen: Screen, flags: list[Flag], quoted: list[str]) -> Decision | None:
    """The guard's block on an attachment: a hazard a perceiver saw (an explicit image), or the text
    read inside one (an injection written on a picture), judged like the user's own words."""
    for f in flags:
        if (decision := screen.decide(f.category, f.score, "input", f.source, f.note)).blocks:
            return decision
    for text in quoted:
        if (decision := await screen.check(text, "input")).blocks:
            return decision
    return None
