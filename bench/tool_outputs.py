"""Record what the packaged models really write when offered tools, for the parser's test table.

`python -m bench.tool_outputs` runs a few tool prompts (one call, two calls, no fitting tool, a
reply cut short by max_tokens) greedily on qwen2.5-coder-0.5b and 1.5b, with the tools shown the
way ponder shows them and, as a naive client would, described in the user's own message (and,
with `--styles forced`, under ponder's call grammar, the only way these models wrote a
`<tool_call>` tag in our runs), and writes the replies verbatim to tests/data/tool_outputs.json.
The expected calls in that file are filled in by hand after reading each reply; the test then
holds the parser to them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from contextlib import aclosing
from dataclasses import replace
from pathlib import Path
from typing import Any

from ponder.assistant import Assistant
from ponder.calls.grammar import calls_grammar
from ponder.calls.spec import FunctionSpec
from ponder.config import Settings
from ponder.models import resolve
from ponder.types import Completion, Message, SamplingParams, ToolCall

OUT = Path(__file__).parent.parent / "tests" / "data" / "tool_outputs.json"

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
INTEREST: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "compound_interest",
        "description": "Future value of a deposit with compound interest.",
        "parameters": {
            "type": "object",
            "properties": {
                "principal": {"type": "number"},
                "rate": {"type": "number", "description": "Yearly rate in percent"},
                "years": {"type": "integer"},
            },
            "required": ["principal", "rate", "years"],
        },
    },
}
TOOLS = [WEATHER, INTEREST]
SPECS = [FunctionSpec(t["function"]["name"], t["function"]["description"], t["function"]["parameters"]) for t in TOOLS]
PROMPTS = [
    ("one_call", "What's the weather in Paris right now, in celsius?", 160),
    ("two_calls", "What's the weather in Tokyo and in Lima?", 200),
    ("numbers", "If I put 2500 dollars at 4.5 percent a year for 10 years, how much will I have?", 160),
    ("no_tool", "Write a haiku about autumn.", 80),
    ("cut_short", "What's the weather in Berlin?", 14),
    ("follow_up", "And in Madrid, in fahrenheit?", 160),
]
EARLIER = [  # a first turn that called a tool, so "follow_up" continues a conversation in the model's own format
    Message(role="user", content="What's the weather in Paris?"),
    Message(
        role="assistant",
        content="",
        tool_calls=[ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')],
    ),
    Message(role="tool", content='{"temp_c": 18, "sky": "clear"}', tool_call_id="call_1"),
    Message(role="assistant", content="It is 18°C and clear in Paris."),
]


def naive(question: str) -> list[Message]:
    """Tools described in the user's message, as a client without a tools API would do it."""
    listed = json.dumps([t["function"] for t in TOOLS], indent=1)
    text = f"You can use these functions:\n{listed}\nTo use one, answer with a JSON function call.\n\n{question}"
    return [Message(role="user", content=text)]


async def main(models: list[str], only: list[str], styles: list[str], threads: int | None) -> None:
    rows: list[dict[str, Any]] = []
    assistant = Assistant(Settings(guard={"enabled": False}, engine={"parallel": 1, "threads": threads}))
    try:
        for model in models:
            backend = await assistant.backend(model)
            template = resolve(assistant.settings, model).template
            for name, question, max_tokens in PROMPTS:
                if only and name not in only:
                    continue
                history = EARLIER if name == "follow_up" else []
                for style in styles:
                    grammar = None
                    if style in ("tools", "forced"):
                        ask = [*history, Message(role="user", content=question)]
                        prompt = replace(template, tools=tuple(TOOLS)).render(ask)
                        if style == "forced":  # under ponder's grammar for tool_choice "required"
                            grammar = calls_grammar(SPECS, parallel=True)
                    elif history:
                        continue  # a naive client has no earlier calls to show
                    else:
                        prompt = template.render(naive(question))
                    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, stop=template.stop, grammar=grammar)
                    text, finish = "", "stop"
                    async with aclosing(backend.stream(prompt, params)) as items:
                        async for item in items:
                            if isinstance(item, Completion):
                                text, finish = item.text, item.finish_reason
                    rows.append({"model": model, "prompt": name, "style": style, "output": text, "finish": finish})
                    print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    finally:
        await assistant.aclose()
    # Rows of other models are kept, and hand-written fields (`expect`, `shape`) of unchanged replies.
    old = json.loads(OUT.read_text()) if OUT.exists() else []
    notes = {(r["model"], r["prompt"], r["style"], r["output"]): r for r in old}
    for r in rows:
        r.update(
            {k: v for k, v in notes.get((r["model"], r["prompt"], r["style"], r["output"]), {}).items() if k not in r}
        )
    fresh = {(r["model"], r["prompt"], r["style"]) for r in rows}
    kept = [r for r in old if (r["model"], r["prompt"], r["style"]) not in fresh]
    OUT.write_text(json.dumps(kept + rows, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"])
    ap.add_argument("--prompts", nargs="*", default=[], help="Only these prompts (default: all).")
    ap.add_argument("--styles", nargs="+", default=["tools", "naive"], choices=["tools", "naive", "forced"])
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    asyncio.run(main(args.models, args.prompts, args.styles, args.threads))
