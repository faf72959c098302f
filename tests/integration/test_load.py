"""Bulk `load`: lines are stored a batch at a time, yet each line stays all-or-nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loanledger import LoanLedger, application
from loanledger.domain.errors import DuplicateReferenceError, WrongStateError
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


def _repayment_references(ledger: LoanLedger, loan_id: str) -> set[str]:
    """The references of the loan's stored repayments."""
    return {
        event.reference  # type: ignore[attr-defined]
        for event in ledger.events.get(ledger._get(loan_id).id)
        if type(event).__name__ == "RepaymentReceived"
    }


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
    assert _repayment_references(ledger, "L-0001") == {"R-OTHER", "R-1", "R-2"}
    assert ledger.verify().ok
    other.close()


def test_loans_kept_from_an_earlier_batch_that_another_writer_changed_are_not_stored_from(
    ledger: LoanLedger, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load keeps the loans it stored for its next lines. Another writer repays one of them
    between two batches: the next batch's events for it conflict, nothing of that batch is
    stored, and its lines are applied again one by one on the store's loan."""
    monkeypatch.setattr(application.commands, "LOAD_BATCH_EVENTS", 5)
    other = LoanLedger.open(store_url)
    first = lines([*pre_loan("L-0001"), disburse("L-0001", "2024-01-15", "12000.00")])
    later = lines(
        [
            repay("L-0001", "2024-02-15", "1032.80", "R-1"),
            repay("L-0001", "2024-03-15", "1032.80", "R-2"),
        ]
    )

    def source() -> Iterator[str]:
        yield from first  # five events: stored as one batch, the loan kept
        other.execute(repay("L-0001", "2024-02-10", "10.00", "R-OTHER"))
        yield from later

    assert ledger.load(source()) == {"applied": 7}
    assert _repayment_references(ledger, "L-0001") == {"R-OTHER", "R-1", "R-2"}
    assert ledger.verify().ok
    other.close()


def test_a_line_refused_on_a_kept_loan_is_run_again_on_the_stored_loan(
    ledger: LoanLedger, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load's copy of a loan lags behind another writer who approved it: the disbursement
    refused on the copy is run again on the store's loan, where it is accepted."""
    monkeypatch.setattr(application.commands, "LOAD_BATCH_EVENTS", 3)
    other = LoanLedger.open(store_url)
    application_lines = lines(pre_loan("L-0001")[:3])
    approval = pre_loan("L-0001")[3]

    def source() -> Iterator[str]:
        yield from application_lines  # three events: stored, the loan kept (not approved)
        other.execute(approval)
        yield from lines(
            [
                disburse("L-0001", "2024-01-15", "12000.00"),
                repay("L-0001", "2024-02-15", "1032.80", "R-1"),
            ]
        )

    assert ledger.load(source()) == {"applied": 5}
    assert ledger.loan("L-0001", as_of="2024-02-15")["next_due_date"] == "2024-03-15"
    assert ledger.verify().events_checked == 6
    other.close()


def test_an_apply_of_a_stored_loan_is_refused_with_its_line_number(ledger: LoanLedger) -> None:
    """`load` does not read the store for each new loan: an `apply` of a stored loan conflicts
    when its batch is stored, and the lines are replayed one by one up to it."""
    for command in pre_loan("L-0001"):
        ledger.execute(command)
    journal = lines(
        [
            *pre_loan("L-0002", borrower_id="B-2"),
            pre_loan("L-0001")[0],
            disburse("L-0002", "2024-01-15", "12000.00"),
        ]
    )

    with pytest.raises(WrongStateError, match=r"^line 5: loan L-0001 has applied already"):
        ledger.load(journal)

    assert ledger.verify().events_checked == 8  # both loans' pre-loan steps, no disbursement


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
        for event in ledger._get("L-0001").history
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
