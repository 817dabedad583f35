"""Running modes over a dataset: resumable, one JSON line per (setting, item), local or remote.

A *setting* is a mode with options, written `mode` or `mode:key=value,key=value`, for example
`thinking:budget=256` or `contemplate:agents=4,early_stop=false`. Results are appended to
`results.jsonl` as each item finishes, so an interrupted run picks up where it stopped. A contemplate
run without early stopping keeps every agent's answer, so the same run also answers the plain
majority-vote baseline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ponder.assistant import Assistant
from ponder.config import Effort, Settings
from ponder.errors import BadRequest
from ponder.evals.datasets import Item
from ponder.evals.graders import grade
from ponder.guard import cost
from ponder.modes.base import nest_provenance
from ponder.reasoning.confidence import Tracker
from ponder.types import Message, Provenance, Safety, SamplingParams, TextDelta, Usage

THINKING_KEYS = {"budget": "thinking_budget", "effort": "reasoning_effort"}
GUARD_STATES = {"on": True, "off": False, "true": True, "false": False}


@dataclass(frozen=True)
class Setting:
    name: str
    mode: str
    thinking_budget: int | None = None
    reasoning_effort: Effort | None = None
    options: tuple[tuple[str, Any], ...] = ()
    guard: bool | None = None
    """Run with the guard on or off (None: as the settings say)."""


def parse_settings(text: str) -> list[Setting]:
    """`instant,thinking:budget=256,contemplate:agents=4,early_stop=false`: a part with `=` and no `:`
    continues the setting before it."""
    groups: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "=" in part and ":" not in part and groups:
            groups[-1] += "," + part
        else:
            groups.append(part)
    settings = [parse_setting(g) for g in groups]
    if not settings:
        raise BadRequest("no setting to run: give --modes, e.g. instant,thinking")
    return settings


def parse_setting(text: str) -> Setting:
    mode, _, rest = text.partition(":")
    fields: dict[str, Any] = {}
    options: list[tuple[str, Any]] = []
    for part in filter(None, rest.split(",")):
        key, eq, raw = part.partition("=")
        if not eq:
            raise BadRequest(f"setting {text!r}: expected key=value, got {part!r}")
        value: Any = json.loads(raw) if raw in ("true", "false") or raw.replace(".", "", 1).isdigit() else raw
        if key in THINKING_KEYS:
            fields[THINKING_KEYS[key]] = value
        elif key == "guard":
            if raw not in GUARD_STATES:
                raise BadRequest(f"setting {text!r}: guard is on or off, got {raw!r}")
            fields["guard"] = GUARD_STATES[raw]
        else:
            options.append((key, value))
    return Setting(text, mode, options=tuple(options), **fields)


def with_guard(settings_: list[Setting], states: str) -> list[Setting]:
    """Each setting once per guard state in `states` (`on,off`), named `mode:…,guard=on`."""
    wanted = [s.strip() for s in states.split(",") if s.strip()]
    bad = [s for s in wanted if s not in GUARD_STATES]
    if bad or not wanted:
        raise BadRequest(f"--guard takes on, off or on,off; got {states!r}")
    out = []
    for s in settings_:
        for state in wanted:
            joiner = "," if ":" in s.name else ":"
            out.append(replace(s, name=f"{s.name}{joiner}guard={state}", guard=GUARD_STATES[state]))
    return out


@dataclass
class Result:
    setting: str
    item: str
    correct: bool
    answer: str
    gold: str
    completion_tokens: int
    reasoning_tokens: int
    latency_s: float
    confidence: float | None
    ponder: dict[str, Any] | None
    text: str
    token_confidence: float | None = None
    """Geometric-mean probability of the answer's tokens: the signal auto mode routes on."""
    tail_confidence: float | None = None
    """DeepConf's tail confidence of the answer (its last tokens, from the top-5 alternatives)."""
    safety: list[dict[str, Any]] | None = None
    """What the guard did on this answer (`Safety` events), when it acted."""
    guard_checks: list[dict[str, Any]] | None = None
    """Each check the guard made on this answer, timed (`ponder.guard.cost.Check.json`; local runs)."""

    @property
    def blocked(self) -> str | None:
        """The stage at which the guard refused this answer, if it did."""
        return next((s["stage"] for s in self.safety or [] if s["action"] == "block"), None)


@dataclass
class Response:
    text: str
    usage: Usage
    ponder: dict[str, Any] | None
    token_confidence: float | None = None
    tail_confidence: float | None = None
    safety: list[Safety] = field(default_factory=list)
    guard_checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocked(self) -> str | None:
        """The stage at which the guard refused this answer, if it did."""
        return next((s.stage for s in self.safety if s.action == "block"), None)


class LocalTarget:
    """Runs in this process on the settings' model."""

    def __init__(self, settings: Settings, max_tokens: int, temperature: float) -> None:
        self.assistant = Assistant(settings)
        self.max_tokens, self.temperature = max_tokens, temperature
        self._guarded: dict[bool, Assistant] = {}

    def assistant_for(self, setting: Setting) -> Assistant:
        """The assistant with the guard as the setting wants it; every one shares the loaded model."""
        if setting.guard is None or setting.guard == self.assistant.settings.guard.enabled:
            return self.assistant
        if setting.guard not in self._guarded:
            settings = self.assistant.settings
            guard = settings.guard.model_copy(update={"enabled": setting.guard})
            self._guarded[setting.guard] = self.assistant.sharing(settings.model_copy(update={"guard": guard}))
        return self._guarded[setting.guard]

    async def ask(self, setting: Setting, item: Item, seed: int) -> Response:
        assistant = self.assistant_for(setting)
        plan = assistant.plan(
            None,
            setting.mode,
            setting.reasoning_effort,
            setting.thinking_budget,
        )
        # Log-probabilities cost a softmax and a partial sort per token; they let a run of instant answer
        # auto mode's routing question offline (see `replay`).
        params = SamplingParams(
            max_tokens=self.max_tokens, temperature=self.temperature, seed=seed, logprobs=True, top_logprobs=5
        )
        text: list[str] = []
        usage, reports, tracker, safety = Usage(), [], Tracker(), []
        messages = [Message(role="user", content=item.question)]
        with cost.counting() as checks:
            async for ev in assistant.run(plan, messages, params, 1, dict(setting.options)):
                if isinstance(ev, TextDelta):
                    text.append(ev.text)
                    tracker.extend(ev.logprobs)
                elif isinstance(ev, Usage):
                    usage = ev
                elif isinstance(ev, Provenance):
                    reports.append(ev)
                elif isinstance(ev, Safety):
                    safety.append(ev)
                    if ev.replaced:  # what streamed before the cut is withdrawn; the refusal follows
                        text.clear()
        probability, tail = (tracker.probability, tracker.tail) if tracker.n else (None, None)
        timed = [c.json() for c in checks]
        return Response("".join(text), usage, nest_provenance(reports).get(0), probability, tail, safety, timed)

    async def aclose(self) -> None:
        await self.assistant.aclose()


class RemoteTarget:
    """Runs against a ponder (or any OpenAI-compatible server; then only plain modes make sense)."""

    def __init__(self, url: str, model: str | None, api_key: str | None, max_tokens: int, temperature: float) -> None:
        import openai

        self.client = openai.AsyncOpenAI(base_url=url, api_key=api_key or "none", max_retries=2, timeout=3600)
        self.model, self.max_tokens, self.temperature = model, max_tokens, temperature

    async def ask(self, setting: Setting, item: Item, seed: int) -> Response:
        if setting.guard is not None:
            raise BadRequest("guard=on/off needs a local run: a server's guard is the server's setting")
        extra: dict[str, Any] = {"mode": setting.mode, "ponder": dict(setting.options) or None}
        if setting.thinking_budget is not None:
            extra["thinking_budget"] = setting.thinking_budget
        if setting.reasoning_effort is not None:
            extra["reasoning_effort"] = setting.reasoning_effort
        r = await self.client.chat.completions.create(
            model=self.model or f"ponder-{setting.mode}",
            messages=[{"role": "user", "content": item.question}],
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            seed=seed,
            extra_body=extra,
        )
        u = r.usage
        details = u.completion_tokens_details if u else None
        usage = Usage(
            u.prompt_tokens if u else 0,
            u.completion_tokens if u else 0,
            (details.reasoning_tokens or 0) if details else 0,
        )
        return Response(r.choices[0].message.content or "", usage, (r.model_extra or {}).get("ponder"))

    async def aclose(self) -> None:
        await self.client.close()


def contemplation(ponder: dict[str, Any] | None) -> dict[str, Any]:
    """The contemplate report of a response, whether contemplate ran directly or under auto."""
    if not ponder:
        return {}
    inner = ponder.get("contemplate", ponder)
    return inner if isinstance(inner, dict) else {}


def confidence_of(ponder: dict[str, Any] | None) -> float | None:
    value = contemplation(ponder).get("confidence")
    return float(value) if value is not None else None


class Store:
    """`results.jsonl`: one line per finished (setting, item); what is there is not run again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.results: list[Result] = []
        if path.exists():
            with path.open(encoding="utf-8") as f:
                self.results = [Result(**json.loads(line)) for line in f if line.strip()]
        self.done = {(r.setting, r.item) for r in self.results}

    def add(self, result: Result) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(result), ensure_ascii=False) + "\n")
        self.results.append(result)
        self.done.add((result.setting, result.item))


def regraded(results: list[Result], items: list[Item]) -> list[Result]:
    """Each result graded again from its stored text, so a better grader needs no new model run."""
    by_id = {i.id: i for i in items}
    out = []
    for r in results:
        if r.item not in by_id:
            continue
        correct, answer = grade(by_id[r.item], r.text, r.blocked)
        out.append(replace(r, correct=correct, answer=answer))
    return out


def sharded(items: list[Item], shard: tuple[int, int]) -> list[tuple[int, Item]]:
    """The items a shard (k, n) answers, every n-th from the k-th, each with its index in the whole run
    (its sampling seed), so the shards together answer exactly what one run would."""
    k, n = shard
    return [(i, item) for i, item in enumerate(items) if i % n == k]


async def run(
    target: LocalTarget | RemoteTarget,
    settings_: list[Setting],
    items: list[Item],
    store: Store,
    advance: Callable[[], None] = lambda: None,
    shard: tuple[int, int] = (0, 1),
) -> None:
    # Item-major: every setting answers an item before the next item starts, so a run stopped at any
    # point still compares all settings on the same items, and machine noise falls on all of them alike.
    for i, item in sharded(items, shard):
        for setting in settings_:
            if (setting.name, item.id) in store.done:
                advance()
                continue
            t0 = time.perf_counter()
            response = await target.ask(setting, item, seed=i)
            latency = time.perf_counter() - t0
            correct, answer = grade(item, response.text, response.blocked)
            store.add(
                Result(
                    setting=setting.name,
                    item=item.id,
                    correct=correct,
                    answer=answer,
                    gold=item.answer,
                    completion_tokens=response.usage.completion_tokens,
                    reasoning_tokens=response.usage.reasoning_tokens,
                    latency_s=round(latency, 3),
                    confidence=confidence_of(response.ponder),
                    ponder=response.ponder,
                    text=response.text,
                    token_confidence=response.token_confidence,
                    tail_confidence=response.tail_confidence,
                    safety=[asdict(s) for s in response.safety] or None,
                    guard_checks=response.guard_checks or None,
                )
            )
            advance()
