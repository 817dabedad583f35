"""Grading an answer against the gold: exact numbers, exact choice letters."""

from __future__ import annotations

from fractions import Fraction

from ponder.evals.datasets import Item
from ponder.reasoning.answers import extract, parse_number


def grade(item: Item, text: str) -> tuple[bool, str]:
    """Is the response right, and what answer did it give (as extracted)?"""
    answer = extract(text, choices=item.choices)
    if item.kind == "choice":
        return answer.kind == "choice" and answer.key == item.answer, answer.key
    gold = parse_number(item.answer)
    got = parse_number(answer.shown) if answer.kind == "number" else None
    if gold is None or got is None:
        return False, answer.shown
    scale = max(Fraction(1), abs(gold))
    return abs(got - gold) <= Fraction(1, 10**6) * scale, answer.shown
