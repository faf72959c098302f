"""Installment status: each row of the schedule in force against what was paid of it.

A servicing desk answers "which installments are paid, which are late, and since when" from this.
It is a pure function of the loan's money facts and a date, like every other figure: the schedule
and what was allocated to each installment come from the same money walk (`derive_position`) that
gives the loan view its balances, so the outstanding amounts here sum to the view's figures.

`paid_on` is the business date on which an installment was met in full (principal, interest,
penalty and fees). Money is applied to installments only by a repayment or, for money held as
overpayment, on a due date, so the walk is asked about those dates only, earliest first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from loanledger.domain.servicing import InstallmentDue, Position

INSTALLMENT_STATUSES = ("paid", "partly_paid", "overdue", "due", "future")
"""`paid`: nothing is owed of it any more (penalty included); `overdue`: its due date has passed
with something unpaid; `partly_paid`: not yet due, something but not all of it paid; `due`: the
next installment to fall due (on or after the date asked), nothing of it paid yet; `future`: a
later one."""


@dataclass(frozen=True)
class InstallmentStatus:
    """One installment on one date: what fell or falls due, what was paid, what is left."""

    number: int
    due_date: date
    principal_due: Decimal
    principal_paid: Decimal
    interest_due: Decimal
    interest_paid: Decimal
    penalty_due: Decimal
    """Penalty paid plus penalty accrued and unpaid (rounded to the minor unit as when paid)."""
    penalty_paid: Decimal
    paid_on: date | None
    status: str
    fee_due: Decimal = Decimal(0)
    """Its share of a scheduled origination fee plus the late fee charged on it."""
    fee_paid: Decimal = Decimal(0)

    @property
    def principal_outstanding(self) -> Decimal:
        return self.principal_due - self.principal_paid

    @property
    def interest_outstanding(self) -> Decimal:
        return self.interest_due - self.interest_paid

    @property
    def penalty_outstanding(self) -> Decimal:
        return self.penalty_due - self.penalty_paid

    @property
    def fee_outstanding(self) -> Decimal:
        return self.fee_due - self.fee_paid


def installment_statuses(
    position: Position,
    money_dates: list[date],
    position_on: Callable[[date], Position | None],
) -> list[InstallmentStatus]:
    """The status of every installment of `position` (the walk at the end of its `as_of`).

    `money_dates` are the effective dates of the loan's money facts; `position_on(d)` gives the
    walk at the end of an earlier date `d` (for `paid_on`).
    """
    as_of = position.as_of
    next_due = position.next_due
    rows = []
    for due in position.installments:
        penalty_owed = due.penalty_owed(position.currency, position.rounding)
        settled = due.settled
        paid_something = (
            due.principal_paid > 0
            or due.interest_paid > 0
            or due.penalty_paid > 0
            or due.fee_paid > 0
        )
        if settled:
            status = "paid"
        elif due.due_date < as_of:
            status = "overdue"
        elif paid_something:
            status = "partly_paid"
        elif next_due is not None and due.number == next_due.number:
            status = "due"
        else:
            status = "future"
        rows.append(
            InstallmentStatus(
                number=due.number,
                due_date=due.due_date,
                principal_due=due.principal,
                principal_paid=due.principal_paid,
                interest_due=due.interest,
                interest_paid=due.interest_paid,
                penalty_due=due.penalty_paid + penalty_owed,
                penalty_paid=due.penalty_paid,
                paid_on=_paid_on(due, as_of, money_dates, position_on) if settled else None,
                status=status,
                fee_due=due.fee + due.late_fee,
                fee_paid=due.fee_paid,
            )
        )
    return rows


def _paid_on(
    due: InstallmentDue,
    as_of: date,
    money_dates: list[date],
    position_on: Callable[[date], Position | None],
) -> date | None:
    """The earliest date from which this installment has been met in full.

    The candidates are the dates money could have been applied to it: each money fact's date and
    its own due date (money held is applied then). Once met, an installment stays met (money is
    never taken back from it, and penalty stops growing once its base is paid), so the answer is
    found by bisecting the candidates: a few walks, not one per candidate.
    """
    candidates = sorted({day for day in (*money_dates, due.due_date) if day <= as_of})
    low, high = 0, len(candidates) - 1
    found: date | None = None
    while low <= high:
        middle = (low + high) // 2
        position = position_on(candidates[middle])
        walked = _same_installment(position, due.number) if position is not None else None
        if walked is not None and walked.settled:
            found = candidates[middle]
            high = middle - 1
        else:
            low = middle + 1
    return found


def _same_installment(position: Position, number: int) -> InstallmentDue | None:
    for due in position.installments:
        if due.number == number:
            return due
    return None
