"""Journal lines for product tests: a product definition and a loan applied for on it; and the
fee tests' book, one loan disbursed on a product with fees."""

from __future__ import annotations

from typing import Any

from loanledger import LoanLedger
from tests.journal import disburse, pre_loan


def product(product_id: str = "SME", on: str = "2024-01-01", **fields: Any) -> dict[str, Any]:
    """A `define_product` line; `fields` override the defaults below."""
    line: dict[str, Any] = {
        "command": "define_product",
        "product_id": product_id,
        "on": on,
        "name": "SME working capital",
        "repayment_methods": ["annuity", "equal_principal"],
        "amount_min": "1000.00",
        "amount_max": "500000.00",
        "term_min": 6,
        "term_max": 36,
        "rate_min": "0.03",
        "rate_max": "0.12",
    }
    line.update(fields)
    return line


def loan_on(product_id: str | None, loan_id: str = "L-1", **terms: Any) -> list[dict[str, Any]]:
    """apply (naming `product_id`) → investigation → review → approval."""
    lines = pre_loan(loan_id, **terms)
    if product_id is not None:
        lines[0]["product"] = product_id
    return lines


def disbursed_with_fees(fees: dict[str, Any], **fields: Any) -> LoanLedger:
    """An in-memory book: product SME with `fees` (and `fields`), loan L-1 on it (12000.00 at
    6 % over 12 months, the `pre_loan` defaults) disbursed 2024-01-15."""
    ledger = LoanLedger.open("memory://")
    ledger.execute(product(fees=fees, **fields))
    for line in loan_on("SME"):
        ledger.execute(line)
    ledger.execute(disburse("L-1", "2024-01-15", "12000.00"))
    return ledger
