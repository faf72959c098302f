"""Legal recovery (逾期三个月以上依法收贷): close of day opens it the first day days past due
exceed 90, with the grade falling to substandard; it lasts until the arrears are fully repaid,
and then the loan is active again. Close of day here is the aggregate's own `close_day`."""

from __future__ import annotations

from datetime import date, timedelta

from loanledger.domain.event import DomainEvent
from loanledger.domain.loan import Loan
from loanledger.domain.loan_events import ClassificationChanged, LegalRecoveryOpened
from tests.domain.builders import LOAN_ID, disbursed, record, recorded_at
from tests.journal import repay


def close_days(loan: Loan, first: date, last: date) -> list[DomainEvent]:
    """Run close of day on every date from `first` to `last`; the facts it recorded."""
    recorded: list[DomainEvent] = []
    day = first
    while day <= last:
        events, _ = loan.close_day(day, recorded_at())
        recorded.extend(events)
        day += timedelta(days=1)
    return recorded


def test_legal_recovery_opens_the_first_day_past_due_exceeds_ninety() -> None:
    loan = disbursed(on="2024-01-15")

    recorded = close_days(loan, date(2024, 1, 15), date(2024, 5, 20))

    opened = [event for event in recorded if isinstance(event, LegalRecoveryOpened)]
    assert [event.effective_date for event in opened] == [date(2024, 5, 16)]
    grades = [event for event in recorded if isinstance(event, ClassificationChanged)]
    assert (grades[-1].effective_date, grades[-1].classification) == (
        date(2024, 5, 16),
        "substandard",
    )


def test_the_loan_is_in_legal_recovery_while_the_arrears_are_unpaid() -> None:
    loan = disbursed(on="2024-01-15")
    close_days(loan, date(2024, 1, 15), date(2024, 5, 20))
    day = date(2024, 5, 20)

    position = loan.position(day)
    risk = loan.risk(day, position)

    assert risk.legal_recovery
    assert loan.status_on(day, position, risk) == "legal_recovery"


def test_repaying_every_arrear_ends_legal_recovery() -> None:
    loan = disbursed(on="2024-01-15")
    close_days(loan, date(2024, 1, 15), date(2024, 5, 20))
    owed = loan.position(date(2024, 5, 21))
    assert owed is not None
    arrears = owed.overdue_principal + owed.overdue_interest + owed.penalty_outstanding

    record(loan, repay(LOAN_ID, "2024-05-21", f"{arrears + 100:.2f}", "R-1"))

    day = date(2024, 5, 21)
    position = loan.position(day)
    risk = loan.risk(day, position)
    assert position is not None
    assert position.days_past_due == 0
    assert not risk.legal_recovery
    assert loan.status_on(day, position, risk) == "active"
