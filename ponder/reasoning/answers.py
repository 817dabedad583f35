"""Pulling the final answer out of a reasoning trace, in a form that can be voted on and graded.

Contemplating agents and the evaluation graders both need "what did it answer?": `\\boxed{3/4}`,
"The answer is $1,234.50.", "#### 42", "(B)", "Yes, because…". `extract()` finds the most explicit
statement of an answer and normalises it: numbers to exact fractions (so "0.5", "1/2" and "\\frac{1}{2}"
vote together), choice letters to upper case, yes/no to their word, anything else to folded text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

Kind = Literal["number", "choice", "yesno", "text", "none"]


@dataclass(frozen=True)
class Answer:
    kind: Kind
    key: str
    """Normalised value: equal keys mean the same answer."""
    shown: str
    """The answer as the model wrote it."""

    @property
    def votable(self) -> bool:
        return self.kind in ("number", "choice", "yesno")


NONE = Answer("none", "", "")

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+")
_CUES = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)?\s*[:=]?\s*(.+)|^\s*####\s*(.+)|therefore,?\s+(?:it is\s+)?(.+)",
    re.IGNORECASE | re.MULTILINE,
)
_CHOICE = re.compile(r"^\s*\(?([A-J])\)?(?:[.):\s]|$)")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")


def boxed(text: str) -> str | None:
    """The content of the last `\\boxed{…}` (nested braces allowed)."""
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def _clean_latex(s: str) -> str:
    s = _LATEX_FRAC.sub(r"(\1)/(\2)", s)
    for junk in ("\\left", "\\right", "\\!", "\\,", "\\ ", "$", "\\%", "\\text", "\\mathrm", "\\$"):
        s = s.replace(junk, "")
    return s.replace("{", "").replace("}", "")


def parse_number(s: str) -> Fraction | None:
    """The last number in `s`, ignoring thousands separators, currency and units."""
    s = _clean_latex(s).replace("(", "").replace(")", "")
    found = _NUMBER.findall(s)
    if not found:
        return None
    raw = found[-1].replace(",", "").replace(" ", "")
    try:
        if "/" in raw:
            num, den = raw.split("/")
            return Fraction(num) / Fraction(den) if Fraction(den) != 0 else None
        return Fraction(raw)
    except (ValueError, ZeroDivisionError):
        return None


def number_key(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text.lower())).strip()


def classify(candidate: str, *, choices: str | None = None) -> Answer:
    """Normalise an answer statement (already cut out of the trace)."""
    shown = candidate.strip().rstrip(".").strip()
    if not shown:
        return NONE
    letters = choices or "ABCDEFGHIJ"
    m = _CHOICE.match(shown)
    if m and m.group(1) in letters and (choices is not None or len(shown) <= 3 or shown[1:2] in ").:"):
        return Answer("choice", m.group(1), shown)
    head = _fold(shown).split(" ", 1)[0] if _fold(shown) else ""
    if head in ("yes", "no"):
        return Answer("yesno", head, shown)
    value = parse_number(shown)
    if value is not None:
        return Answer("number", number_key(value), shown)
    return Answer("text", _fold(shown), shown)


def extract(text: str, *, choices: str | None = None) -> Answer:
    """The final answer a trace commits to, or `NONE`."""
    if (inner := boxed(text)) is not None:
        return classify(inner, choices=choices)
    cues = [next(g for g in m.groups() if g) for m in _CUES.finditer(text)]
    for cue in reversed(cues):
        answer = classify(cue.split("\n")[0], choices=choices)
        if answer.kind != "text" or len(answer.key) <= 40:
            return answer
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return NONE
    last = lines[-1]
    if choices is not None:
        found = re.findall(rf"\b([{choices}])\b", last)
        if found:
            return Answer("choice", found[-1], last.strip())
    return classify(last, choices=choices)
