"""Tools, earlier calls and tool results as prompt text, the way each chat template expects them.

Qwen2.5 was trained on its own format (the `# Tools` system block with `<tools>` and calls in
`<tool_call>` tags; tool results come back in a user turn inside `<tool_response>`), so a Qwen
prompt reproduces its chat template exactly. Other templates (chatml, SmolLM2) have no tool format
of their own; they get the same tags with a plainer, more explicit instruction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from ponder.types import Message, ToolCall

Style = Literal["qwen", "generic"]

_QWEN = """

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tools}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""

_GENERIC = """

You can call functions. Their signatures are inside <tools></tools>:
<tools>
{tools}
</tools>

To call a function, reply with only this, once per call:
<tool_call>
{{"name": "<function-name>", "arguments": {{<arguments as JSON>}}}}
</tool_call>
If no function fits, answer in plain text instead."""


def tools_block(tools: Iterable[Mapping[str, Any]], style: Style) -> str:
    """The text appended to the system message that shows the model its functions."""
    listed = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
    return (_QWEN if style == "qwen" else _GENERIC).format(tools=listed)


def call_text(call: ToolCall) -> str:
    """One call as the model writes it: arguments as a JSON object, not the string OpenAI carries."""
    try:
        args: Any = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        args = call.arguments
    body = json.dumps({"name": call.name, "arguments": args}, ensure_ascii=False)
    return f"<tool_call>\n{body}\n</tool_call>"


def assistant_text(message: Message) -> str:
    """An assistant turn: its words, then each call on its own lines (Qwen's template, exactly)."""
    parts = [message.content] if message.content else []
    parts += [call_text(c) for c in message.tool_calls]
    return "\n".join(parts)


def results_text(results: Sequence[Message]) -> str:
    """Consecutive `tool` messages, as the one user turn that carries them back."""
    return "\n".join(f"<tool_response>\n{m.content}\n</tool_response>" for m in results)
