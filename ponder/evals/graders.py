"""Grading an answer against the gold: exact numbers, exact choice letters, math-verify for LaTeX."""

from __future__ import annotations

from fractions import Fraction

from ponder.errors import BadRequest
from ponder.evals.datasets import Item
from ponder.reasoning.answers import extract, parse_number


def grade(item: Item, text: str, blocked: str | None = None) -> tuple[bool, str]:
    """Is the response right, and what answer did it give (as extracted)?

    `blocked` is the stage at which the guard refused, if it did (a refusal by definition).
    """
    if item.kind == "refusal":
        from ponder.evals.refusal import graded

        return graded(item, text, blocked)
    if item.kind == "math":
        return _math(item.answer, text)
    answer = extract(text, choices=item.choices)
    if item.kind == "choice":
        return answer.kind == "choice" and answer.key == item.answer, answer.key
    gold = parse_number(item.answer)
    got = parse_number(answer.shown) if answer.kind == "number" else None
    if gold is None or got is None:
        return False, answer.shown
    scale = max(Fraction(1), abs(gold))
    return abs(got - gold) <= Fraction(1, 10**6) * scale, answer.shown


def _math(gold: str, text: str) -> tuple[bool, str]:
    """Symbolic equivalence (so `\\frac{1}{2}`, `0.5` and `1/2` agree), via Hugging Face's math-verify."""
    try:
        from math_verify import parse, verify
    except ImportError:
        raise BadRequest("grading MATH-500 needs math-verify: `pip install 'ponder[eval]'`") from None
    got = parse(text)
    return bool(verify(parse(f"${gold}$"), got)), str(got[-1]) if got else ""
