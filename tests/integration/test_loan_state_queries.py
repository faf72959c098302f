"""How the bitemporal `loan_state` read model answers a portfolio summary as known now: from one
index alone.

A summary as of a date reads one segment of every loan (100,000 rows on a large book). The table
also holds each segment's report row as JSON (~800 bytes), so a plan that visits the table reads
gigabytes on a large book (B5: ~2 s of a cold `five_category` over 100,000 loans); the current
index holds every column the summaries read."""

from __future__ import annotations

import pytest

from loanledger import LoanLedger
from tests.journal import disburse, pre_loan


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_summary_as_known_now_reads_only_the_current_index(ledger: LoanLedger) -> None:
    for command in [
        *pre_loan("L-0001", borrower_id="B-1"),
        disburse("L-0001", "2024-01-15", "9000.00"),
    ]:
        ledger.execute(command)
    ledger.projections.catch_up()
    statement = ledger.loan_state.sql(ledger.read_store)["summary_now"]

    plan = ledger.read_store.query("EXPLAIN QUERY PLAN " + statement, ("2024-03-01",) * 2)

    details = " ".join(str(row[-1]) for row in plan)
    assert "USING COVERING INDEX loanledger_loan_state_current" in details
