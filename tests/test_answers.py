"""Final-answer extraction on tricky cases, and DeepConf confidence tracking."""

from __future__ import annotations

import pytest

from ponder.modes.contemplate import Agent, tally
from ponder.reasoning.answers import extract, numbers
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
    # MedQA answers of the 1.5B model that the grader once read as text ("the correct answer is e").
    ("Aliskiren lowers renin.\n\nTherefore, the correct answer is E. Aliskiren.", "choice", "E"),
    ("It matches.\n\nTherefore, the most likely diagnosis is A. Central retinal vein occlusion.", "choice", "A"),
    ("Therefore, the correct answer is **C**. Caseous necrosis.", "choice", "C"),
    ("Therefore, the answer is 42.", "number", "42"),
    ("A long answer is 1,000,000 and then some words. Therefore, the result is 1000000.", "number", "1000000"),
]


@pytest.mark.parametrize(("text", "kind", "key"), CASES)
def test_extract(text: str, kind: str, key: str) -> None:
    answer = extract(text, choices="ABCDE" if kind == "choice" else None)
    assert (answer.kind, answer.key) == (kind, key)


@pytest.mark.parametrize(
    "text",
    [
        "The most likely diagnosis is a stroke.",
        "Therefore, it is vitamin A.",
        "The answer is B12 deficiency.",
        "The most likely cause is E. coli infection.",
    ],
)
def test_a_word_is_no_choice(text: str) -> None:
    """A capital letter mid-sentence is a choice only when it stands alone: an article, a vitamin, B12 or
    a bacterium's genus are not."""
    assert extract(text, choices="ABCDE").kind == "text"


PROSE = [
    # (question, response, the number it answers); the first three are answers the 1.5B agent gave in the
    # multistep eval that the grader missed.
    ("How many days from 14 March 2023 to 2 November 2025?", "There are 964 days between the dates.", "964"),
    ("What is 17 factorial divided by 12 factorial?", "742560 is the result.", "742560"),
    ("65 mph in m/s? Round to 2 decimal places.", "The final speed is 29.06 m/s (rounded).", "1453/50"),
    ("65 mph in m/s? Round to 2 decimal places.", "The answer is 29.06 m/s (rounded to 2 decimal places).", "1453/50"),
    ("Days from 14 March 2023 to 2 November 2025?", "It is 964 days.\n\nI hope this answers your question!", "964"),
    ("How many days from 14 March 2023 to 2 November 2025?", "From 14 March 2023 to 2 November 2025: 964 days.", "964"),
    ("Choose 6 numbers out of 49: how many ways?", "There are 13,983,816 ways to choose 6 out of 49.", "13983816"),
    ("A kettle runs 4 minutes 30 seconds. kWh?", "It uses 0.165 kWh in 4 minutes 30 seconds.", "33/200"),
    ("A circle of circumference 50 cm: its area?", "The area is 198.94 cm^2.", "9947/50"),
    ("$2,500 at 4.5% for 7 years?", "After 7 years the account holds **$3,423.63**.", "342363/100"),
    ("A $79.99 price is raised by 15%, then cut by 20%.", "The final price is $73.59 after the 20% cut.", "7359/100"),
    ("What is 17! / 12!?", "17! / 12! = 742560", "742560"),
    ("What is 2 to the power 40?", "2^40 = 1.099511627776e12", "1099511627776"),
    ("Speed in km/h?", "Therefore, we divide by the time.\nSo the average speed is 76.06 km/h.", "3803/50"),
    ("Monthly payment?", "1. Rate: 0.005 per month.\n2. Payment = 347.99.\n3. Done.", "34799/100"),
    ("123,456,789 / 3,607?", "So \\(123,456,789 \\div 3,607 = 34227\\) (exactly, 3,607 × 34,227).", "34227"),
    # Tricky negatives: a number closes the response but is not the answer the grader must read.
    ("What is 4,837 multiplied by 9,261?", "4,837 × 9,261 = 44,795,457 (I multiplied 4,837 by 9,261).", "44795457"),
    ("Gold 964?", "Counting 964 days would include the first day, so the answer is 963.", "963"),
    (
        "Land sold in three sales: total?",
        "He will earn $170 in total. This is calculated by adding the "
        "earnings from each sale: $50 from the first, $30 from the second and $90 from the third.",
        "170",
    ),
    ("How many pens does she have now?", "She has 98 pens.\n\nExplanation: 62 + 36 = 98 after buying 12 boxes.", "98"),
    ("What is 4,837 multiplied by 9,261?", "The result is 4837.", "4837"),  # only the question's own figure
    # Answer first, then an explanation that says how the answer was found (thinking mode's reply).
    (
        "2 pads of 30 sheets a week: sheets a month?",
        "The answer is 240 sheets.\nThis answer is derived by "
        "multiplying the sheets per week (60 sheets) by the weeks in a month (4 weeks).",
        "240",
    ),
    ("What is the remainder of 7^222 mod 1000?", "I cannot compute that.", ""),
]


@pytest.mark.parametrize(("question", "text", "key"), PROSE)
def test_numbers_are_read_from_prose(question: str, text: str, key: str) -> None:
    answer = extract(text, want="number", avoid={v for v, _ in numbers(question)})
    assert answer.key == key and answer.kind == ("number" if key else "none")


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


def test_two_agreeing_agents_outvote_one_sure_one_and_the_tally_shows_the_tersest_wording() -> None:
    def agent(i: int, text: str, *logprobs: float) -> Agent:
        tracker = Tracker()
        tracker.extend([lp(*logprobs)] * 40)
        return Agent(i, "", tracker, answer=extract(text), done=True)

    # By tail confidence (an unbounded score) the sure agent's 18 would outweigh the others' 2.5 + 2.5.
    sure = agent(0, "The answer is 12.", -0.001, -25.0, -30.0)
    hesitant = [
        agent(i, t, -0.4, -3.0, -4.0) for i, t in ((1, "The answer is 13"), (2, "Oh wonderful! It is 13 apples."))
    ]
    vote = tally([sure, *hesitant])
    assert vote.winner is not None and vote.winner.answer.key == "13"
    assert set(vote.tally) == {"12", "13"}


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
