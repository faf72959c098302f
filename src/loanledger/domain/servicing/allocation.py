"""Allocation: how one repayment is spread over the installments that have fallen due, by the
loan's strategy (`domain.products.pricing.AllocationStrategy`; the default is art. 561's
oldest-first penalty → interest → principal)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from loanledger.domain.books import Books
from loanledger.domain.money import Currency
from loanledger.domain.products.pricing import AllocationStrategy
from loanledger.domain.rules import RuleSet
from loanledger.domain.servicing.figures import ONE_DAY, InstallmentDue, Position


class Walk(Protocol):
    """What allocating a repayment needs of the servicing walk (`servicing.walk.Walk`)."""

    allocation: AllocationStrategy
    books: Books | None
    currency: Currency
    position: Position
    rules: RuleSet

    def accrue(self, due: InstallmentDue, through: date) -> None: ...

    def recognise_penalty(self, day: date, due: InstallmentDue, *, off: bool) -> None: ...


def allocate_due(
    walk: Walk,
    day: date,
    remaining: Decimal,
    allocation: dict[str, Decimal],
    parts: list[tuple[int, Decimal, Decimal, Decimal]],
    off: bool,
) -> Decimal:
    """Spread `remaining` over the installments due on or before `day` by the loan's
    allocation strategy (`AllocationStrategy`); return what is left. Each installment's
    penalty is first accrued through the day before (算头不算尾). Fees paid are added to
    `allocation["fee"]` (they are kept per loan in the books, so `parts` leaves them out)."""
    order = walk.allocation.order
    horizontal = walk.allocation is AllocationStrategy.HORIZONTAL
    reached: list[tuple[InstallmentDue, tuple[Decimal, Decimal, Decimal]]] = []
    for due in walk.position.installments:
        if due.due_date > day or remaining == 0:
            break
        if due.settled:
            continue
        walk.accrue(due, day - ONE_DAY)
        if walk.books is not None:
            walk.recognise_penalty(day, due, off=off)
        before = (due.penalty_paid, due.interest_paid, due.principal_paid)
        if horizontal:
            reached.append((due, before))
            continue
        for kind in order:
            paid = pay(due, kind, remaining, walk.currency, walk.rules.rounding)
            remaining -= paid
            allocation[kind] += paid
        parts.append(
            (
                due.number,
                due.penalty_paid - before[0],
                due.interest_paid - before[1],
                due.principal_paid - before[2],
            )
        )
    for kind in order if horizontal else ():
        for due, _ in reached:
            paid = pay(due, kind, remaining, walk.currency, walk.rules.rounding)
            remaining -= paid
            allocation[kind] += paid
    for due, before in reached:
        parts.append(
            (
                due.number,
                due.penalty_paid - before[0],
                due.interest_paid - before[1],
                due.principal_paid - before[2],
            )
        )
    return remaining


def pay(
    due: InstallmentDue, kind: str, remaining: Decimal, currency: Currency, rounding: str
) -> Decimal:
    """Pay up to `remaining` of one kind (penalty, fee, interest, principal) of `due`."""
    if kind == "penalty":
        owed = due.penalty_owed(currency, rounding)
        paid = min(remaining, owed)
        if paid == owed:
            due.penalty_unpaid = Fraction(0)  # paying the rounded amount settles the accrual
        else:
            due.penalty_unpaid -= Fraction(paid)
        due.penalty_paid += paid
    elif kind == "interest":
        paid = min(remaining, due.interest_unpaid)
        due.interest_paid += paid
    elif kind == "fee":
        paid = min(remaining, due.fee_unpaid)
        due.fee_paid += paid
    else:
        paid = min(remaining, due.principal_unpaid)
        due.principal_paid += paid
    return paid
