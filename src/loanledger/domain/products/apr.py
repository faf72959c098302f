"""The annualised rate a borrower is shown (APR, 年化利率; PBoC announcement [2021] No. 3):
the internal rate of return of the loan's contractual cash flows, fees included, annualised.

The cash flows are the amount the borrower receives at disbursement and each installment of
the contractual schedule. The period is the month: an installment due m months after the first
due date falls at period m + 1 (an irregular first period counts as one period, as the IRR
method of the announcement treats monthly installments; a bullet loan's one installment falls
at period term_months); the periodic rate r solves

    amount = Σ installment_k / (1 + r)^(period_k),

and APR = 12 × r, rounded HALF_UP to 4 decimals. r is found by Newton's method in Decimal
arithmetic (34 significant digits, no floats), kept inside a bisection bracket so it always
converges; a loan whose installments sum to less than the amount (never contractual) has no APR
(None).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache

PERIODS_PER_YEAR = 12
APR_PLACES = Decimal("0.0001")


def _npv(rate: Decimal, amount: Decimal, flows: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
    """(NPV, dNPV/drate) of −amount now and `flows` at periods 1..n (a zero where nothing is
    paid), at periodic `rate`."""
    factor = 1 / (Decimal(1) + rate)
    discount = Decimal(1)
    value = -amount
    weighted = Decimal(0)
    for period, flow in enumerate(flows, start=1):
        discount *= factor
        if flow:
            present = flow * discount
            value += present
            weighted += period * present
    return value, -weighted * factor


@lru_cache(maxsize=8192)
def periodic_irr(amount: Decimal, flows: tuple[Decimal, ...]) -> Decimal | None:
    """The periodic rate r ≥ 0 at which the flows' present value equals `amount` (to 1e-20),
    or None when the flows do not repay the amount.

    The present value falls as r grows, so the root is unique. Newton's method starts from the
    usual approximation 2 (total − amount) / (amount (n + 1)) and converges in a few steps; each
    step keeps a bracket [low, high] around the root and bisects whenever Newton would leave it,
    so it always converges."""
    total = sum(flows, start=Decimal(0))
    if amount <= 0 or not flows or total < amount:
        return None
    with localcontext() as context:
        context.prec = 34
        low, high = Decimal(0), Decimal(-1)  # high < 0: no upper bound known yet
        rate = 2 * (total - amount) / (amount * (len(flows) + 1))
        tolerance = Decimal("1e-20")
        for _ in range(300):
            value, slope = _npv(rate, amount, flows)
            if value > 0:
                low = rate
            else:
                high = rate
            candidate = rate - value / slope if slope else rate
            if not low < candidate or (high >= 0 and not candidate < high):
                candidate = (low + high) / 2 if high >= 0 else max(2 * rate, Decimal(1))
            if abs(candidate - rate) < tolerance:
                return +candidate
            rate = candidate
        return +rate


def monthly_flows(rows: Sequence[tuple[date, Decimal]]) -> tuple[Decimal, ...]:
    """The installments (due date, amount) as flows at monthly periods 1..n: the first due date
    is period 1, one due m months later period m + 1; months without one hold zero."""
    if not rows:
        return ()
    first = rows[0][0]
    flows: dict[int, Decimal] = {}
    for due, amount in rows:
        period = (due.year - first.year) * 12 + due.month - first.month + 1
        flows[period] = flows.get(period, Decimal(0)) + amount
    return tuple(flows.get(period, Decimal(0)) for period in range(1, max(flows) + 1))


def apr(
    amount: Decimal, installments: Sequence[tuple[date, Decimal]], *, first_period: int = 1
) -> Decimal | None:
    """12 × the monthly IRR of receiving `amount` and paying `installments` (due date, amount),
    to 4 places. `first_period` is the period of the first installment (a bullet loan's is its
    term)."""
    flows = (Decimal(0),) * (first_period - 1) + monthly_flows(installments)
    rate = periodic_irr(amount, flows)
    if rate is None:
        return None
    return (rate * PERIODS_PER_YEAR).quantize(APR_PLACES, rounding=ROUND_HALF_UP)
