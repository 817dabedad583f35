"""Pulling the final answer out of a reasoning trace, in a form that can be voted on and graded.

Contemplating agents and the evaluation graders both need "what did it answer?": `\\boxed{3/4}`,
"The answer is $1,234.50.", "#### 42", "(B)", "Yes, because…". `extract()` finds the most explicit
statement of an answer and normalises it: numbers to exact fractions (so "0.5", "1/2" and "\\frac{1}{2}"
vote together), choice letters to upper case, yes/no to their word, anything else to folded text.

Answers written as prose ("There are 964 days between the dates.", "742560 is the result.") are read
too: asked for a number (`want="number"`), `extract` takes the last sentence that states one. Within a
statement the answer is the last number, passing over precision notes ("rounded to 2 decimal places"),
asides in parentheses and figures restated from the question (`avoid`) while another number is left:
"There are 13,983,816 ways to choose 6 out of 49" answers 13983816, not 49.
"""

from __future__ import annotations

import re
from collections.abc import Collection
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

_NUMBER = re.compile(
    # Not inside a word or a unit's exponent ("m3", "m/s^2"); thousands only in groups of three ("4,837").
    r"(?<![A-Za-z_^\d.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?(?:\s*/\s*\d+(?![.,]?\d))?"
    r"|(?<![\w.])-?\.\d+"
)
_HOW = r"(?:derived|calculated|computed|obtained|found)"
"""How an answer was reached: after "the answer is" or "this is", it explains the answer rather than states it."""
_CUES = re.compile(
    # A cue needs its connector: "I hope this answers your question" is no answer.
    # "This answer is derived by multiplying 60 sheets by 4 weeks" explains the answer; it states none.
    r"\b(?:final answer|the answer|answer)\b[*\s]*(?:is|:|=|would be|will be)\s*[:=]?\s*"
    rf"(?!\s*(?:{_HOW}|reached|based|correct|right|consistent)\b)(.+)"
    r"|^\s*####\s*(.+)|\btherefore,?\s+(?:it is\s+)?(.+)",
    re.IGNORECASE | re.MULTILINE,
)
_PRECISION = re.compile(
    r"\b\d+\s*(?:decimal\s+(?:places?|digits?)|decimals|d\.\s?p\.?|dp\b|significant\s+(?:figures|digits)|sig\.?\s*figs?)",
    re.IGNORECASE,
)
"""How precise an answer is ("2 decimal places"): a number, but never the answer."""
_LIST_MARK = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?:(?<=[.?])|(?<=\D!))\s+|\n+")
"""Where a sentence ends ("17! / 12!" is a factorial, not two exclamations)."""
_CHOICE = re.compile(r"^[\s*]*\(?([A-J])\)?\**(?:[.):\s]|$)")
_NOT_GENUS = r"(?!\.\s*[a-z])"
"""After a lone capital: not an abbreviated genus ("E. coli", "C. difficile"), which no choice letter is."""
_STATED_CHOICE = re.compile(rf"\b(?:is|are|be)\s+[*\s]*\(?([A-J])\)?\**(?=[.):,]|\s|$){_NOT_GENUS}")
"""A choice named mid-sentence ("the most likely diagnosis is A. Central retinal vein occlusion"): read only
when the item has choices, and only in capitals, so "is a" is an article."""
_LATEX_JUNK = (
    *("\\left", "\\right", "\\(", "\\)", "\\[", "\\]"),
    *("\\!", "\\,", "\\ ", "$", "\\%", "\\text", "\\mathrm", "\\$"),
)
"""LaTeX that wraps a number without changing it; "\\(" and "\\[" delimit maths, they are no aside in parentheses."""
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
    s = _LATEX_FRAC.sub(r"\1/\2", s)
    for junk in _LATEX_JUNK:
        s = s.replace(junk, "")
    return s.replace("{", "").replace("}", "")


def _value(raw: str) -> Fraction | None:
    raw = raw.replace(",", "").replace(" ", "")
    try:
        if "/" in raw:
            num, den = raw.split("/")
            return Fraction(num) / Fraction(den) if Fraction(den) != 0 else None
        return Fraction(raw)
    except (ValueError, ZeroDivisionError):
        return None


def numbers(s: str) -> list[tuple[Fraction, bool]]:
    """Every number in `s` (precision notes left out), each with whether it stands inside parentheses."""
    s = _PRECISION.sub(" ", _clean_latex(s))
    found = []
    for m in _NUMBER.finditer(s):
        value = _value(m.group())
        if value is not None:
            found.append((value, s.count("(", 0, m.start()) > s.count(")", 0, m.start())))
    return found


def parse_number(s: str, avoid: Collection[Fraction] = ()) -> Fraction | None:
    """The number statement `s` gives: its last one, passing over asides in parentheses and the figures
    in `avoid` (the question's own) while another is left; `None` if it has none."""
    found = numbers(s)
    for tier in (
        [v for v, inside in found if not inside and v not in avoid],
        [v for v, _ in found if v not in avoid],
        [v for v, _ in found],
    ):
        if tier:
            return tier[-1]
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
    if m and m.group(1) in letters and (choices is not None or len(shown.strip("*")) <= 3 or shown[1:2] in ").:"):
        return Answer("choice", m.group(1), shown)
    if choices is not None and (m := _STATED_CHOICE.search(shown)) and m.group(1) in letters:
        return Answer("choice", m.group(1), shown)
    head = _fold(shown).split(" ", 1)[0] if _fold(shown) else ""
    if head in ("yes", "no"):
        return Answer("yesno", head, shown)
    value = parse_number(shown)
    if value is not None:
        return Answer("number", number_key(value), shown)
    return Answer("text", _fold(shown), shown)


def _innermost(cue: str) -> str:
    """The statement a cue leads to, past a cue inside it: "Therefore, the correct answer is E." states "E"."""
    while (m := _CUES.search(cue)) is not None:
        cue = next(g for g in m.groups() if g)
    return cue


def sentences(text: str) -> list[str]:
    """`text` cut into sentences (list markers dropped, so "2. Multiply…" is not a sentence "2.")."""
    return [p.strip() for p in _SENTENCE_END.split(_LIST_MARK.sub("", text)) if p.strip()]


def _first_sentence(cue: str) -> str:
    first = sentences(cue.split("\n")[0])
    return first[0] if first else ""


_EXPLAINS = re.compile(
    r"^[*#\s]*(?:explanation|to explain|here'?s how"
    rf"|this (?:is|was) (?:{_HOW}|because)"
    r"|we (?:calculated|computed|found|got) (?:this|it|that) by)\b",
    re.IGNORECASE,
)
"""A sentence that explains an answer already given: the answer comes before it."""


def _explanation_starts(parts: list[str]) -> int:
    """Where the explanation of an answer given first begins: its first sentence (the end when none)."""
    return next((i for i, sentence in enumerate(parts) if i and _EXPLAINS.match(sentence)), len(parts))


def _stated_number(text: str, avoid: Collection[Fraction]) -> Answer:
    """The number a response answers with: boxed, after a cue ("the answer is"), or in its last sentence
    that has one ("There are 964 days between the dates."), the explanation of an answer given first
    left aside ("It costs $170. This is calculated by adding 3 × $40…")."""
    inner = boxed(text)
    # "Therefore, …" is no cue here: mid-way it introduces a step ("Therefore, we need n(n+1)/2"), and a
    # closing "Therefore, the price is $73.59." is the last sentence anyway.
    cues = [_first_sentence(m.group(1) or m.group(2)) for m in _CUES.finditer(text) if m.group(3) is None]
    parts = sentences(text)
    told = _explanation_starts(parts)
    for statement in [inner or "", *reversed(cues), *reversed(parts[:told]), *reversed(parts[told:])]:
        value = parse_number(statement, avoid)
        if value is not None:
            return Answer("number", number_key(value), statement.strip().rstrip(".").strip())
    return NONE


def extract(
    text: str, *, choices: str | None = None, want: Kind | None = None, avoid: Collection[Fraction] = ()
) -> Answer:
    """The final answer a trace commits to, or `NONE`.

    `want="number"` reads prose for a number (the last sentence that states one) when no explicit
    answer has one; `avoid` holds the question's own figures, passed over while another number is left.
    """
    if want == "number":
        return _stated_number(text, avoid)
    if (inner := boxed(text)) is not None:
        return classify(inner, choices=choices)
    cues = [_innermost(next(g for g in m.groups() if g)) for m in _CUES.finditer(text)]
    for cue in reversed(cues):
        answer = classify(_first_sentence(cue), choices=choices)
        if answer.kind != "text" or len(answer.key) <= 40:
            return answer
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return NONE
    last = lines[-1]
    if choices is not None:
        found = re.findall(rf"\b([{choices}])\b{_NOT_GENUS}", last)
        if found:
            return Answer("choice", found[-1], last.strip())
    return classify(last, choices=choices)
