"""Fees through the journal and the stores (issue 19 item 4): a product with a late fee and an
origination fee spread over the schedule, loaded as JSON Lines, reads the same after reopening
the store and after rebuilding the read models, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from loanledger import LoanLedger
from tests.journal import disburse, repay
from tests.products.builders import loan_on, product

STORE_KINDS = ("sqlite", "postgresql")
"""A memory store does not outlive its ledger."""

FEES = {
    "origination": {"flat": "100.00", "collect": "schedule"},
    "late": {"percent": "0.05", "after_days": 15, "cap": "50.00", "cap_per_loan": "80.00"},
}


def test_a_loan_with_fees_reads_the_same_after_reopening_and_rebuilding(
    store_url: str, clock: Callable[[], datetime]
) -> None:
    lines = [
        product(fees=FEES),
        *loan_on("SME"),
        disburse("L-1", "2024-01-15", "12000.00"),
        repay("L-1", "2024-04-10", "1500.00", "R-1"),
    ]
    ledger = LoanLedger.open(store_url, clock=clock)
    try:
        ledger.load(json.dumps(line, ensure_ascii=False) for line in lines)
        ledger.close_day("2024-04-30")
        view = ledger.loan("L-1", as_of="2024-04-30")
        # Late fees: 50.00 on 03-01 (5 % of the 1032.80 unpaid is 51.64, capped), 30.00 on
        # 03-30 (the 80.00 per loan reached), none on 04-30; with the 100.00 spread fee.
        assert view["fees_charged"] == "180.00"
        report = ledger.report("loan_ledger", as_of="2024-04-30")
        assert report[0]["fees_outstanding"] == view["fees_outstanding"]
        schedule = ledger.schedule("L-1", as_of="2024-04-30")
        assert [row["fee"] for row in schedule] == ["8.33"] * 11 + ["8.37"]
        assert ledger.verify().ok
    finally:
        ledger.close()
    reopened = LoanLedger.open(store_url, clock=clock)
    try:
        assert reopened.loan("L-1", as_of="2024-04-30") == view
        assert reopened.schedule("L-1", as_of="2024-04-30") == schedule
        reopened.rebuild()
        assert reopened.report("loan_ledger", as_of="2024-04-30") == report
        assert reopened.verify().ok
    finally:
        reopened.close()
