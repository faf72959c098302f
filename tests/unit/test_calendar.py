"""Month arithmetic clamps to the month end; due dates fall on a repayment day of 1 to 28."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from loanledger.domain.calendar import (
    add_months,
    days_in_month,
    default_repayment_day,
    due_date,
    first_due_date,
    installment_due_date,
    validate_repayment_day,
)
from loanledger.domain.errors import InvalidDateError, InvalidTermError


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 12, 15), 1, date(2025, 1, 15)),
        (date(2024, 1, 15), -13, date(2022, 12, 15)),
        (date(2024, 5, 31), 0, date(2024, 5, 31)),
        (date(2024, 1, 30), 600, date(2074, 1, 30)),
    ],
)
def test_adding_months_clamps_to_the_end_of_the_month(
    start: date, months: int, expected: date
) -> None:
    assert add_months(start, months) == expected


def test_adding_months_beyond_the_year_9999_is_refused() -> None:
    with pytest.raises(InvalidDateError, match="outside the years 1 to 9999"):
        add_months(date(9999, 12, 1), 1)


def test_a_datetime_is_not_a_date() -> None:
    with pytest.raises(InvalidDateError, match=r"must be a datetime\.date"):
        add_months(datetime(2024, 1, 1, 12, 0), 1)


def test_days_in_month_counts_leap_februaries() -> None:
    assert [days_in_month(2024, month) for month in (1, 2, 4, 12)] == [31, 29, 30, 31]
    assert days_in_month(2100, 2) == 28


@pytest.mark.parametrize("day", [0, 29, 31, -1])
def test_a_repayment_day_outside_1_to_28_is_refused(day: int) -> None:
    with pytest.raises(InvalidTermError, match="repayment_day must be between 1 and 28"):
        validate_repayment_day(day)


def test_a_bool_repayment_day_is_refused() -> None:
    with pytest.raises(InvalidTermError, match="repayment_day must be an int"):
        validate_repayment_day(True)


def test_a_due_date_falls_on_the_repayment_day_of_the_month() -> None:
    assert due_date(2024, 2, 28) == date(2024, 2, 28)
    with pytest.raises(InvalidDateError, match="month must be between 1 and 12"):
        due_date(2024, 13, 1)


def test_the_first_due_date_is_the_repayment_day_in_the_month_after_disbursement() -> None:
    assert first_due_date(date(2024, 1, 15), 15) == date(2024, 2, 15)
    assert first_due_date(date(2024, 1, 31), 28) == date(2024, 2, 28)
    assert first_due_date(date(2024, 1, 5), 28) == date(2024, 2, 28)
    assert first_due_date(date(2024, 1, 25), 3) == date(2024, 2, 3)
    assert first_due_date(date(2024, 12, 20), 5) == date(2025, 1, 5)


def test_installment_k_is_due_k_months_after_the_disbursement_month() -> None:
    assert installment_due_date(date(2024, 1, 31), 28, 12) == date(2025, 1, 28)
    assert installment_due_date(date(2024, 1, 15), 15, 360) == date(2054, 1, 15)
    with pytest.raises(InvalidTermError, match="installment number must be 1 or more"):
        installment_due_date(date(2024, 1, 15), 15, 0)


def test_the_default_repayment_day_is_the_disbursement_day_capped_at_28() -> None:
    assert default_repayment_day(date(2024, 1, 5)) == 5
    assert default_repayment_day(date(2024, 1, 28)) == 28
    assert default_repayment_day(date(2024, 1, 31)) == 28
