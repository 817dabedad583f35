"""OpenAI message shapes become ponder Messages: content parts, media bytes, earlier tool calls."""

from __future__ import annotations

import base64

import pytest

from ponder.errors import BadRequest
from ponder.server.protocol import ChatMessage


def test_text_image_and_audio_parts_split_into_text_and_media() -> None:
    png, wav = b"\x89PNG\r\n\x1a\nrest", b"RIFF....WAVEfmt "
    msg = ChatMessage.model_validate(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this? "},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}},
                {"type": "input_audio", "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"}},
                {"type": "text", "text": "And this?"},
            ],
        }
    ).to_message()
    assert msg.content == "What is this? And this?"
    assert [(m.kind, m.data, m.format) for m in msg.media] == [("image", png, "image/png"), ("audio", wav, "wav")]


@pytest.mark.parametrize(
    ("part", "says"),
    [
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}, "not valid base64"),
        ({"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}, "must be base64"),
        ({"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}, "must be a data: URL"),
        ({"type": "input_audio", "input_audio": {"data": "not base64!", "format": "wav"}}, "not valid base64"),
    ],
)
def test_bad_media_parts_say_what_is_wrong(part: dict[str, object], says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        ChatMessage.model_validate({"role": "user", "content": [part]}).to_message()


def test_assistant_tool_calls_and_tool_results_are_kept() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    asked = ChatMessage.model_validate({"role": "assistant", "content": None, "tool_calls": [call]}).to_message()
    answered = ChatMessage.model_validate({"role": "tool", "tool_call_id": "call_1", "content": "2"}).to_message()
    assert [(c.id, c.name, c.arguments) for c in asked.tool_calls] == [("call_1", "add", '{"a": 1}')]
    assert (answered.tool_call_id, answered.content) == ("call_1", "2")
