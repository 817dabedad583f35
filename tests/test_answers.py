"""Final-answer extraction on tricky cases, and DeepConf confidence tracking."""

from __future__ import annotations

import pytest

from ponder.modes.contemplate import Agent, tally
from ponder.reasoning.answers import extract
from ponder.reasoning.confidence import Tracker, token_confidence
from ponder.types import TokenLogprob, TopLogprob

CASES = [
    # (text, kind, key)
    ("so she earns 18 dollars a day.\n#### 18", "number", "18"),
    ("The answer is $1,234.50.", "number", "2469/2"),
    ("Total = 3/4 of the cake. The final answer is \\boxed{\\frac{3}{4}}", "number", "3/4"),
    ("Thus x = 0.75", "number", "3/4"),
    ("\\boxed{\\dfrac{10}{4}}", "number", "5/2"),
    ("He walks 12 km each day, so in 5 days: 60 km.", "number", "60"),
    ("Answer: -7 degrees", "number", "-7"),
    ("The answer is (B) because the others are wrong.", "choice", "B"),
    ("After comparing the options, C", "choice", "C"),
    ("Answer: D. Hypertension", "choice", "D"),
    ("Yes, because 17 has no divisors but 1 and itself.", "yesno", "yes"),
    ("The answer is no.", "yesno", "no"),
    ("The answer is Paris.", "text", "paris"),
    ("", "none", ""),
    ("A long answer is 1,000,000 and then some words. Therefore, the result is 1000000.", "number", "1000000"),
]


@pytest.mark.parametrize(("text", "kind", "key"), CASES)
def test_extract(text: str, kind: str, key: str) -> None:
    answer = extract(text, choices="ABCD" if kind == "choice" else None)
    assert (answer.kind, answer.key) == (kind, key)


def agreement(*texts: str) -> float:
    """How much of contemplate's vote the leading answer gets when agents end with these texts."""
    agents = [Agent(i, "", Tracker(), answer=extract(t), done=True) for i, t in enumerate(texts)]
    return tally(agents).agreement


def test_equal_values_vote_together() -> None:
    assert agreement("The answer is 0.5", "\\boxed{\\frac{1}{2}}") == 1.0
    assert agreement("#### 1,200", "The answer is 1200 apples.") == 1.0
    assert agreement("The answer is 12", "The answer is 13") == 0.5
    assert agreement("", "") == 0.0  # no answers, no vote


def lp(chosen: float, *alts: float) -> TokenLogprob:
    return TokenLogprob("x", chosen, tuple(TopLogprob("x", v) for v in (chosen, *alts)))


def test_token_confidence_is_high_when_peaked() -> None:
    assert token_confidence(lp(-0.01, -9.0, -10.0)) > token_confidence(lp(-1.0, -1.2, -1.5))
    # Without alternatives, only the chosen token's probability: a likelier token is still the surer one.
    assert token_confidence(TokenLogprob("x", -0.01)) > token_confidence(TokenLogprob("x", -2.0)) > 0


def test_tracker_finds_the_weak_stretch_and_the_tail() -> None:
    t = Tracker(window=4, tail_size=4)
    t.extend([lp(-0.01, -9, -9)] * 8 + [lp(-1.1, -1.2, -1.3)] * 4 + [lp(-0.01, -9, -9)] * 4)
    assert t.n == 16
    assert t.lowest == pytest.approx((1.1 + 1.2 + 1.3) / 3)  # the confused window
    assert t.tail == pytest.approx((0.01 + 9 + 9) / 3)  # recovered by the end
    assert 0 < t.probability < 1
