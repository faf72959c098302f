"""A projection that cannot apply an event stops at it, says why, and never blocks the other
loans (issue 24): commands, queries and close of day go on, warning that the read models are
stale, and fixing the cause then catching up is the whole recovery."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from loanledger import LoanLedger, StoreUnavailableError
from loanledger.domain.commands import Apply, Borrower
from loanledger.domain.loan import Loan
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.read_store import ReadStore, Transaction
from loanledger.projection.engine import Recorded
from loanledger.projection.stuck import StaleReadModelWarning
from tests.journal import disburse, pre_loan
from tests.stores import ON_POSTGRESQL


class _Broken:
    """Makes the loan index refuse every event of one loan while `on` is set."""

    def __init__(self, ledger: LoanLedger, loan_id: str) -> None:
        self.on = True
        self.loan_id = loan_id
        projection = ledger.loan_index
        original = projection.process

        def process(txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None:
            if self.on and any(item.event.loan_id == self.loan_id for item in batch):
                raise RuntimeError(f"cannot index {self.loan_id}")
            original(txn, store, batch)

        projection.process = process  # type: ignore[method-assign]


def _status(ledger: LoanLedger) -> dict[str, dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StaleReadModelWarning)
        return {row["projection"]: row for row in ledger.projection_status()}


def test_a_projection_stuck_on_one_loan_leaves_the_other_loans_working_and_says_so(
    ledger: LoanLedger,
) -> None:
    broken = _Broken(ledger, "L-BAD")
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(pre_loan("L-BAD")[0])  # event 5
    for command in pre_loan("L-0002"):
        ledger.execute(command)
    ledger.execute(disburse("L-0002", "2024-01-15", "12000.00"))
    with pytest.warns(StaleReadModelWarning, match="loan_index is stuck at event 5"):
        view = ledger.loan("L-0002", as_of="2024-01-15")
    assert view["principal_outstanding"] == "12000.00"
    with pytest.warns(StaleReadModelWarning):
        ledger.close_day("2024-01-16")
    ledger.execute(disburse("L-0001", "2024-01-20", "1000.00"))
    status = _status(ledger)
    head = ledger.recorder.max_notification_id() or 0
    assert status["loan_index"]["position"] == 4
    assert status["loan_index"]["lag"] == head - 4
    assert status["loan_index"]["stuck"] == {
        "position": 5,
        "loan_id": "L-BAD",
        "originator_id": str(loan_uuid("L-BAD")),
        "version": 1,
        "error": "RuntimeError: cannot index L-BAD",
    }
    assert status["loan_state"] == {
        "projection": "loan_state",
        "position": head,
        "lag": 0,
        "stuck": None,
    }
    assert status["notices"]["stuck"] is None
    assert ledger.verify().ok

    broken.on = False  # the cause is fixed: catching up is the recovery
    status = _status(ledger)
    assert all(row == {**row, "lag": 0, "stuck": None} for row in status.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error", StaleReadModelWarning)
        ledger.close_day("2024-01-17")
        rows = ledger.report("loan_ledger", as_of="2024-01-20")
    assert sorted(row["loan_id"] for row in rows) == ["L-0001", "L-0002", "L-BAD"]


@ON_POSTGRESQL
def test_a_legacy_event_postgresql_cannot_index_blocks_only_its_own_read_model_row(
    ledger: LoanLedger,
) -> None:
    """Issue 24's first probe as recorded before identifiers were checked: a loan id with a
    NUL byte, which PostgreSQL's text columns refuse."""
    command = Apply.model_construct(
        command="apply",
        loan_id="L-\u0000x",
        on=date(2024, 1, 2),
        borrower=Borrower.model_construct(id="B-1", name="张三", id_number=None),
        amount=pre_loan("L")[0]["amount"],
        currency="CNY",
        term_months=12,
        annual_rate=pre_loan("L")[0]["annual_rate"],
        repayment_method="annuity",
        purpose="legacy",
    )
    legacy = Loan.open_application(loan_uuid("L-legacy"), command, datetime(2024, 1, 2, tzinfo=UTC))
    ledger.save(legacy)
    for command_dict in pre_loan("L-0001"):
        ledger.execute(command_dict)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    with pytest.warns(StaleReadModelWarning, match="stuck at event 1"):
        ledger.close_day("2024-01-16")
    with pytest.warns(StaleReadModelWarning):
        view = ledger.loan("L-0001", as_of="2024-01-16")
    assert view["principal_outstanding"] == "12000.00"
    stuck = _status(ledger)["loan_index"]["stuck"]
    assert stuck is not None
    assert (stuck["position"], stuck["loan_id"], stuck["version"]) == (1, "L-\u0000x", 1)
    assert stuck["error"].startswith("DataError: PostgreSQL text fields cannot contain NUL")


def test_a_lock_held_too_long_is_not_a_stuck_event_but_a_store_unavailable_error(
    ledger: LoanLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    for command in pre_loan("L-0001"):
        ledger.execute(command)
    original = ledger.loan_index.process

    def locked(txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(ledger.loan_index, "process", locked)
    with pytest.raises(StoreUnavailableError, match="database is locked"):
        ledger.report("loan_ledger", as_of="2024-01-31")
    assert ledger.projections.stuck == {}

    monkeypatch.setattr(ledger.loan_index, "process", original)
    assert [row["loan_id"] for row in ledger.report("loan_ledger", as_of="2024-01-31")] == [
        "L-0001"
    ]
