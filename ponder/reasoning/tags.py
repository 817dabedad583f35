"""Splitting a streamed completion into thinking and answer at the `</think>` tag.

Text arrives in arbitrary pieces, so a tag may be cut across two chunks. The parser holds back the
shortest tail that could still become the tag and releases it as soon as it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN = "<think>"
CLOSE = "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


@dataclass
class ThinkParser:
    """Feed text that starts *inside* a thinking block (the opening tag was prefilled)."""

    thinking: bool = True
    _held: str = ""
    _answer_started: bool = False
    _trace_started: bool = False

    def feed(self, text: str) -> tuple[str, str]:
        """Returns (reasoning_text, answer_text) that are safe to emit now."""
        buf = self._held + text
        self._held = ""
        if not self.thinking:
            return "", self._strip_answer_lead(buf)
        if not self._trace_started:
            # A model that re-opens the (prefilled) tag at the start of its trace gains nothing from it.
            head = buf.lstrip()
            if OPEN.startswith(head):
                self._held = buf
                return "", ""
            if head.startswith(OPEN):
                buf = head[len(OPEN) :]
            self._trace_started = True
        idx = buf.find(CLOSE)
        if idx >= 0:
            self.thinking = False
            return buf[:idx], self._strip_answer_lead(buf[idx + len(CLOSE) :])
        keep = _partial_suffix(buf, CLOSE)
        if keep:
            self._held = buf[-keep:]
            buf = buf[:-keep]
        return buf, ""

    def flush(self) -> tuple[str, str]:
        held, self._held = self._held, ""
        return (held, "") if self.thinking else ("", self._strip_answer_lead(held))

    def _strip_answer_lead(self, text: str) -> str:
        # The answer conventionally follows the tag after blank lines; don't emit them.
        if not self._answer_started:
            text = text.lstrip()
            if text:
                self._answer_started = True
        return text
