"""An unpaid installment makes the loan past due from the day after its due date: penalty (罚息)
accrues each day on overdue principal and interest at the contract rate × 1.5 / 360, days past
due count from the earliest unpaid due date, and they set the bucket and the lowest grade
(五级分类) a manual downgrade may go to."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from loanledger.domain.errors import ClassificationError
from loanledger.domain.rules import CN_2023, bucket, classification_floor
from tests.domain.builders import disbursed, line, record

FIRST_DUE = date(2024, 2, 15)
OVERDUE_BASE = Decimal("972.80") + Decimal("60.00")
"""The first installment's principal and interest, both unpaid after its due date."""


def test_nothing_is_past_due_on_the_due_date_itself() -> None:
    position = disbursed().position(FIRST_DUE)

    assert position is not None
    assert position.days_past_due == 0
    assert position.penalty_outstanding == 0


def test_penalty_accrues_daily_on_overdue_principal_and_interest() -> None:
    day = date(2024, 3, 1)

    position = disbursed().position(day)

    days = (day - FIRST_DUE).days
    daily = Decimal("0.06") * CN_2023.penalty_multiplier / CN_2023.penalty_day_count_basis
    expected = (OVERDUE_BASE * daily * days).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert position is not None
    assert position.days_past_due == days == 15
    assert position.penalty_outstanding == expected == Decimal("3.87")


def test_paying_the_overdue_installment_stops_days_past_due() -> None:
    loan = disbursed()
    # 3.61 penalty accrued through 2024-02-29, then the installment itself.
    record(loan, line("repay", "2024-03-01", amount="1036.41", reference="R-1"))

    position = loan.position(date(2024, 3, 2))

    assert position is not None
    assert position.days_past_due == 0


@pytest.mark.parametrize(
    ("days_past_due", "expected"),
    [(0, "M0"), (1, "M1"), (30, "M1"), (31, "M2"), (90, "M3"), (180, "M6"), (181, "M7+")],
)
def test_days_past_due_fall_into_thirty_day_buckets(days_past_due: int, expected: str) -> None:
    assert bucket(days_past_due) == expected


@pytest.mark.parametrize(
    ("days_past_due", "floor"),
    [
        (0, "normal"),
        (1, "special_mention"),
        (90, "special_mention"),
        (91, "substandard"),
        (271, "doubtful"),
        (361, "loss"),
    ],
)
def test_days_past_due_set_the_lowest_grade(days_past_due: int, floor: str) -> None:
    assert classification_floor(days_past_due) == floor


def test_a_downgrade_above_the_floor_its_days_past_due_set_is_refused() -> None:
    """On 2024-05-16 the first installment is 91 days past due: substandard at best."""
    loan = disbursed()
    downgrade = {"approver": "approver-1", "reason": "arrears"}

    with pytest.raises(ClassificationError, match="above the floor 'substandard'"):
        record(loan, line("downgrade", "2024-05-16", classification="special_mention", **downgrade))

    record(loan, line("downgrade", "2024-05-16", classification="doubtful", **downgrade))
    assert loan.lifecycle_stage() == "active"
