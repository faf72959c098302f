"""The contract's schedule as the walk's installment dues, from the approved terms and the
first disbursement date (remembered: many loans share terms).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from functools import lru_cache

from loanledger.domain.money import Money
from loanledger.domain.products.calendars import BusinessCalendar
from loanledger.domain.rates import AnnualRate, DayCount
from loanledger.domain.schedule import (
    Installment,
    RepaymentMethod,
    contract_amounts,
)
from loanledger.domain.servicing.figures import (
    InstallmentDue,
)


@lru_cache(maxsize=4096)
def contract_schedule(
    principal: Money,
    annual_rate: AnnualRate,
    term_months: int,
    method: RepaymentMethod,
    disbursed_on: date,
    repayment_day: int,
    rounding: str,
    day_count: DayCount,
    calendar: BusinessCalendar | None = None,
) -> tuple[tuple[int, date, Decimal, Decimal], ...]:
    """The contract schedule as `contract_amounts` rows (number, due date, principal,
    interest), remembered: it is a pure function of its (hashable, frozen) arguments and every
    derivation of a loan starts from the same one, so building it once per loan instead of
    once per query is most of what keeps derivations fast. Rows of Money and Installment are
    not needed by the walk, which works on Decimal amounts."""
    return contract_amounts(
        principal,
        annual_rate,
        term_months,
        method,
        disbursed_on,
        repayment_day,
        rounding=rounding,
        day_count=day_count,
        calendar=calendar,
    )


def contract_dues(
    rows: Iterable[tuple[int, date, Decimal, Decimal]], start: date
) -> list[InstallmentDue]:
    """Walk rows for a contract schedule (`contract_amounts`) whose first period starts on
    `start`."""
    dues = []
    for number, due_date, principal, interest in rows:
        dues.append(InstallmentDue(number, due_date, principal, interest, start=start))
        start = due_date
    return dues


def installment_dues(rows: Iterable[Installment], start: date) -> list[InstallmentDue]:
    """Walk rows for a schedule whose first period starts on `start`."""
    dues = []
    for row in rows:
        dues.append(
            InstallmentDue(
                row.number, row.due_date, row.principal.amount, row.interest.amount, start=start
            )
        )
        start = row.due_date
    return dues
