"""Where the engine puts a new prompt (`place`): no model needed, slots are token lists."""

from ponder.backends.engine import place

POLICY = list(range(1000, 1600))  # the judge's policy and request cases
REQUEST_JUDGE = [*POLICY, *range(2000, 2040)]
ANSWER_JUDGE = [*POLICY, *range(3000, 3400), *range(2000, 2040)]  # the worked answers come after the policy
CHAT = [1, 2, 3, *range(5000, 5100)]  # shares only the template's opening with anything


def test_a_continued_prompt_stays_in_its_slot() -> None:
    slots = [REQUEST_JUDGE, [1, 2, 3, 4], ANSWER_JUDGE]
    assert place(slots, [0, 1, 2], [*ANSWER_JUDGE, 9, 9]) == (2, 2, len(ANSWER_JUDGE))


def test_a_prompt_takes_the_slot_that_loses_least_and_copies_its_prefix() -> None:
    """A request's judge prompt shares the policy with both judge slots: it overwrites the request
    judge's (or an empty slot), and the answer judge keeps its worked answers for the next window."""
    prompt = [*POLICY, *range(8000, 8030)]
    src, dst, shared = place([ANSWER_JUDGE, REQUEST_JUDGE, CHAT], [0, 1, 2], prompt)
    assert (dst, shared) == (1, len(POLICY)) and src in (0, 1)
    src, dst, shared = place([ANSWER_JUDGE, REQUEST_JUDGE, []], [0, 1, 2], prompt)
    assert (dst, shared) == (2, len(POLICY)) and src in (0, 1)


def test_a_few_shared_tokens_do_not_overwrite_a_long_prefix() -> None:
    slots = [[1, 2, 3, *REQUEST_JUDGE], [1, 2, 3, *ANSWER_JUDGE], [9] * 50]
    assert place(slots, [0, 1, 2], CHAT) == (0, 2, 3)  # the three template tokens copied beside
    assert place([*slots, []], [0, 1, 2, 3], CHAT)[1] == 3


def test_a_busy_slot_is_copied_from_not_taken() -> None:
    slots = [ANSWER_JUDGE, [], [9] * 10]
    assert place(slots, [1, 2], ANSWER_JUDGE) == (0, 1, len(ANSWER_JUDGE) - 1)
