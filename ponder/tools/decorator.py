"""`@tool`: a typed, documented Python function becomes a tool, its JSON Schema read from the code.

The type hints give the argument types (str, int, float, bool, Literal, Enum, list[...], Optional;
parameters with defaults are optional), the docstring's first paragraph the description and its Google-style
`Args:` lines the parameters' descriptions. Arguments are validated against the signature by a
generated pydantic model before the function runs, so the function sees exactly the types it declared
and a model's bad call comes back as a precise `ToolError`. Sync functions run in a worker thread, so a
slow one never stalls the event loop.

The schema is kept plain for small models and grammar-constrained decoding: `$ref`s are inlined,
titles dropped, and `Optional[X] = None` is written as an optional `X`.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from typing import Any, overload

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ponder.errors import ToolError
from ponder.tools.base import openai_spec


class FunctionTool:
    """A tool backed by a Python function (made by `@tool`)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        *,
        outside_text: bool = True,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.outside_text = outside_text
        text = inspect.getdoc(fn) or ""
        doc = docstring_parser.parse(text)
        self.description = description or " ".join(text.split("\n\n", 1)[0].split())
        if not self.description:
            raise TypeError(f"tool {self.name!r} needs a description: give its function a docstring")
        self.arguments_model = _arguments_model(fn, self.name, {p.arg_name: p.description or "" for p in doc.params})
        self.parameters = plain_schema(self.arguments_model.model_json_schema())

    def spec(self) -> dict[str, Any]:
        return openai_spec(self.name, self.description, self.parameters)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments as the function's declared types; `ToolError` naming every problem otherwise."""
        try:
            parsed = self.arguments_model.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            how = usage(self.name, self.parameters)  # the fix, for a model that guessed the argument names
            raise ToolError(f"invalid arguments for {self.name}: {problems}. {how}") from None
        return {k: getattr(parsed, k) for k in type(parsed).model_fields}

    async def run(self, arguments: dict[str, Any]) -> str:
        kwargs = self.validate(arguments)
        if inspect.iscoroutinefunction(self.fn):
            result = await self.fn(**kwargs)
        else:
            result = await asyncio.to_thread(self.fn, **kwargs)
        return result if isinstance(result, str) else json.dumps(result, default=str, ensure_ascii=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<tool {self.name}>"


@overload
def tool(fn: Callable[..., Any], /) -> FunctionTool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None, outside_text: bool = True
) -> Callable[[Callable[..., Any]], FunctionTool]: ...
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    outside_text: bool = True,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """`@tool` or `@tool(name="x", description="…")` over a typed, documented function.

    `outside_text=False` declares that the result is computed from the arguments alone (no file, page
    or service is read), so the guard need not look for injected instructions in it.
    """
    if fn is not None:
        return FunctionTool(fn)
    return lambda f: FunctionTool(f, name, description, outside_text=outside_text)


def _arguments_model(fn: Callable[..., Any], name: str, docs: dict[str, str]) -> type[BaseModel]:
    hints = inspect.get_annotations(fn, eval_str=True)
    fields: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise TypeError(f"tool {name!r}: parameter {p.name!r} must be a plain keyword-able parameter")
        if p.name not in hints:
            raise TypeError(f"tool {name!r}: parameter {p.name!r} needs a type hint")
        default = ... if p.default is p.empty else p.default
        fields[p.name] = (hints[p.name], Field(default, description=docs.get(p.name) or None))
    model: type[BaseModel] = create_model(
        f"{name}_arguments", __config__=ConfigDict(extra="forbid", use_enum_values=False), **fields
    )
    return model


def usage(name: str, parameters: dict[str, Any]) -> str:
    """How to call a tool, in one line: `convert_units takes {"amount": number, "from_unit": string, …}`."""
    properties: dict[str, Any] = parameters.get("properties", {})
    required = [p for p in properties if p in parameters.get("required", [])]

    def kind(schema: dict[str, Any]) -> str:
        if "enum" in schema:
            return " | ".join(json.dumps(v) for v in schema["enum"])
        return str(schema.get("type", "value"))

    line = f"{name} takes {{{', '.join(f'{json.dumps(p)}: {kind(properties[p])}' for p in required)}}}"
    optional = [p for p in properties if p not in required]
    return line + (f", and optionally {', '.join(optional)}" if optional else "")


def plain_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline `$defs`, drop titles, and make `Optional[X] = None` a plain optional `X`."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def walk(node: Any, in_properties: bool = False) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if in_properties:  # keys are property names, not schema keywords
            return {k: walk(v) for k, v in node.items()}
        if "$ref" in node:
            target = walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k in ("title", "$defs"):
                continue
            out[k] = walk(v, in_properties=k == "properties")
        variants = out.get("anyOf")
        if (
            isinstance(variants, list)
            and len(variants) == 2
            and {"type": "null"} in variants
            and out.get("default", ...) is None
        ):
            (kept,) = [v for v in variants if v != {"type": "null"}]
            del out["anyOf"], out["default"]
            out = {**kept, **out}
        return out

    result: dict[str, Any] = walk(schema)
    return result
