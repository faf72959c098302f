"""What `load` keeps of the loans it stored, for the journal's next lines: the most recently
stored, within a bound of loans and one of their events (a journal interleaves its loans' lines
by date, so a bound below the book's number of loans would drop each loan before its next line),
counted exactly as loans are kept, taken back by a line and dropped."""

from __future__ import annotations

import pytest

from loanledger import LoanLedger
from loanledger.application import commands
from loanledger.application.commands import _LoadBatch
from loanledger.domain.loan import Loan
from loanledger.entrypoints.synthetic import SyntheticBook


@pytest.fixture(scope="module")
def loans() -> list[Loan]:
    ledger = LoanLedger.open("memory://")
    try:
        SyntheticBook(ledger, loans=6, seed=5, months=3).run(lambda _: None)
        index = ledger.loan_index.sql(ledger.read_store)
        loan_ids = [row[0] for row in ledger.read_store.query(index["all_loans"])]
        return [ledger._get(loan_id) for loan_id in loan_ids]
    finally:
        ledger.close()


def stored(batch: _LoadBatch, loans: list[Loan]) -> None:
    for loan in loans:
        batch.loans[loan.loan_id] = loan
    batch.stored()


def test_the_most_recently_stored_loans_are_kept_within_the_events_bound(
    loans: list[Loan], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(loans) == 6 and all(loan.version > 1 for loan in loans)
    events = [loan.version for loan in loans]
    monkeypatch.setattr(commands, "LOAD_KEPT_EVENTS", sum(events[3:]))
    batch = _LoadBatch(for_load=True)
    stored(batch, loans)
    assert batch.kept() == (3, sum(events[3:]))  # the three stored first were dropped
    assert batch.loan(loans[0].loan_id) is None
    assert batch.loan(loans[4].loan_id) is loans[4]  # taken back by a line: no longer kept
    assert batch.kept() == (2, events[3] + events[5])
    stored(batch, [loans[4]])  # stored again: kept as the most recent
    assert batch.kept() == (3, sum(events[3:]))
    stored(batch, [loans[0]])  # one more: the least recently stored go until it fits
    order = [3, 5, 4, 0]
    while sum(events[i] for i in order) > sum(events[3:]):
        order.pop(0)
    assert batch.kept() == (len(order), sum(events[i] for i in order))
    assert batch.loan(loans[0].loan_id) is loans[0]
    batch.forget_stored()
    assert batch.kept() == (0, 0)


def test_the_loans_bound_holds_too(loans: list[Loan], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, "LOAD_KEPT_LOANS", 2)
    batch = _LoadBatch(for_load=True)
    stored(batch, loans)
    assert batch.kept() == (2, loans[4].version + loans[5].version)


def test_a_command_batch_keeps_nothing(loans: list[Loan]) -> None:
    batch = _LoadBatch()
    stored(batch, loans)
    assert batch.kept() == (0, 0)
