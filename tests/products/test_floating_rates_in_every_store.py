"""A journal with `publish_rate` lines loads, resets, verifies and rebuilds alike on every store
kind; a backdated publication's corrections survive reopening the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from loanledger import LoanLedger
from tests.journal import disburse, lines
from tests.products.floating import home_loan, home_product, publish


def test_a_floating_loan_journal_round_trips_through_load(
    ledger: LoanLedger, store_url: str, clock: Callable[[], datetime]
) -> None:
    journal = lines(
        [
            home_product(),
            publish("2023-12-20", "0.042"),
            *home_loan(),
            disburse("L-1", "2024-01-15", "1000000.00"),
            {"command": "close_day", "on": "2024-12-31"},
            {"command": "close_day", "on": "2025-01-20"},
            publish("2024-07-22", "0.0385"),  # late: corrects the reset of 2025-01-15
        ]
    )
    assert ledger.load(journal) == {"applied": len(journal)}
    view = ledger.loan("L-1", as_of="2025-01-20")
    assert (view["rate"]["annual_rate"], view["rate"]["index_rate"]) == ("0.042", "0.0385")
    rows = {row["number"]: row for row in ledger.schedule("L-1", as_of="2025-01-20")}
    assert rows[13]["installment"] == "18537.10"
    report = ledger.report("loan_ledger", as_of="2025-01-20")
    ledger.rebuild()
    assert ledger.report("loan_ledger", as_of="2025-01-20") == report
    result = ledger.verify()
    assert result.ok
    # The loan's, the product's and the index's streams are each checked.
    assert result.loans_checked == 3
    if store_url == "memory://":
        return  # nothing outlives a memory store
    ledger.close()
    reopened = LoanLedger.open(store_url, clock=clock)
    try:
        assert reopened.loan("L-1", as_of="2025-01-20") == view
        assert reopened.execute(publish("2024-07-22", "0.0385"))["loans_reset"] == 0
    finally:
        reopened.close()
