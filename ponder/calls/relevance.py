"""Does the function the model called do what the user asked? The model is asked, yes or no.

Offered tools, a small model calls one whether or not it fits: asked "what is the capital of
Australia?" beside `get_weather(city)`, it calls `get_weather(city="Australia")`. The other filters
(`validate.traced`, …) drop calls whose values nobody gave, but such a call passes them: its value is
the user's own word, the purpose is wrong. Only reading the request against the function's
description tells, so under `tool_choice: auto` the model is shown the request, the functions it chose
(name, description, the arguments it passed) and asked whether they do what was asked, or a needed
part of it; the probability of "yes" is compared with `CallPolicy.relevance`. One prompt and one token
per reply with calls; the worked cases are earlier turns, written for ponder (none from BFCL).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from ponder.backends.base import Backend
from ponder.backends.yesno import yes_probability
from ponder.calls.spec import FunctionSpec
from ponder.calls.validate import resolve
from ponder.models.templates import ChatTemplate
from ponder.types import Message, ToolCall

SYSTEM = """You check an AI assistant's function calls before they run. You see what the user asked
and the functions the assistant chose to call, with their descriptions and arguments.
Answer "yes" if the calls do what the user asked, or a part of it the answer needs.
Answer "no" if the functions do something else than what was asked (another task, another
quantity, another kind of thing), even when they use the user's words; the assistant will then answer
without them. Answer only "yes" or "no"."""

EXAMPLES: tuple[tuple[str, str, str], ...] = (
    (
        "Convert 30 miles to kilometres.",
        "convert_length(value, from_unit, to_unit): Convert a length from one unit to another.\n"
        'called with {"value": 30, "from_unit": "mile", "to_unit": "km"}',
        "yes",
    ),
    (
        "What is the capital of Australia?",
        'get_weather(city): Current weather conditions for a city.\ncalled with {"city": "Australia"}',
        "no",
    ),
    (
        "Find the area of a circle with a radius of 4 cm.",
        "triangle_area(base, height): Area of a triangle from its base and height.\n"
        'called with {"base": 4, "height": 4}',
        "no",
    ),
    (
        "Book a table for two at Luigi's at 8 tonight, and what should I wear to the opera?",
        "book_restaurant(name, people, time): Reserve a table at a restaurant.\n"
        'called with {"name": "Luigi\'s", "people": 2, "time": "20:00"}',
        "yes",
    ),
    (
        "How many calories are in a medium banana?",
        "body_mass_index(weight_kg, height_m): Body mass index from weight and height.\n"
        'called with {"weight_kg": 118, "height_m": 1.8}',
        "no",
    ),
    (
        "Get me the stock prices of Apple and Microsoft.",
        "stock_price(ticker): Latest trading price of a company's stock.\n"
        'called with {"ticker": "AAPL"}\ncalled with {"ticker": "MSFT"}',
        "yes",
    ),
)


def described(calls: Sequence[ToolCall], tools: Sequence[FunctionSpec]) -> str:
    """Each called function once (signature and description), then the arguments of its calls."""
    lines: list[str] = []
    for name in dict.fromkeys(c.name for c in calls):
        tool = resolve(name, tools)
        params = ", ".join((tool.parameters.get("properties") or {}) if tool else ())
        about = (tool.description if tool else "").strip() or "(no description)"
        lines.append(f"{name}({params}): {about}")
        lines += [f"called with {arguments_text(c.arguments)}" for c in calls if c.name == name]
    return "\n".join(lines)


def _question(request: str, calls: str) -> str:
    asked = f"The user asked:\n<request>\n{request}\n</request>\n"
    return f"{asked}The assistant calls:\n{calls}\nDo these calls do what the user asked?"


def messages(request: str, calls: str) -> list[Message]:
    out = [Message(role="system", content=SYSTEM)]
    for asked, made, verdict in EXAMPLES:
        out += [Message(role="user", content=_question(asked, made)), Message(role="assistant", content=verdict)]
    return [*out, Message(role="user", content=_question(request, calls))]


def request_text(conversation: Sequence[Message], limit: int = 2000) -> str:
    """The user's latest message (its end, if long): what the calls must serve."""
    said = next((m.content for m in reversed(conversation) if m.role == "user" and m.content), "")
    return said[-limit:]


async def relevance(
    backend: Backend,
    template: ChatTemplate,
    conversation: Sequence[Message],
    calls: Sequence[ToolCall],
    tools: Sequence[FunctionSpec],
) -> float:
    """The model's probability that `calls` do what the user's latest message asks. Asked in `template`
    without its tools, whichever request's template it is: listed in the system turn, they change the
    question (on BFCL irrelevance they raised "yes" from 0.28 to 0.81 for the same call)."""
    plain = replace(template, tools=())
    prompt = plain.render(messages(request_text(conversation), described(calls, tools)))
    p, _ = await yes_probability(backend, prompt, plain.stop)
    return p


def arguments_text(arguments: str) -> str:
    """Arguments as compact JSON, whatever spacing the model wrote."""
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False)
    except ValueError:
        return arguments
