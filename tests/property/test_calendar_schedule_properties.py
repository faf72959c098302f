"""Schedules under a holiday calendar, over random calendars and loans (issue 19 item 6): the
principal sums exactly to the amount, `following` never leaves a due date on a day that is not a
business day, `modified_following` never leaves the contractual month, `none` is the schedule
without a calendar, and the day-counted interest of each row is the hand formula's."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from loanledger.domain.calendar import add_months, installment_due_date
from loanledger.domain.errors import InvalidCalendarError
from loanledger.domain.money import Money
from loanledger.domain.products.calendars import (
    BusinessCalendar,
    CalendarVersion,
    check_calendar,
)
from loanledger.domain.rates import AnnualRate
from loanledger.domain.schedule import build_schedule

START = date(2026, 1, 1)


@st.composite
def calendars(draw: st.DrawFn) -> tuple[list[date], list[date]]:
    """A year of holidays in runs of 1-9 days, and some worked weekend days."""
    holidays: set[date] = set()
    for _ in range(draw(st.integers(0, 12))):
        first = START + timedelta(days=draw(st.integers(0, 700)))
        holidays.update(first + timedelta(days=n) for n in range(draw(st.integers(1, 9))))
    weekends = [
        START + timedelta(days=n)
        for n in range(730)
        if (START + timedelta(days=n)).weekday() >= 5 and START + timedelta(days=n) not in holidays
    ]
    working = draw(st.lists(st.sampled_from(weekends), max_size=10, unique=True))
    return sorted(holidays), sorted(working)


loans = st.fixed_dictionaries(
    {
        "amount": st.integers(100_000, 100_000_000).map(lambda fen: Decimal(fen) / 100),
        "rate": st.integers(0, 2400).map(lambda bp: Decimal(bp) / 10000),
        "term": st.integers(1, 24),
        "method": st.sampled_from(["annuity", "equal_principal", "interest_only", "bullet"]),
        "day": st.integers(1, 28),
        "disbursed": st.integers(0, 200).map(lambda n: START + timedelta(days=n)),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    calendar=calendars(),
    loan=loans,
    rule=st.sampled_from(["following", "modified_following", "none"]),
)
def test_a_calendar_moves_due_dates_by_its_rule_and_principal_still_sums(
    calendar: tuple[list[date], list[date]], loan: dict[str, object], rule: str
) -> None:
    holidays, working = calendar
    try:
        check_calendar("CN", START, holidays, working)
    except InvalidCalendarError:
        assume(False)
    version = CalendarVersion(START, 1, frozenset(holidays), frozenset(working))
    business = BusinessCalendar.of("CN", rule, [version])
    term, method, day, disbursed = loan["term"], loan["method"], loan["day"], loan["disbursed"]
    assert isinstance(term, int) and isinstance(method, str) and isinstance(day, int)
    assert isinstance(disbursed, date)
    assert isinstance(loan["amount"], Decimal) and isinstance(loan["rate"], Decimal)
    amount = Money.of(loan["amount"], "CNY")
    rate = AnnualRate.of(loan["rate"])
    rows = build_schedule(amount, rate, term, method, disbursed, day, calendar=business)
    plain = build_schedule(amount, rate, term, method, disbursed, day)

    assert sum((row.principal.amount for row in rows), Decimal(0)) == amount.amount
    assert rows[-1].principal_remaining.amount == 0
    numbers = range(term, term + 1) if method == "bullet" else range(1, term + 1)
    contractual = [installment_due_date(disbursed, day, number) for number in numbers]
    dues = [row.due_date for row in rows]
    assert dues == sorted(set(dues))  # strictly increasing
    if rule == "none":
        assert rows == plain
        return
    for due, nominal in zip(dues, contractual, strict=True):
        assert version.is_business_day(due)
        assert due >= nominal if rule == "following" else due.month == nominal.month
        if due == nominal:
            continue
        # A date moves only off a day that is not a business day, to the nearest one its rule
        # allows: every day between is closed too.
        assert not version.is_business_day(nominal)
        low, high = min(due, nominal), max(due, nominal)
        assert all(
            not version.is_business_day(low + timedelta(days=n))
            for n in range(1, (high - low).days)
        )
    if method in ("annuity", "equal_principal", "interest_only"):
        # Each row's interest is the outstanding before it × the period's rate: annual / 12
        # for exactly one month between adjusted dates, else actual days / 360.
        start = disbursed
        outstanding = Fraction(amount.amount)
        for row in rows:
            if row.due_date == add_months(start, 1):
                exact = outstanding * Fraction(rate.exact) / 12
            else:
                exact = outstanding * Fraction(rate.exact) * (row.due_date - start).days / 360
            expected = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
            assert row.interest.amount == expected
            outstanding -= Fraction(row.principal.amount)
            start = row.due_date
