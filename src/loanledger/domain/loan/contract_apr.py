"""The APR of a loan's contract (`domain.products.apr`, the PBoC's annualised rate of the
borrower's cash flows): the contract schedule from a start date, the origination fee withheld
or spread over the installments, the periods counted by contract month.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from loanledger.domain.calendar import default_repayment_day, installment_due_date
from loanledger.domain.products.apr import apr
from loanledger.domain.products.pricing import spread_fee
from loanledger.domain.rates import AnnualRate
from loanledger.domain.rules import RuleSet
from loanledger.domain.servicing import Terms
from loanledger.domain.servicing.contract import contract_schedule


def contract_apr(
    terms: Terms, rules: RuleSet, start: date, annual_rate: Decimal | None = None
) -> Decimal | None:
    """The APR of `terms` with the money received on `start` (`Loan.apr` chooses the date);
    with `annual_rate`, the same contract at that rate (a floating loan's rate in force)."""
    if annual_rate is not None:
        terms = replace(terms, annual_rate=AnnualRate.of(annual_rate))
    priced = terms.pricing.applied_to(rules) if terms.pricing is not None else rules
    rows = contract_schedule(
        terms.amount,
        terms.annual_rate,
        terms.term_months,
        terms.method,
        start,
        terms.repayment_day or default_repayment_day(start),
        priced.rounding,
        priced.irregular_period_day_count,
        terms.calendar,
    )
    # A bullet loan's one installment falls due term_months after the disbursement month.
    first_period = terms.term_months if len(rows) == 1 else 1
    pricing = terms.pricing
    amount, currency = terms.amount.amount, terms.currency
    fee = pricing.withheld_fee(amount, currency, first=True) if pricing else Decimal(0)
    # An origination fee spread over the schedule is paid with the installments.
    scheduled = pricing.scheduled_fee(amount, currency, first=True) if pricing else Decimal(0)
    shares = spread_fee(scheduled, len(rows), currency)
    if terms.calendar is not None:
        # Periods are months by contract: a due date a holiday moved into the next month
        # (28 September to 8 October) is still its own month's installment.
        day = terms.repayment_day or default_repayment_day(start)
        rows = tuple(
            (number, installment_due_date(start, day, number), principal, interest)
            for number, _, principal, interest in rows
        )
    return apr(
        amount - fee,  # what the borrower receives
        [
            (due, principal + interest + share)
            for (_, due, principal, interest), share in zip(rows, shares, strict=True)
        ],
        first_period=first_period,
    )
