"""The arithmetic claim checker behind the ``accurate`` scorer's arithmetic features."""

from __future__ import annotations

import pytest

from huddle_ai.evals.arithmetic import Claims, check


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("£2,800 × 12 is £33,600, so the annual figure stands.", Claims(true=1)),
        ("£2,800 × 12 is £31,600, so your figure is too high.", Claims(false=1)),
        ("£40,000 ÷ 14 = £2,000 each", Claims(false=1)),
        ("15% of 240 is 36.", Claims(true=1)),
        ("20% of 50 is 12", Claims(false=1)),
        ("3/5 × 100 = 60%", Claims(true=1)),
        ("3 / 4 = 75% and 3 / 4 = 0.75", Claims(true=2)),
        ("2 × 4 × 24 × 2 × £60 is £11,520", Claims(false=1)),
        ("2 + 3 × 4 = 14, not 20", Claims(true=1)),
        ("10 - 2 - 3 = 5", Claims(true=1)),
        ("A 10% cut of 0,5 × 4 = 2 litres", Claims(true=1)),
        ("150 ÷ 2.5 is about 60 days", Claims(true=1)),
        ("150 ÷ 2.5 is about 75 days", Claims(false=1)),
    ],
)
def test_claims_are_checked(text: str, expected: Claims) -> None:
    assert check(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # the result feeds a further operation: not a claim of its own
        "3/2 × 4/5 = 12/10 = 6/5",
        "1 − 25/36 = 11/36",
        # a chain that starts with a term the checker cannot read
        "½ × 2 × 9 = 9 J",
        "version 2.0 is 3 times faster",
        "Meet at 10 - 12 on 2024-05-01.",
        "No numbers here at all.",
    ],
)
def test_what_is_not_a_claim_is_skipped(text: str) -> None:
    assert check(text) == Claims()


def test_the_accurate_features_read_the_claims() -> None:
    from huddle_ai.evals.features import LINGUISTIC, linguistic
    from huddle_ai.evals.labelled import FeedbackItem

    work = "Interpreters: £2,800 a month, so £33,600 a year."
    wrong = linguistic(FeedbackItem(feedback="£2,800 × 12 is £31,600, so fix it.", work=work))
    right = linguistic(FeedbackItem(feedback="£2,800 × 12 is £33,600: right.", work=work))
    false, true = LINGUISTIC.index("arithmetic_false"), LINGUISTIC.index("arithmetic_true")
    assert (wrong[false], wrong[true]) == (1.0, 0.0)
    assert (right[false], right[true]) == (0.0, 1.0)
