"""Chat templates: how a list of messages becomes the exact prompt text a model was trained on.

ponder renders prompts itself rather than delegating to each engine, because the thinking mode must
append to the assistant turn (prefill `<think>`) and continue it after forcing `</think>`; that only
works when we own the text. Remote backends get the same rendered prompt through `/v1/completions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ponder.calls.render import Style, assistant_text, results_text, tools_block
from ponder.errors import UnknownPlugin
from ponder.types import Message


@dataclass(frozen=True)
class ChatTemplate:
    name: str
    default_system: str | None
    start: str = "<|im_start|>"
    end: str = "<|im_end|>"
    tool_style: Style = "generic"
    tools: tuple[Mapping[str, Any], ...] = ()
    """Functions the model may call (OpenAI `tools[i]`), shown in the system turn; set per request."""

    @property
    def stop(self) -> list[str]:
        """Strings that end an assistant turn (engines with EOG tokens stop there anyway)."""
        return [self.end, self.start]

    def render(self, messages: Sequence[Message], *, assistant_prefix: str = "") -> str:
        """Render the conversation and open the assistant's turn, optionally pre-filled."""

        parts: list[str] = []
        block = tools_block(self.tools, self.tool_style) if self.tools else ""
        has_system = bool(messages) and messages[0].role in ("system", "developer")
        if not has_system and (self.default_system is not None or block):
            system = (self.default_system or "") + block
            parts.append(f"{self.start}system\n{system.lstrip()}{self.end}\n")
        results: list[Message] = []  # consecutive tool results travel back as one user turn
        for i, m in enumerate(messages):
            if m.role == "tool":
                results.append(m)
                if i + 1 < len(messages) and messages[i + 1].role == "tool":
                    continue
                parts.append(f"{self.start}user\n{results_text(results)}{self.end}\n")
                results = []
                continue
            role = "system" if m.role == "developer" else m.role
            content = assistant_text(m) if m.role == "assistant" and m.tool_calls else m.content
            if i == 0 and role == "system":
                content += block
            parts.append(f"{self.start}{role}\n{content}{self.end}\n")
        parts.append(f"{self.start}assistant\n{assistant_prefix}")
        return "".join(parts)


TEMPLATES: dict[str, ChatTemplate] = {
    "chatml": ChatTemplate("chatml", None),
    "qwen": ChatTemplate(
        "qwen", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", tool_style="qwen"
    ),
    "smollm2": ChatTemplate("smollm2", "You are a helpful AI assistant named SmolLM, trained by Hugging Face"),
}


def get_template(name: str) -> ChatTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise UnknownPlugin("chat template", name, list(TEMPLATES)) from None
