"""Prepayment (提前还款) and payoff: what settles a loan exactly on a date (issue 23, DESIGN §12).

The rule, in the order the money walk (`domain.servicing`) applies it: a repayment with `prepay`
first meets whatever is due (penalty → interest → principal, oldest first); the rest, together
with the overpayment the loan already holds, settles the interest the principal has earned since
the start of the current period and then reduces principal. When that covers the payoff the loan
is settled that day and only the surplus stays held; otherwise nothing is held that could have
reduced principal.
The payoff quote that pays exactly that is in `payoff.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from loanledger.domain.schedule import RepaymentMethod

ZERO = Decimal(0)

KEEP_CHOICES = ("term", "installment")
"""What a prepayment keeps when the rest of the schedule is re-amortised (DESIGN §12 `keep`)."""


class HasInstallment(Protocol):
    """What `kept_level` reads of a walk's installment (see `servicing.InstallmentDue`)."""

    principal: Decimal
    interest: Decimal


def kept_level(method: RepaymentMethod, installments: Sequence[HasInstallment]) -> Decimal | None:
    """The amount a `keep: installment` prepayment keeps: the installment of the last-but-one
    row (annuity) or its principal (equal principal). None when there is no level to keep: a
    bullet or interest-only loan repays principal once, at maturity, so its term is kept."""
    if len(installments) < 2:
        return None
    row = installments[-2]
    if method is RepaymentMethod.ANNUITY:
        return row.principal + row.interest
    if method is RepaymentMethod.EQUAL_PRINCIPAL:
        return row.principal
    return None
