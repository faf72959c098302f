"""Products are stored facts like any other: they survive reopening the store, decode on every
persistent store kind, and `verify` checks the product's chain with the loans'."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from loanledger import LoanLedger
from tests.journal import disburse, repay
from tests.products.builders import loan_on, product

STORE_KINDS = ("sqlite", "postgresql")
"""A memory store does not outlive its ledger."""


def test_a_product_loan_reads_the_same_after_reopening_the_store(
    store_url: str, clock: Callable[[], datetime]
) -> None:
    lines = [
        product(day_count="ACT/ACT", rounding="HALF_EVEN", grace_days=2, allocation="horizontal"),
        *loan_on("SME"),
        disburse("L-1", "2024-01-15", "12000.00"),
        repay("L-1", "2024-03-20", "1500.00", "R-1"),
    ]
    ledger = LoanLedger.open(store_url, clock=clock)
    try:
        ledger.load(json.dumps(line, ensure_ascii=False) for line in lines)
        before = ledger.loan("L-1", as_of="2024-04-20")
        report = ledger.report("loan_ledger", as_of="2024-04-20")
        assert ledger.verify().ok
    finally:
        ledger.close()
    reopened = LoanLedger.open(store_url, clock=clock)
    try:
        assert reopened.loan("L-1", as_of="2024-04-20") == before
        assert (before["product"], before["product_version"]) == ("SME", 1)
        reopened.rebuild()
        assert reopened.report("loan_ledger", as_of="2024-04-20") == report
        result = reopened.verify()
        assert result.ok and result.loans_checked == 2  # the loan and the product's stream
        # A second version recorded on the reopened store follows the first in its chain.
        assert reopened.execute(product(on="2024-05-01", rate_max="0.2"))["version"] == 2
        assert reopened.verify().ok
    finally:
        reopened.close()
