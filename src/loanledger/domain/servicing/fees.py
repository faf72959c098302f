"""Fees in the money walk (issue 19 item 4): a product's late fee charged as days pass, an
origination fee spread over the installments, and the prepayment fee on principal prepaid.

A fee is a charge beside penalty: it is charged (`Books.charge_fee`, or at once with the money
that pays it), allocated by the loan's strategy (`AllocationStrategy.order`) and shown per
installment (`InstallmentDue.fee`, `late_fee`, `fee_paid`). An installment's share of a
scheduled origination fee falls due with it, so it counts for days past due; a late fee, like
penalty, never makes a loan past due. Paying a loan off pays the shares not yet due as well;
a partial prepayment leaves them scheduled (`keep_fee_shares`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from loanledger.domain.books import Books
from loanledger.domain.money import Currency, round_to_minor
from loanledger.domain.products.pricing import LateFeeTerms, spread_fee
from loanledger.domain.servicing.figures import ZERO, InstallmentDue, Position


def charge_late_fees(
    position: Position,
    late: LateFeeTerms,
    grace: timedelta,
    rounding: str,
    books: Books | None,
    non_accrual: Callable[[date], bool],
    through: date,
) -> None:
    """Charge the late fee on each installment whose late-fee day (due date + grace +
    `after_days`) is on or before `through` and that was still unpaid at its end. The walk
    calls this before each fact (through the day before) and at the end of `as_of`, when
    nothing has moved since that day, so what is unpaid now is what was unpaid then."""
    after = grace + timedelta(days=late.after_days)
    for due in position.installments:
        day = due.due_date + after
        if day > through:
            break
        if due.late_fee_decided or due.overdue_base <= 0:
            continue  # decided, or paid in time (an installment never falls unpaid again)
        fee = late.charge(
            due.principal_unpaid + due.interest_unpaid,
            position.late_fees_charged,
            position.currency,
            rounding,
        )
        # Unpaid and due, so the walk's own copy of it, never one a remembered walk shares.
        due.late_fee_decided = True
        if not fee:
            continue
        due.late_fee = fee
        position.late_fees_charged += fee
        position.fees_charged += fee
        if books is not None:
            books.charge_fee(day, "late_fee", str(due.number), fee, off=non_accrual(day))


def schedule_fee(
    position: Position, on: date, reference: str, fee: Decimal, books: Books | None
) -> None:
    """Spread an origination fee over the installments due after a disbursement on `on` (all
    of them for the first; the rest of the schedule for a later tranche), charged in full now:
    the borrower owes it and pays it with the installments."""
    if not fee:
        return
    future = [due for due in position.installments if due.due_date > on]
    for due, share in zip(future, spread_fee(fee, len(future), position.currency), strict=True):
        due.fee += share  # rows this disbursement built: the walk's own
    position.fees_charged += fee
    if books is not None:
        books.charge_fee(on, "origination_fee", reference, fee, off=False)


def keep_fee_shares(
    before: Sequence[InstallmentDue], after: Sequence[InstallmentDue], currency: Currency
) -> None:
    """A re-amortisation moves principal, not fees: the shares of a scheduled fee that the
    replaced installments (`before`) carried go to the new ones row for row, or are spread again
    when their number changed."""
    shares = [due.scheduled_fee_unpaid for due in before]
    if len(shares) != len(after):
        shares = spread_fee(sum(shares, start=ZERO), len(after), currency)
    for due, share in zip(after, shares, strict=True):
        due.fee = share


def prepayment_fee(
    principal: Decimal, rate: Fraction, currency: Currency, rounding: str
) -> Decimal:
    """The prepayment fee on `principal` prepaid: rounded with the product's rounding."""
    if not rate:
        return ZERO
    return round_to_minor(Fraction(principal) * rate, currency, rounding)


def principal_with_fee(
    available: Decimal, rate: Fraction, currency: Currency, rounding: str
) -> Decimal:
    """The most principal that `available` prepays with its fee on top, to the minor unit
    (what is left over, less than a unit and its fee, is held)."""
    if not rate or available <= 0:
        return available
    unit = currency.quantum

    def fee(principal: Decimal) -> Decimal:
        return prepayment_fee(principal, rate, currency, rounding)

    principal = Decimal(math.floor(Fraction(available) / (1 + rate) / Fraction(unit))) * unit
    while principal > 0 and principal + fee(principal) > available:
        principal -= unit
    while principal + unit + fee(principal + unit) <= available:
        principal += unit  # rounding the fee down may let one more unit fit
    return principal
