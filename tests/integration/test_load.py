"""Bulk `load`: lines are stored a batch at a time, yet each line stays all-or-nothing."""

from __future__ import annotations

import pytest

from loanledger import LoanLedger
from loanledger.domain.errors import DuplicateReferenceError
from tests.journal import disburse, lines, pre_loan, repay

STORE_KINDS = ("sqlite", "postgresql")


def test_a_refusal_mid_batch_keeps_the_lines_before_it_and_records_nothing_of_it(
    ledger: LoanLedger,
) -> None:
    journal = lines(
        [
            *pre_loan("L-0001"),
            disburse("L-0001", "2024-01-15", "12000.00"),
            repay("L-0001", "2024-02-15", "1032.80", "R-1"),
            repay("L-0001", "2024-02-15", "1032.81", "R-1"),
            repay("L-0001", "2024-03-15", "1032.80", "R-2"),
        ]
    )

    with pytest.raises(DuplicateReferenceError, match=r"^line 7: reference 'R-1' was already"):
        ledger.load(journal)

    assert ledger.verify().events_checked == 6
    assert ledger.loan("L-0001", as_of="2024-02-15")["next_due_date"] == "2024-03-15"


def test_a_batch_that_loses_a_race_is_applied_line_by_line(
    ledger: LoanLedger, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer repays the same loan while the batch is held in memory: storing the batch
    conflicts, nothing of it is stored, and its lines are applied again one by one."""
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    other = LoanLedger.open(store_url)
    stage = ledger._stage
    calls = {"count": 0}

    def stage_then_race(command, batch):  # type: ignore[no-untyped-def]
        stage(command, batch)
        calls["count"] += 1
        if calls["count"] == 1:
            other.execute(repay("L-0001", "2024-02-10", "10.00", "R-OTHER"))

    monkeypatch.setattr(ledger, "_stage", stage_then_race)

    result = ledger.load(
        lines(
            [
                repay("L-0001", "2024-02-15", "1032.80", "R-1"),
                repay("L-0001", "2024-03-15", "1032.80", "R-2"),
            ]
        )
    )

    assert result == {"applied": 2}
    references = {
        event.reference  # type: ignore[attr-defined]
        for event in ledger.events.get(ledger._get("L-0001").id)
        if type(event).__name__ == "RepaymentReceived"
    }
    assert references == {"R-OTHER", "R-1", "R-2"}
    assert ledger.verify().ok
    other.close()


def test_a_close_of_day_that_loses_a_race_closes_each_loan_again_on_its_own(
    ledger: LoanLedger, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day's records of all loans are stored in one transaction; if another writer changed
    one of the loans meanwhile, nothing is stored and each loan is closed again on its own."""
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    ledger.execute(disburse("L-0001", "2024-01-15", "12000.00"))
    other = LoanLedger.open(store_url)
    close_loan_day = ledger._close_loan_day

    def close_then_race(loan_id, on):  # type: ignore[no-untyped-def]
        result = close_loan_day(loan_id, on)
        other.execute(repay("L-0001", "2024-02-10", "10.00", "R-OTHER"))
        return result

    monkeypatch.setattr(ledger, "_close_loan_day", close_then_race)

    result = ledger.close_day("2024-02-16")

    assert result["events_recorded"] == 2  # the dunning notice and the grade change
    kinds = [
        type(event).__name__
        for event in ledger.events.get(ledger._get("L-0001").id)
        if event.effective_date.isoformat() == "2024-02-16"
    ]
    assert kinds == ["NoticeIssued", "ClassificationChanged"]
    assert ledger.verify().ok
    other.close()


def test_a_command_batch_stores_its_commands_on_flush_and_each_stays_all_or_nothing(
    ledger: LoanLedger,
) -> None:
    """`LoanLedger.batch`: commands are checked at once, stored together on flush (queries read
    the store, so they see a staged command only after it), and close_day flushes first."""
    with ledger.batch() as batch:
        for command in [*pre_loan("L-0001"), disburse("L-0001", "2024-01-15", "12000.00")]:
            assert batch.execute(command) is None
        assert ledger.verify().events_checked == 0
        batch.flush()
        assert ledger.verify().events_checked == 5
        batch.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))
        with pytest.raises(DuplicateReferenceError):
            batch.execute(repay("L-0001", "2024-02-15", "1032.81", "R-1"))
        closed = batch.execute({"command": "close_day", "on": "2024-02-15"})
        assert closed is not None and closed["command"] == "close_day"
        assert ledger.loan("L-0001", as_of="2024-02-15")["next_due_date"] == "2024-03-15"
        batch.execute(repay("L-0001", "2024-03-15", "1032.80", "R-2"))
    assert ledger.verify().events_checked == 7
    assert ledger.loan("L-0001", as_of="2024-03-15")["next_due_date"] == "2024-04-15"
