"""The streaming think-tag parser, run whole and split at every possible point."""

from __future__ import annotations

import pytest

from ponder.reasoning.tags import ThinkParser

CASES = [
    # (text after the prefilled <think>, expected reasoning, expected answer)
    ("plan it</think>\n\nAnswer.", "plan it", "Answer."),
    ("<think>re-opened</think>ok", "re-opened", "ok"),
    ("no close at all", "no close at all", ""),
    ("a < b is </thin not a tag</think>x", "a < b is </thin not a tag", "x"),
    ("</think>", "", ""),
]


def run(pieces: list[str]) -> tuple[str, str]:
    parser = ThinkParser()
    reasoning, answer = "", ""
    for piece in pieces:
        r, a = parser.feed(piece)
        reasoning, answer = reasoning + r, answer + a
    r, a = parser.flush()
    return reasoning + r, answer + a


@pytest.mark.parametrize(("text", "reasoning", "answer"), CASES)
def test_whole(text: str, reasoning: str, answer: str) -> None:
    assert run([text]) == (reasoning, answer)


@pytest.mark.parametrize(("text", "reasoning", "answer"), CASES)
def test_split_anywhere(text: str, reasoning: str, answer: str) -> None:
    for cut in range(len(text) + 1):
        assert run([text[:cut], text[cut:]]) == (reasoning, answer), cut
    assert run(list(text)) == (reasoning, answer)
