"""Journal lines and a first-principles reference for floating-rate tests.

The reference computes an annuity the way a textbook does, in exact fractions, rounding each
amount HALF_UP to the fen once: level installment P = B·r / (1 − (1 + r)^−n) with r the annual
rate / 12; each row's interest = remaining × r; principal = P − interest.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from tests.products.builders import loan_on, product

FEN = Decimal("0.01")


def fen(value: Fraction) -> Decimal:
    """`value` rounded HALF_UP to the fen (exactly: through a 40-place decimal)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(FEN, rounding=ROUND_HALF_UP)


def level_installment(principal: Decimal, annual_rate: str, count: int) -> Decimal:
    r = Fraction(annual_rate) / 12
    return fen(Fraction(principal) * r / (1 - (1 + r) ** -count))


def annuity_rows(
    principal: Decimal, annual_rate: str, count: int, rows: int
) -> list[tuple[Decimal, Decimal, Decimal]]:
    """The first `rows` rows (principal, interest, remaining after) of an annuity of `count`."""
    payment = level_installment(principal, annual_rate, count)
    r = Fraction(annual_rate) / 12
    remaining = principal
    out = []
    for _ in range(rows):
        interest = fen(Fraction(remaining) * r)
        paid = payment - interest
        remaining -= paid
        out.append((paid, interest, remaining))
    return out


def home_product(reset: str = "anniversary", **rate: Any) -> dict[str, Any]:
    """A 5-year LPR + 35 bp floating product (`HOME`)."""
    return product(
        "HOME",
        on="2023-01-01",
        name="LPR mortgage",
        repayment_methods=["annuity", "equal_principal", "interest_only"],
        amount_max="5000000.00",
        term_max=360,
        rate_min="0.01",
        rate_max="0.10",
        rate={"type": "floating", "index": "LPR5Y", "spread": "0.0035", "reset": reset, **rate},
    )


def publish(on: str, rate: str, index: str = "LPR5Y") -> dict[str, Any]:
    return {"command": "publish_rate", "index": index, "on": on, "rate": rate}


def home_loan(
    loan_id: str = "L-1",
    *,
    method: str = "annuity",
    annual_rate: str = "0.0455",
    approved_on: str = "2024-01-10",
    amount: str = "1000000.00",
    term_months: int = 60,
) -> list[dict[str, Any]]:
    return loan_on(
        "HOME",
        loan_id,
        amount=amount,
        term_months=term_months,
        annual_rate=annual_rate,
        method=method,
        applied_on="2024-01-02",
        approved_on=approved_on,
    )
