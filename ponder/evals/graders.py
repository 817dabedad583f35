"""Grading an answer against the gold: exact numbers, exact choice letters, math-verify for LaTeX.

A number is right when it equals the gold (to a millionth of its size), or, for an item whose
question asks for rounding (`Item.decimals`), when it rounds to the gold at that precision: an
answer of 29.0576 to "…in m/s? Round to 2 decimal places." (gold 29.06) gave the right value with
more digits than asked, which a reader would accept too; 29.1 did not.
"""

from __future__ import annotations

import math
from fractions import Fraction

from ponder.errors import BadRequest
from ponder.evals.datasets import Item
from ponder.reasoning.answers import extract, numbers, parse_number


def grade(item: Item, text: str, blocked: str | None = None) -> tuple[bool, str]:
    """Is the response right, and what answer did it give (as extracted)?

    `blocked` is the stage at which the guard refused, if it did (a refusal by definition).
    """
    if item.kind == "refusal":
        from ponder.evals.refusal import graded

        return graded(item, text, blocked)
    if item.kind == "math":
        return _math(item.answer, text)
    if item.kind == "choice":
        answer = extract(text, choices=item.choices)
        return answer.kind == "choice" and answer.key == item.answer, answer.key
    answer = extract(text, want="number", avoid={v for v, _ in numbers(item.question)})
    gold = parse_number(item.answer)
    if gold is None or answer.kind != "number":
        return False, answer.shown
    return _same(Fraction(answer.key), gold, item.decimals), answer.shown


def _same(got: Fraction, gold: Fraction, decimals: int | None) -> bool:
    if decimals is not None:
        scale = 10**decimals
        return Fraction(math.floor(got * scale + Fraction(1, 2)), scale) == gold  # rounded half up
    return abs(got - gold) <= Fraction(1, 10**6) * max(Fraction(1), abs(gold))


def _math(gold: str, text: str) -> tuple[bool, str]:
    """Symbolic equivalence (so `\\frac{1}{2}`, `0.5` and `1/2` agree), via Hugging Face's math-verify."""
    try:
        from math_verify import parse, verify
    except ImportError:
        raise BadRequest("grading MATH-500 needs math-verify: `pip install 'ponder[eval]'`") from None
    got = parse(text)
    return bool(verify(parse(f"${gold}$"), got)), str(got[-1]) if got else ""
