"""GBNF grammars that make an engine write a valid call (or valid JSON) by construction.

llama.cpp samples under a grammar token by token, so a forced call cannot be malformed: the call
grammar is Qwen's `<tool_call>` format with the name fixed to one of the allowed tools and the
arguments following that tool's JSON Schema (converted by llama-cpp-python's own schema converter).
Engines without grammar support ignore it and the parser and validator still stand guard.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ponder.calls.spec import FunctionSpec
from ponder.errors import BadRequest

MAX_PARALLEL = 8
"""Most calls one forced reply may make (a grammar with no bound lets a model repeat itself forever)."""


def _converter() -> Any:
    # llama-cpp-python is a default dependency, but the grammar is plain text: import it only when needed.
    from llama_cpp.llama_grammar import SchemaConverter

    return SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)


def _rules(schema: Mapping[str, Any], name: str) -> str:
    converter = _converter()
    resolved = converter.resolve_refs(json.loads(json.dumps(schema)), "request")
    converter.visit(resolved, name)
    return str(converter.format_grammar())


def _arguments(tool: FunctionSpec) -> Mapping[str, Any]:
    """The tool's schema if the converter can follow it, else any JSON object (validated afterwards)."""
    try:
        _rules(tool.parameters, "probe")
    except Exception:  # the converter raises plain exceptions on schema features it lacks
        return {"type": "object"}
    return tool.parameters


def calls_grammar(tools: Sequence[FunctionSpec], parallel: bool) -> str:
    """A reply of one call (or up to `MAX_PARALLEL` with `parallel`) to the given tools, nothing else."""
    block = r'"<tool_call>\n" call "\n</tool_call>"'
    more = f' ("\\n" {block}){{0,{MAX_PARALLEL - 1}}}' if parallel else ""
    return f"root ::= {block}{more}\n{call_rules(tools)}"


def call_rules(tools: Sequence[FunctionSpec]) -> str:
    """The `call` rule (and the rules it uses): one `{"name": …, "arguments": …}` to one of `tools`."""
    shapes = [
        {
            "type": "object",
            "properties": {"name": {"const": t.name}, "arguments": _arguments(t)},
            "required": ["name", "arguments"],
        }
        for t in tools
    ]
    return _rules(shapes[0] if len(shapes) == 1 else {"anyOf": shapes}, "call") + "\n"


def json_grammar(schema: Mapping[str, Any] | None) -> str:
    """Any JSON object (`json_object`), or JSON following `schema` (`json_schema`)."""
    if schema is None:
        schema = {"type": "object"}
    try:
        rules = _rules(schema, "answer")
    except Exception as exc:  # the converter raises plain exceptions on schema features it lacks
        raise BadRequest(
            f"response_format.json_schema uses something ponder cannot constrain to: {exc}",
            param="response_format",
        ) from None
    return f"root ::= answer\n{rules}\n"
