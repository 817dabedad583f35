"""Chat templates: how a list of messages becomes the exact prompt text a model was trained on.

ponder renders prompts itself rather than delegating to each engine, because the thinking mode must
append to the assistant turn (prefill `<think>`) and continue it after forcing `</think>`; that only
works when we own the text. Remote backends get the same rendered prompt through `/v1/completions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ponder.errors import UnknownPlugin
from ponder.types import Message


@dataclass(frozen=True)
class ChatTemplate:
    name: str
    default_system: str | None
    start: str = "<|im_start|>"
    end: str = "<|im_end|>"

    @property
    def stop(self) -> list[str]:
        """Strings that end an assistant turn (engines with EOG tokens stop there anyway)."""
        return [self.end, self.start]

    def render(self, messages: Sequence[Message], *, assistant_prefix: str = "") -> str:
        """Render the conversation and open the assistant's turn, optionally pre-filled."""

        parts: list[str] = []
        if self.default_system is not None and (not messages or messages[0].role not in ("system", "developer")):
            parts.append(f"{self.start}system\n{self.default_system}{self.end}\n")
        for m in messages:
            role = "system" if m.role == "developer" else m.role
            parts.append(f"{self.start}{role}\n{m.content}{self.end}\n")
        parts.append(f"{self.start}assistant\n{assistant_prefix}")
        return "".join(parts)


TEMPLATES: dict[str, ChatTemplate] = {
    "chatml": ChatTemplate("chatml", None),
    "qwen": ChatTemplate("qwen", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
    "smollm2": ChatTemplate("smollm2", "You are a helpful AI assistant named SmolLM, trained by Hugging Face"),
}


def get_template(name: str) -> ChatTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise UnknownPlugin("chat template", name, list(TEMPLATES)) from None
