"""Journal lines for holiday-calendar tests: China's 2026 calendar and a loan on a product that
follows it.

The 2026 dates below are the test's calendar. The Spring Festival ones follow the State Council's
2026 notice (15-23 February off, Saturdays 14 and 28 February worked); the rest are the other
national holidays with their worked weekend days, as a bank would enter them.
"""

from __future__ import annotations

from typing import Any

from tests.journal import disburse
from tests.products.builders import loan_on, product


def _days(month: int, first: int, last: int) -> list[str]:
    return [f"2026-{month:02d}-{day:02d}" for day in range(first, last + 1)]


HOLIDAYS_2026 = [
    *_days(1, 1, 3),  # New Year
    *_days(2, 15, 23),  # Spring Festival
    *_days(4, 4, 6),  # Qingming
    *_days(5, 1, 5),  # Labour Day
    *_days(6, 19, 21),  # Dragon Boat
    *_days(9, 25, 27),  # Mid-Autumn
    *_days(10, 1, 7),  # National Day
]
WORKING_DAYS_2026 = [
    "2026-01-04",
    "2026-02-14",
    "2026-02-28",
    "2026-05-09",
    "2026-09-20",
    "2026-10-10",
]


def calendar(
    on: str = "2026-01-01",
    holidays: list[str] | None = None,
    working_days: list[str] | None = None,
    calendar_id: str = "CN",
) -> dict[str, Any]:
    """A `define_calendar` line (China 2026 unless told)."""
    return {
        "command": "define_calendar",
        "calendar_id": calendar_id,
        "on": on,
        "holidays": HOLIDAYS_2026 if holidays is None else holidays,
        "working_days": WORKING_DAYS_2026 if working_days is None else working_days,
    }


def calendar_loan(
    business_day: str | None = "following",
    *,
    repayment_day: int = 16,
    disbursed_on: str = "2025-12-16",
    amount: str = "120000.00",
    method: str = "annuity",
    day_count: str = "ACT/360",
    with_calendar: bool = True,
) -> list[dict[str, Any]]:
    """The calendar, a product following it, and a 12-month loan on it, disbursed."""
    terms: dict[str, Any] = {"day_count": day_count}
    if with_calendar:
        terms["calendar"] = "CN"
        if business_day is not None:
            terms["business_day"] = business_day
    return [
        *([calendar()] if with_calendar else []),
        product(on="2025-01-01", amount_max="500000.00", **terms),
        *loan_on(
            "SME",
            amount=amount,
            method=method,
            applied_on="2025-12-01",
            approved_on="2025-12-10",
            repayment_day=repayment_day,
        ),
        disburse("L-1", disbursed_on, amount),
    ]
