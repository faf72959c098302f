"""The demo book's clock and the facts it enters late, so that `known_at` has something to show.

A real book is not entered on time: a repayment reaches the ledger days after the money came in,
an appraisal is recorded after the date it values the collateral on. The demo book does that a
few times, chosen without the generator's random numbers (so the rest of the book is exactly the
book without them):

- the second installment of the first `LATE_REPAYMENTS` loans that pay on time is entered
  `LATE_DAYS` days after its due date, with its due date as effective date: close of day sees the
  installment unpaid meanwhile (a dunning notice goes out), and the repayment, once entered,
  is backdated, so as known now the loan was never overdue;
- the first `BACKDATED_REVALUATIONS` revaluations are recorded `BACKDATED_DAYS` days after the
  date of the appraisal.

`BookClock` is the ledger's clock while the book is generated: a fact entered on business day D
is recorded at 18:00 of D in Asia/Shanghai, so recorded times are the same on every run and a
`known_at` of `D T18:00+08:00` reads the book as it was entered by the end of D.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LATE_REPAYMENTS = 3
LATE_DAYS = 3
BACKDATED_REVALUATIONS = 2
BACKDATED_DAYS = 10
LATE_INSTALLMENT = 2
"""Which installment of a loan is entered late (never the last: terms are at least 6 months)."""

BOOK_ZONE = ZoneInfo("Asia/Shanghai")
ENTRY_TIME = time(18)


def entered_at(day: date) -> datetime:
    """When the demo records what it enters on business day `day` (UTC)."""
    return datetime.combine(day, ENTRY_TIME, tzinfo=BOOK_ZONE).astimezone(UTC)


class BookClock:
    """The ledger's clock during the demo: `entered_at(day)` of the day being generated."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> datetime:
        return entered_at(self.day)


@dataclass(frozen=True)
class LateFact:
    """A fact the book entered after its effective date."""

    loan_id: str
    command: str
    effective: date
    entered: date

    def describe(self) -> str:
        return (
            f"{self.loan_id} {self.command} of {self.effective.isoformat()} entered "
            f"{self.entered.isoformat()}"
        )


@dataclass
class LateFacts:
    """Which facts the book enters late, and the ones it did."""

    repayments_left: int = LATE_REPAYMENTS
    revaluations_left: int = BACKDATED_REVALUATIONS
    entered: list[LateFact] = field(default_factory=list)

    def delays_repayment(self, behaviour: str, installment: int) -> bool:
        """Whether this installment's repayment is entered `LATE_DAYS` days late."""
        if self.repayments_left and behaviour == "on_time" and installment == LATE_INSTALLMENT:
            self.repayments_left -= 1
            return True
        return False

    def revaluation_date(self, loan_id: str, day: date) -> date:
        """The effective date of a revaluation of `loan_id` entered on `day`."""
        if not self.revaluations_left:
            return day
        self.revaluations_left -= 1
        on = day - timedelta(days=BACKDATED_DAYS)
        self.note(loan_id, "revalue_collateral", on, day)
        return on

    def note(self, loan_id: str, command: str, effective: date, entered: date) -> None:
        if effective != entered:
            self.entered.append(LateFact(loan_id, command, effective, entered))
