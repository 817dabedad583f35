"""Candidate calls checked against their tools' JSON Schemas: clients receive only valid calls.

Small models get types trivially wrong (`"5"` for an integer, `3` for a one-item list, `"Celsius"`
for the enum's `"celsius"`, `null` for an optional argument) far more often than they get the call
wrong. Those are coerced, guided by the schema; anything still invalid afterwards is rejected with
the reason, never passed on.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from ponder.calls.parse import Candidate
from ponder.calls.spec import FunctionSpec
from ponder.reasoning.answers import numbers
from ponder.types import ToolCall

_INT = re.compile(r"^\s*-?\d+\s*$")
_NUM = re.compile(r"^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


@dataclass
class Checked:
    calls: list[ToolCall] = field(default_factory=list)
    rejected: list[tuple[Candidate, str]] = field(default_factory=list)
    """Candidates that are not valid calls, with why (for provenance and the re-ask decision)."""


def call_key(call: ToolCall) -> tuple[str, str]:
    """A call's identity, whatever the spacing and key order of its JSON arguments (to spot repeats)."""
    try:
        return call.name, json.dumps(json.loads(call.arguments), sort_keys=True)
    except json.JSONDecodeError:
        return call.name, call.arguments.strip()


def new_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _types(schema: Mapping[str, Any]) -> list[str]:
    t = schema.get("type")
    return [t] if isinstance(t, str) else list(t) if isinstance(t, list) else []


def _fits(value: Any, kind: str) -> bool:
    match kind:
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "string":
            return isinstance(value, str)
        case "boolean":
            return isinstance(value, bool)
        case "array":
            return isinstance(value, list)
        case "object":
            return isinstance(value, dict)
        case "null":
            return value is None
    return True


def _convert(value: Any, kind: str) -> Any:
    """`value` as `kind` when the conversion loses nothing, else `value` unchanged."""
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT.match(value):
            return int(value)
    elif kind == "number" and isinstance(value, str) and _NUM.match(value):
        number = float(value)
        return int(number) if number.is_integer() and "." not in value else number
    elif kind == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    elif kind == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    elif kind in ("array", "object") and isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if _fits(parsed, kind):
            return parsed
        if kind == "array":
            return [value]
    elif kind == "array" and not isinstance(value, list):
        return [value]
    return value


def coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    """`value` with the trivially fixable mismatches against `schema` fixed (see the module docstring)."""
    kinds = _types(schema)
    if kinds and not any(_fits(value, k) for k in kinds):
        for k in kinds:
            converted = _convert(value, k)
            if _fits(converted, k):
                value = converted
                break
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum and isinstance(value, str):
        folded = [e for e in enum if isinstance(e, str) and e.lower() == value.strip().lower()]
        if len(folded) == 1:
            value = folded[0]
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        out: dict[str, Any] = {}
        for key, v in value.items():
            sub = props.get(key)
            if sub is None:
                if schema.get("additionalProperties") is False:
                    continue  # an argument the function does not take
                out[key] = v
            elif v is None and key not in required and "null" not in _types(sub):
                continue  # "unit": null means the model left an optional argument unset
            else:
                out[key] = coerce(v, sub)
        value = out
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        value = [coerce(v, schema["items"]) for v in value]
    return value


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower().removeprefix("functions."))


def resolve(name: str, tools: Sequence[FunctionSpec]) -> FunctionSpec | None:
    """The tool a candidate names: exactly, else ignoring case, `functions.` and `_`/`.`/`-`."""
    exact = next((t for t in tools if t.name == name), None)
    if exact is not None:
        return exact
    close = [t for t in tools if _normal(t.name) == _normal(name)]
    return close[0] if len(close) == 1 else None


def check(candidates: Sequence[Candidate], tools: Sequence[FunctionSpec]) -> Checked:
    """The valid calls among `candidates` (coerced, with fresh `call_…` ids) and the rejected rest."""
    out = Checked()
    for cand in candidates:
        tool = resolve(cand.name, tools)
        if tool is None:
            offered = ", ".join(t.name for t in tools) or "(none)"
            out.rejected.append((cand, f"no tool named {cand.name!r} (offered: {offered})"))
            continue
        args = {} if cand.arguments is None else cand.arguments
        args = coerce(args, tool.parameters)
        if not isinstance(args, dict):
            out.rejected.append((cand, f"{tool.name}: arguments must be a JSON object, not {type(args).__name__}"))
            continue
        error = next(iter(Draft202012Validator(dict(tool.parameters)).iter_errors(args)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "arguments"
            out.rejected.append((cand, f"{tool.name}: {where}: {error.message}"))
            continue
        out.calls.append(ToolCall(id=new_id(), name=tool.name, arguments=json.dumps(args, ensure_ascii=False)))
    return out


def _leaves(value: Any) -> list[str | float]:
    """A call's argument values as the user could have said them: strings and numbers, nested ones too."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, str):
        return [value.strip().lower()] if value.strip() else []
    if isinstance(value, Mapping):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _leaves(v)]
    return []


_WORDS = {
    w: float(i)
    for i, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
    )
}


_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}


def _figures(text: str) -> set[float]:
    """The numbers in `text` as a person means them: figures, "four", "60%" as 0.6 and "50 million" as
    50000000 too."""
    figures = {float(value) for value, _ in numbers(text)}
    figures |= {float(f) / 100 for f in re.findall(r"(\d+(?:\.\d+)?)\s*%", text)}
    for figure, scale in re.findall(r"(\d+(?:\.\d+)?)\s*(thousand|million|billion|trillion)\b", text):
        figures.add(float(figure) * _SCALES[scale])
    return figures | {v for w, v in _WORDS.items() if re.search(rf"\b{w}\b", text)}


def grounded(extra: Sequence[ToolCall], earlier: Sequence[ToolCall], said: str) -> list[ToolCall]:
    """The continued calls whose every value (string or number, nested ones too) the user gave: in
    their words (a figure, "four", "60%" as 0.6 too) or already in the calls before.

    Offered its turn again after its calls, a small model keeps calling: on BFCL's `multiple` items
    (one call wanted) the 1.5B went on to other tools with made-up values ("Paris", "/path/to/backup",
    frequency 1000), 10 of its 14 misses on 40 items. The calls a request asks for take their values
    from it, or repeat the first call's ("the same type of food"). Regraded offline on recorded
    calls: 7 of 9 of those `multiple` misses righted, and 27 of 40 `parallel` items right against 28
    without it (one lost).

    A continued call must also bring one value the calls before did not pass: made to go on after
    a one-call request, the 1.5B writes variants that only reshuffle the first call's values (a
    boolean flipped, the two currencies swapped, the same arguments to a sibling function), 4 of
    48 recorded `simple` and `multiple` items, and no request asks for those.
    """
    text = said.lower()
    figures = heard_in(said).figures
    used = {leaf for c in earlier for leaf in _leaves(json.loads(c.arguments))}

    def heard(leaf: str | float) -> bool:
        if leaf in used:
            return True
        if isinstance(leaf, float):
            return leaf in figures or -leaf in figures  # "a loss of $1000" passed as -1000
        return leaf in text or _a_date_said(leaf, text, figures)

    kept = []
    for call in extra:
        values = _leaves(json.loads(call.arguments))
        if values and all(heard(v) for v in values) and any(v not in used for v in values):
            kept.append(call)
            used.update(values)
    return kept


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_US_DATE = re.compile(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4})")


def _a_date_said(leaf: str, text: str, figures: Set[float]) -> bool:
    """Is `leaf` a date ("2022-05-18", "05/18/2022") the user said in their own way ("May 18th 2022")?
    The model writes dates in the schema's format, never the user's: its day must be among the user's
    figures, its month among their words or figures, and its year among their figures, unless they
    named no year at all ("from 20th June": the model supplies one). (BFCL `parallel_30`: the second
    flight, "Tokyo to Sydney on May 18th 2022", was dropped as unsaid.)"""
    if m := _ISO_DATE.fullmatch(leaf):
        year, month, day = (int(g) for g in m.groups())
        readings = [(month, day)]
    elif m := _US_DATE.fullmatch(leaf):
        first, second, year = (int(g) for g in m.groups())
        readings = [(first, second), (second, first)]  # 05-12-2022: May 12th, or 5th December
    else:
        return False
    if year not in figures and re.search(r"\b\d{4}\b", text):  # a year was said, and not this one
        return False
    figures = {*figures, *(float(d) for d in re.findall(r"\d+", text))}  # "June01 2023" has a 1 in it
    return any(
        1 <= month <= 12
        and day in figures
        and (re.search(rf"\b{_MONTHS[month - 1]}", text) is not None or month in figures)
        for month, day in readings
    )


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


@dataclass(frozen=True)
class Heard:
    """What the user said, read once for every check of a request's calls: its words and its figures."""

    words: frozenset[str]
    figures: frozenset[float]


@lru_cache(maxsize=32)
def heard_in(said: str) -> Heard:
    text = said.lower()
    return Heard(frozenset(_tokens(text)), frozenset(_figures(text)))


def _near(a: str, b: str) -> bool:
    """The same word, give or take an ending: "woman" and "women", "tennis" and "tennis'"."""
    if a == b:
        return True
    common = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return common >= max(3, min(len(a), len(b)) - 2)


def _given(leaf: str | float, words: Set[str], figures: Set[float]) -> bool:
    if isinstance(leaf, float):
        return leaf in figures
    return any(_near(w, x) for w in _tokens(leaf) for x in words)


def traced(call: ToolCall, said: str) -> bool:
    """Does any value `call` passes have a trace in the user's words (a word give or take an ending, or
    a figure)? A call with no values to check (no arguments, only booleans) passes.

    Asked "Who is the Vice President of the United States?" with only unrelated tools on offer, the
    0.5B calls one anyway, with values from nowhere (`{"year": 2021}`, `{"patient_id": "12345"}`). A
    call the request asks for takes at least one of its values from the request. Regraded on recorded
    BFCL calls (the rule written before looking at any irrelevance item): the 0.5B's irrelevance 21 → 26
    of 40 and the 1.5B's 16 → 24 of 40, and none of either model's other items lost.
    """
    leaves = _leaves(json.loads(call.arguments))
    heard = heard_in(said)
    return not leaves or any(_given(leaf, heard.words, heard.figures) for leaf in leaves)


SMALL = 10
"""A required number below this may come from the words rather than a figure ("from rest" is 0,
"twice" is 2, the kings in a deck are 4); from it up, the user must have given it."""


def made_up(call: ToolCall, tool: FunctionSpec, said: str) -> bool:
    """Does `call` pass a required value with figures in it that the user never gave (a date, a
    season, a century, a price), and that the schema does not list either?

    Asked "Who are in the cricket matches scheduled for today?" beside a schedule function, the 1.5B
    calls it with `"date": "2023-04-01"`; asked the time in New York beside a sunrise function, with
    `"date": "2023-04-15"`. A small model has no calendar: a date (or a season, "2021-2022") it writes
    unasked is made up, and so is the answer that call would bring back. A value passes when every
    run of digits in it is a figure the user gave, or it is a date they said in their own words.
    Regraded on the recorded BFCL calls of both models (480 items outside irrelevance: the 1.5B's 80
    and the 0.5B's 40 per category): none of them changed; on the 1.5B's 80 irrelevance items, 8 more
    right (6 after the relevance check, which dropped two of them already).

    A required number is held to the same rule from `SMALL` up: asked for "the final price after a
    25% discount and 10% sales tax", the 1.5B calls a price function with `"price": 100.0`; asked to
    "create a jigsaw puzzle", with `"pieces_count": 10`; asked for "the current Gini coefficient",
    with `"year": 2023`. Such a number passes when the user gave it (as a figure, a percent, "50
    million") or the tool's own text has it (a default). Smaller ones pass: the right calls take
    them from words ("started from rest" is `"initial_velocity": 0`, "twice in a row" is 2). On the
    recorded calls of both models, the right calls of every other category all passed (the
    numbers they had not been given were 0, 2 and 4); 5 of the 1.5B's irrelevant calls and 1 of
    the 0.5B's were caught.
    """
    args = json.loads(call.arguments)
    if not isinstance(args, dict):
        return False
    props: Mapping[str, Any] = tool.parameters.get("properties") or {}
    heard = heard_in(said)
    text = said.lower()
    figures = {abs(f) for f in heard.figures}
    own = f"{tool.description} {json.dumps(props, ensure_ascii=False)}".lower()
    known = figures | {abs(float(v)) for v, _ in numbers(own)}
    for key in tool.parameters.get("required") or ():
        if key not in args or "enum" in props.get(key, {}):
            continue
        for leaf in _leaves(args[key]):
            if not isinstance(leaf, str):
                if abs(leaf) >= SMALL and abs(leaf) not in known:
                    return True
                continue
            if not any(ch.isdigit() for ch in leaf) or _a_date_said(leaf, text, heard.figures):
                continue
            # "C6H12O6", "BRCA1", "e4" are said as words; "2021-2022" and "16th" as figures.
            for token in _tokens(leaf):
                runs = [float(d) for d in re.findall(r"\d+(?:\.\d+)?", token)]
                if runs and token not in heard.words and not all(r in figures for r in runs):
                    return True
    return False


def covered(call: ToolCall, by: Sequence[ToolCall]) -> bool:
    """Does a call in `by` to the same function already pass every argument `call` passes, with the same
    value? Such a call asks for less than one already made (the 1.5B adds `{"location": "Seattle"}`
    after `{"location": "Seattle", "cuisine": ["Seafood"]}`), and adds nothing."""
    args = json.loads(call.arguments)
    if not isinstance(args, dict):
        return False
    for other in (o for o in by if o.name == call.name):
        theirs = json.loads(other.arguments)
        if isinstance(theirs, dict) and all(k in theirs and theirs[k] == v for k, v in args.items()):
            return True
    return False


def unsaid_dropped(call: ToolCall, tool: FunctionSpec, said: str) -> ToolCall:
    """`call` without the optional arguments whose values nobody gave: not the user, not the schema.

    Asked for "the next 6 games of Manchester United in the Premier League", the 1.5B adds
    `"location": "London"`: a filter the user never asked for, which narrows the answer. An optional
    argument is kept when some trace of its value is in the user's words or in the tool's own text
    (its description, the argument's description, enum or default: "Default to 'all'"): a word of
    it, give or take an ending ("women" for "woman tennis", "04-2022" for "April 2022"), or one of
    its figures. Required arguments are always kept: without them the call is invalid. Regraded on
    the 80 recorded BFCL simple and multiple calls: one item righted (that one), none lost.

    Lists of words are pruned the same way, required or not: asked for a sushi place "with a patio",
    the 0.5B passes `"amenities": ["Patio", "Wi-Fi", "Happy Hour", …]`. The items with a trace in the
    user's words stay; a list with none keeps all its items (nothing to tell them apart by).
    """
    args = json.loads(call.arguments)
    if not isinstance(args, dict):
        return call
    props: Mapping[str, Any] = tool.parameters.get("properties") or {}
    required = set(tool.parameters.get("required") or ())
    heard = heard_in(said)
    kept: dict[str, Any] = {}
    for key, value in args.items():
        if isinstance(value, list) and len(value) > 1 and all(isinstance(v, str) for v in value):
            said_ones = [v for v in value if _given(v, heard.words, heard.figures)]
            value = said_ones or value
        if key in required:
            kept[key] = value
            continue
        own = f"{tool.description} {json.dumps(props.get(key, {}), ensure_ascii=False)}".lower()
        words = heard.words | _tokens(own)
        known = heard.figures | {float(v) for v, _ in numbers(own)}
        leaves = _leaves(value)
        if not leaves or any(_given(leaf, words, known) for leaf in leaves):
            kept[key] = value
    if kept == args:
        return call
    return ToolCall(id=call.id, name=call.name, arguments=json.dumps(kept, ensure_ascii=False))
