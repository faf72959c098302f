"""Holiday calendars: due dates on a day that is not a business day move, the moved period is
charged by its days, and days past due count from the moved date (issue 19 item 6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest

from loanledger import DomainError, LoanLedger
from loanledger.domain.errors import (
    InvalidCalendarError,
    InvalidCommandError,
    InvalidDateError,
    InvalidProductError,
    UnknownCalendarError,
)
from tests.journal import disburse, repay
from tests.products.builders import loan_on, product
from tests.products.calendar_book import HOLIDAYS_2026, WORKING_DAYS_2026, calendar, calendar_loan

FEN = Decimal("0.01")


def _book(lines: list[dict[str, object]]) -> LoanLedger:
    ledger = LoanLedger.open("memory://")
    for line in lines:
        ledger.execute(line)
    return ledger


def _fen(value: Fraction) -> Decimal:
    """An exact amount rounded HALF_UP to the fen, from first principles."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        FEN, rounding=ROUND_HALF_UP
    )


def _business_day(day: date) -> bool:
    iso = day.isoformat()
    if iso in WORKING_DAYS_2026:
        return True
    return iso not in HOLIDAYS_2026 and day.weekday() < 5


def test_a_12_month_annuity_moves_its_spring_festival_due_date_and_charges_it_by_days() -> None:
    """120000.00 at 6% over 12 months, disbursed 2025-12-16, due on the 16th, ACT/360.

    Due 2026-02-16 (Spring Festival) moves to Tuesday 2026-02-24, so that period runs 39 days
    and the next one, from the moved date, 20 days; 2026-05-16 (Saturday) moves to 05-18 and
    2026-08-16 (Sunday) to 08-17, each with their neighbours charged by days. Every other
    period is one month: annual / 12. The annuity's principal portions are the regular ones
    (payment − outstanding × 0.005), so principal sums exactly and only interest changes."""
    ledger = _book(calendar_loan())
    rows = ledger.schedule("L-1")

    amount = Fraction(120000)
    monthly = Fraction(6, 1200)
    grown = (1 + monthly) ** 12
    payment = _fen(amount * monthly * grown / (grown - 1))
    assert payment == Decimal("10327.97")
    moved = {2: date(2026, 2, 24), 5: date(2026, 5, 18), 8: date(2026, 8, 17)}
    expected = []
    remaining = Decimal("120000.00")
    start = date(2025, 12, 16)
    for number in range(1, 13):
        contractual = date(2026, number, 16)
        due = moved.get(number, contractual)
        regular = start.day == 16 and due.day == 16
        if regular:
            interest = _fen(Fraction(remaining) * monthly)
        else:
            interest = _fen(Fraction(remaining) * Fraction(6, 100) * (due - start).days / 360)
        regular_interest = _fen(Fraction(remaining) * monthly)
        principal = remaining if number == 12 else payment - regular_interest
        remaining -= principal
        expected.append(
            {
                "number": number,
                "due_date": due.isoformat(),
                "principal": str(principal),
                "interest": str(interest),
                "installment": str(principal + interest),
                "principal_remaining": str(remaining),
                "fee": "0.00",  # a product without fees: every row's fee share is nil
                "annual_rate": "0.06",
            }
        )
        start = due
    assert rows == expected
    # The figures the hand computation gives, written out for the moved periods:
    # 110272.03 × 0.06 × 39 / 360 = 716.7682; 100495.42 × 0.06 × 20 / 360 = 334.9847.
    assert (rows[1]["due_date"], rows[1]["interest"], rows[1]["installment"]) == (
        "2026-02-24",
        "716.77",
        "10493.38",
    )
    assert (rows[2]["interest"], rows[2]["installment"]) == ("334.98", "10160.47")
    assert sum(Decimal(row["principal"]) for row in rows) == Decimal("120000.00")


@pytest.mark.parametrize(
    ("day_count", "moved_days", "basis", "moved_interest", "next_days", "next_interest"),
    [
        # 30/360 counts 16 January to 24 February as 30 + 8 = 38 days, 24 February to 16 March
        # as 30 − 8 = 22: 110272.03 × 0.06 × 38 / 360 = 698.3895, 100495.42 × 0.06 × 22 / 360
        # = 368.4832.
        ("30/360", 38, 360, "698.39", 22, "368.48"),
        # ACT/365F: 39 and 20 actual days over 365: 706.9495 and 330.3959.
        ("ACT/365F", 39, 365, "706.95", 20, "330.40"),
    ],
)
def test_a_moved_period_is_charged_by_the_products_day_count(
    day_count: str,
    moved_days: int,
    basis: int,
    moved_interest: str,
    next_days: int,
    next_interest: str,
) -> None:
    rows = _book(calendar_loan(day_count=day_count)).schedule("L-1")
    assert _fen(Fraction("110272.03") * Fraction(6, 100) * moved_days / basis) == Decimal(
        moved_interest
    )
    assert _fen(Fraction("100495.42") * Fraction(6, 100) * next_days / basis) == Decimal(
        next_interest
    )
    assert (rows[1]["due_date"], rows[1]["interest"], rows[2]["interest"]) == (
        "2026-02-24",
        moved_interest,
        next_interest,
    )
    assert rows[1]["principal"] == "9776.61"  # the regular portion, whatever the day count


def test_a_due_date_on_a_weekend_working_day_does_not_move() -> None:
    """Saturday 2026-02-14 is worked (the Spring Festival swap): a due date there stays, while
    Saturday 2026-03-14 moves to Monday 03-16."""
    ledger = _book(calendar_loan(repayment_day=14, disbursed_on="2026-01-14"))
    dates = [row["due_date"] for row in ledger.schedule("L-1")]
    assert dates[:3] == ["2026-02-14", "2026-03-16", "2026-04-14"]


def test_business_day_none_keeps_every_due_date_and_figure() -> None:
    kept = _book(calendar_loan("none")).schedule("L-1")
    plain = _book(calendar_loan(with_calendar=False)).schedule("L-1")
    assert kept == plain
    assert [row["due_date"] for row in kept] == [f"2026-{m:02d}-16" for m in range(1, 13)]


def test_modified_following_moves_back_when_following_would_leave_the_month() -> None:
    """Due on the 28th: Saturday 2026-11-28 moves forward to Monday 11-30 under both rules.
    With 11-30 a holiday too, `following` would leave November (12-01); `modified_following`
    takes the last business day before instead, Friday 11-27."""
    following = _book(calendar_loan(repayment_day=28, disbursed_on="2025-12-28"))
    dates = [row["due_date"] for row in following.schedule("L-1")]
    assert dates[10] == "2026-11-30"
    # With a holiday on 11-30 too, following leaves November: modified_following takes 11-27.
    lines = calendar_loan("modified_following", repayment_day=28, disbursed_on="2025-12-28")
    lines[0] = calendar(holidays=[*HOLIDAYS_2026, "2026-11-30"])
    dates = [row["due_date"] for row in _book(lines).schedule("L-1")]
    assert dates[10] == "2026-11-27"
    lines[1]["business_day"] = "following"
    dates = [row["due_date"] for row in _book(lines).schedule("L-1")]
    assert dates[10] == "2026-12-01"


def test_days_past_due_count_from_the_moved_due_date() -> None:
    ledger = _book(calendar_loan())
    ledger.execute(repay("L-1", "2026-01-16", "10327.97", "R-1"))
    # The contractual 02-16 is not past due: the installment falls due on 02-24.
    on_the_16th = ledger.loan("L-1", as_of="2026-02-17")
    assert (on_the_16th["days_past_due"], on_the_16th["overdue_principal"]) == (0, "0.00")
    assert on_the_16th["next_due_date"] == "2026-02-24"
    assert on_the_16th["next_due_amount"] == "10493.38"
    assert ledger.loan("L-1", as_of="2026-02-24")["days_past_due"] == 0
    late = ledger.loan("L-1", as_of="2026-02-25")
    # 10493.38 overdue for one day at 0.06 × 1.5 / 360: 2.6233 -> 2.62.
    assert (late["days_past_due"], late["penalty_outstanding"]) == (1, "2.62")


def test_a_payment_on_the_moved_due_date_is_on_time() -> None:
    ledger = _book(calendar_loan())
    ledger.execute(repay("L-1", "2026-01-16", "10327.97", "R-1"))
    result = ledger.execute(repay("L-1", "2026-02-24", "10493.38", "R-2"))
    assert result["allocation"]["penalty"] == "0.00"
    view = ledger.loan("L-1", as_of="2026-02-25")
    assert (view["days_past_due"], view["status"]) == (0, "active")


def test_the_reminder_goes_out_seven_days_before_the_moved_due_date() -> None:
    ledger = _book(calendar_loan())
    ledger.execute(repay("L-1", "2026-01-16", "10327.97", "R-1"))
    ledger.close_day("2026-02-01")
    ledger.close_day("2026-02-24")  # closes every day from 02-02 on
    reminders = [
        (notice["issued_on"], notice["due_date"])
        for notice in ledger.report("notices", as_of="2026-02-24")
        if notice["kind"] == "reminder"
    ]
    assert reminders == [("2026-02-17", "2026-02-24")]  # none on 02-09 for the 16th


def test_installments_and_the_loan_ledger_show_the_moved_due_date() -> None:
    ledger = _book(calendar_loan())
    rows = ledger.installments("L-1", as_of="2026-02-20")
    assert rows[1]["due_date"] == "2026-02-24"
    ledger_row = ledger.report("loan_ledger", as_of="2026-02-20")[0]
    assert ledger_row["next_due_date"] == "2026-02-24"
    assert ledger_row["maturity_date"] == "2026-12-16"


def test_a_calendar_defined_after_the_loan_re_derives_it_as_known_from_then_on() -> None:
    """The loan was approved when only New Year was published; the Spring Festival version
    recorded later moves 02-16 to 02-24 from then on, and the loan as known before it keeps
    02-16."""
    lines = calendar_loan()
    lines[0] = calendar(holidays=HOLIDAYS_2026[:3], working_days=["2026-01-04"])
    ledger = _book(lines)
    assert ledger.loan("L-1", as_of="2026-02-10")["next_due_date"] == "2026-02-16"
    before = datetime.now(UTC)
    result = ledger.execute(
        calendar(on="2026-02-01", holidays=HOLIDAYS_2026[3:], working_days=WORKING_DAYS_2026[1:])
    )
    assert (result["version"], result["loans"]) == (2, 1)
    assert ledger.loan("L-1", as_of="2026-02-10")["next_due_date"] == "2026-02-24"
    as_known = ledger.loan("L-1", as_of="2026-02-10", known_at=before)
    assert as_known["next_due_date"] == "2026-02-16"
    # Version 1 still governs due dates before 02-01: January's is as it was.
    assert ledger.schedule("L-1")[0]["due_date"] == "2026-01-16"
    assert ledger.verify().ok


def test_a_prepayment_keeps_the_moved_due_dates_of_the_re_amortised_tail() -> None:
    ledger = _book(calendar_loan())
    result = ledger.execute(repay("L-1", "2026-03-20", "40000.00", "P-1", prepay=True))
    prepaid = Decimal(result["allocation"]["prepaid_principal"])
    rows = ledger.schedule("L-1", as_of="2026-03-20")
    dates = [row["due_date"] for row in rows]
    assert dates[3:8] == ["2026-04-16", "2026-05-18", "2026-06-16", "2026-07-16", "2026-08-17"]
    assert sum(Decimal(row["principal"]) for row in rows) + prepaid == Decimal("120000.00")


def test_the_apr_counts_months_not_moved_days() -> None:
    """A moved due date stays its month's installment: the APR's periods are the contract's."""
    view = _book(calendar_loan()).loan("L-1", as_of="2026-01-01")
    assert view["apr"] == "0.0605"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"extra": 1}, InvalidCommandError, "define_calendar: unknown field 'extra'"),
        (
            {"holidays": ["2026-02-16", "2026-02-16"]},
            InvalidCalendarError,
            "define_calendar 'CN': holidays lists 2026-02-16 twice",
        ),
        (
            {"holidays": ["2026-02-14"], "working_days": ["2026-02-14"]},
            InvalidCalendarError,
            "2026-02-14 is both a holiday and a working day",
        ),
        (
            {"working_days": ["2026-02-16"]},
            InvalidCalendarError,
            "working_days 2026-02-16 is not a Saturday or Sunday",
        ),
        (
            {"holidays": ["2025-12-31"]},
            InvalidCalendarError,
            "holidays 2025-12-31 is before the version's on date 2026-01-01",
        ),
        (
            {"holidays": ["2036-01-02"]},
            InvalidCalendarError,
            "holidays 2036-01-02 is more than 10 years after 2026-01-01",
        ),
        (
            {"holidays": [(date(2026, 3, 1) + timedelta(days=n)).isoformat() for n in range(15)]},
            InvalidCalendarError,
            "make 15 days in a row that are not business days; at most 14",
        ),
        (
            {"holidays": ["2026-02-30"]},
            InvalidDateError,
            "define_calendar: field 'holidays.0': '2026-02-30' is not a calendar date",
        ),
    ],
)
def test_an_inconsistent_calendar_is_refused_and_nothing_is_recorded(
    change: dict[str, object], error: type[DomainError], message: str
) -> None:
    ledger = LoanLedger.open("memory://")
    with pytest.raises(error, match=None) as raised:
        ledger.execute(calendar(holidays=[], working_days=[]) | change)
    assert message in str(raised.value)
    assert ledger.verify().events_checked == 0
    assert ledger.execute(calendar())["version"] == 1


def test_a_product_naming_an_undefined_calendar_is_refused() -> None:
    ledger = LoanLedger.open("memory://")
    with pytest.raises(UnknownCalendarError) as raised:
        ledger.execute(product(calendar="CN"))
    assert str(raised.value) == "define_product 'SME': calendar 'CN' is not defined"
    with pytest.raises(InvalidProductError, match="business_day needs a calendar"):
        ledger.execute(product(business_day="following"))
    assert ledger.verify().events_checked == 0


def test_a_loan_on_a_product_without_a_calendar_records_no_calendar_fact() -> None:
    ledger = _book(
        [calendar(), product(), *loan_on("SME"), disburse("L-1", "2024-01-15", "12000.00")]
    )
    assert ledger.loan("L-1", as_of="2024-01-15")["product_version"] == 1
    result = ledger.execute(calendar(on="2026-02-01", holidays=[], working_days=[]))
    assert result["loans"] == 0
