"""A store failing mid-write gives a clear, retryable error, and re-sending never duplicates."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from loanledger import LoanLedger, StoreUnavailableError
from tests.journal import disburse, pre_loan, repay

STORE_KINDS = ("memory", "sqlite")


def _failing_once(ledger: LoanLedger, *, commit_first: bool) -> None:
    """The next insert fails like a dropped connection, after or before committing."""
    insert = ledger.recorder.insert_events
    state = {"failed": False}

    def insert_then_fail(*args: Any, **kwargs: Any) -> Any:
        if state["failed"]:
            return insert(*args, **kwargs)
        state["failed"] = True
        if commit_first:
            insert(*args, **kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    ledger.recorder.insert_events = insert_then_fail  # type: ignore[method-assign]


@pytest.mark.parametrize("commit_first", [True, False], ids=["committed", "not-committed"])
def test_resending_after_a_failed_write_records_the_repayment_exactly_once(
    ledger: LoanLedger, commit_first: bool
) -> None:
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    _failing_once(ledger, commit_first=commit_first)
    command = repay("L-0001", "2024-02-15", "1032.80", "R-1")

    with pytest.raises(StoreUnavailableError, match="may or may not have been recorded: send it"):
        ledger.execute(command)
    again = ledger.execute(command)

    assert again["repeated"] is commit_first
    assert again["allocation"]["principal"] == "972.80"
    references = [
        event.reference  # type: ignore[attr-defined]
        for event in ledger.events.get(ledger._get("L-0001").id)
        if type(event).__name__ == "RepaymentReceived"
    ]
    assert references == ["R-1"]
    assert ledger.verify().ok
