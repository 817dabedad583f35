"""A lenient parser from what a small model writes to the function calls it meant.

Recorded outputs of the packaged models (tests/data/tool_outputs.json) show every shape: Qwen's own
`<tool_call>` tags, a fenced ```json block (the coder models' favourite), bare JSON objects or
arrays, `{"function": …}` and `"parameters"` variants, arguments as an object or as a JSON string,
several calls in one reply, and JSON with a missing brace or a trailing comma. This module finds the
candidates and normalises them; `validate` decides which of them are real calls.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from json_repair import repair_json

_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|(?=<tool_call>)|\Z)", re.S)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?(.*?)(?:```|\Z)", re.S)
_OPENING = re.compile(r'[{\[]\s*"(?:name|function)"\s*:')
_ARG_KEYS = ("arguments", "parameters", "args", "params", "input")


@dataclass(frozen=True)
class Candidate:
    """A call the model seems to have meant: a name and its arguments (any JSON value, unchecked)."""

    name: str
    arguments: Any
    repaired: bool = False
    """Its JSON was broken and mended: at the end of a reply cut short, a value may be cut too."""


@dataclass
class Parsed:
    calls: list[Candidate] = field(default_factory=list)
    content: str = ""
    """The reply with the call fragments taken out: what is left for `message.content`."""
    attempted: bool = False
    """The reply tried to call (a tag, or JSON that names a function) even if nothing usable came out."""


def loads(text: str) -> tuple[Any, bool]:
    """JSON from `text`, repaired if broken (missing braces, quotes, trailing commas): (value, repaired)."""
    try:
        return json.loads(text), False
    except json.JSONDecodeError:
        pass
    try:
        value = repair_json(text, return_objects=True, skip_json_loads=True)
    except Exception:  # json_repair gives up on some inputs by raising; that is "not JSON" to us
        return None, True
    return (value if value not in ("", None) else None), True


def _bare_json(text: str) -> Iterator[tuple[int, int, Any]]:
    """Top-level JSON objects and arrays in prose: (start, end, value), left to right."""
    decoder = json.JSONDecoder()
    i = 0
    while i < len(text):
        if text[i] not in "{[":
            i += 1
            continue
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i += 1
            continue
        yield i, end, value
        i = end


def candidates(value: Any, names: Collection[str] = (), repaired: bool = False) -> list[Candidate]:
    """The calls one JSON value describes, in any of the shapes models write them."""
    if isinstance(value, list):
        return [c for v in value for c in candidates(v, names, repaired)]
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("tool_calls"), list):
        return candidates(value["tool_calls"], names, repaired)
    fn = value.get("function")
    if isinstance(fn, dict):  # {"type": "function", "function": {"name": …, "arguments": …}}
        return candidates(fn, names, repaired)
    name = value.get("name", fn if isinstance(fn, str) else value.get("tool", value.get("function_name")))
    if isinstance(name, str) and name:
        key = next((k for k in _ARG_KEYS if k in value), None)
        if key is not None:
            args = value[key]
        else:  # {"name": "f", "x": 1}: the other keys are the arguments
            args = {k: v for k, v in value.items() if k not in ("name", "function", "tool", "type", "id")}
        if isinstance(args, str) and args.strip():
            args, mended = loads(args)
            repaired = repaired or mended
        elif isinstance(args, str):
            args = {}
        return [Candidate(name, args, repaired)]
    if len(value) == 1 and names:  # {"f": {"x": 1}}, BFCL's own answer shape
        ((key, args),) = value.items()
        if key in names and isinstance(args, dict):
            return [Candidate(key, args, repaired)]
    return []


def _python_calls(text: str, names: Collection[str]) -> list[tuple[int, int, Candidate]]:
    """`f(a=1, b="x")` (or `f(a: 1)`) for a known tool `f`: how models write calls they saw as code."""
    out: list[tuple[int, int, Candidate]] = []
    for name in sorted(names, key=len, reverse=True):
        for m in re.finditer(rf"(?<![\w.]){re.escape(name)}\s*\(([^()]*)\)", text):
            if any(s <= m.start() < e for s, e, _ in out):
                continue
            for source in (m.group(1), re.sub(r"(\w+)\s*:\s*", r"\1=", m.group(1))):
                try:
                    call = ast.parse(f"f({source})", mode="eval").body
                    if not isinstance(call, ast.Call) or call.args:
                        break
                    args = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
                except (SyntaxError, ValueError):
                    continue
                out.append((m.start(), m.end(), Candidate(name, args)))
                break
    return sorted(out, key=lambda x: x[0])


def _from_text(text: str, names: Collection[str]) -> list[Candidate]:
    value, repaired = loads(text)
    return candidates(value, names, repaired)


def parse(text: str, names: Collection[str] = (), *, strict: bool = False) -> Parsed:
    """Every call in `text`. `names` (the tools offered) lets `{"f": {…}}` count as a call to `f`.

    `strict` reads only well-formed `<tool_call>` tags holding valid JSON: what a client that trusts
    the model's own format gets (the baseline the benchmark compares against).
    """
    spans: list[tuple[int, int]] = []
    calls: list[Candidate] = []
    attempted = False
    tags = list(_TAG.finditer(text))
    if strict:
        for m in tags:
            if m.group(0).rstrip().endswith("</tool_call>"):
                with contextlib.suppress(json.JSONDecodeError):
                    calls += candidates(json.loads(m.group(1)), names)
        return Parsed(calls, _TAG.sub("", text).strip(), bool(tags))
    if tags:
        attempted = True
        for m in tags:
            body = m.group(1)
            fence = _FENCE.search(body)
            calls += _from_text(fence.group(2) if fence else body, names)
            spans.append(m.span())
    else:
        for m in _FENCE.finditer(text):
            lang, body = m.group(1).lower(), m.group(2)
            if lang not in ("", "json", "json5", "javascript", "js", "tool_call", "tool_code"):
                continue
            found = _from_text(body, names)
            if found or '"name"' in body:
                attempted = True
                calls += found
                spans.append(m.span())
        if not spans:
            for start, end, value in _bare_json(text):
                found = candidates(value, names)
                if found:
                    calls += found
                    spans.append((start, end))
            attempted = attempted or bool(calls)
            broken = _OPENING.search(text)
            if not calls and broken is not None:  # a call cut short or broken: repair what follows
                calls += _from_text(text[broken.start() :], names)
                spans.append((broken.start(), len(text)))
                attempted = True
        if not spans:
            for start, end, call in _python_calls(text, names):
                calls.append(call)
                spans.append((start, end))
                attempted = True
    content = text
    for start, end in sorted(spans, reverse=True):
        content = content[:start] + content[end:]
    content = re.sub(r"```[\w+-]*\s*```", "", content)  # a fence the calls were taken out of
    return Parsed(calls, content.strip(), attempted)
