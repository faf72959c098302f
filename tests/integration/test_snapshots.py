"""Snapshots of long loans (issue #8 B4): loading from a snapshot gives exactly what loading from
the events gives, and a snapshot is never trusted over the events.

The book: L-0001, borrower B-1 张三, 24,000.00 over 36 months at 6 %, disbursed 2024-01-15, a
guarantor 王五, repaid 800.00 on the 15th of each month from February 2024 (one event each).
Snapshots are taken every 10 events here (the library's default is 100), so the loan, loaded
before each of its commands, is snapshotted at versions 10, 20 and 30.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.domain.erasure import ERASED
from tests.journal import disburse, pre_loan, repay

EVERY = 10
LOAN = "L-0001"
ZHANG = "张三"
ZHANG_ID = "110101199001011234"
WANG = "王五"
MOMENTS = [
    ("2024-03-01", None),
    ("2024-08-20", None),
    ("2025-01-31", None),
    ("2026-03-01", None),
    ("2024-08-20", "2024-01-01T09:00:20+00:00"),
    ("2025-01-31", "2024-01-01T09:00:30+00:00"),
]


def journal(months: int = 29) -> list[dict[str, Any]]:
    commands = [
        *pre_loan(LOAN, amount="24000.00", term_months=36),
        disburse(LOAN, "2024-01-15", "24000.00"),
        {
            "command": "add_guarantor",
            "loan_id": LOAN,
            "on": "2024-01-15",
            "guarantor": {"id": "G-1", "name": WANG},
            "guaranteed_amount": "24000.00",
        },
    ]
    for month in range(months):
        year, index = divmod(month + 1, 12)
        on = date(2024 + year, index + 1, 15).isoformat()
        commands.append(repay(LOAN, on, "800.00", f"BANK-{month + 1:03d}"))
    return commands


def record(ledger: LoanLedger, commands: list[dict[str, Any]]) -> None:
    ledger.loan_snapshots.every = EVERY
    for command in commands:
        ledger.execute(command)


def cold(ledger: LoanLedger, *, snapshots: bool = True) -> LoanLedger:
    """A ledger on the same store with nothing decoded yet: a new one (memory://: the same one
    with its decoded-event cache emptied)."""
    if ledger.settings.kind == "memory":
        fresh = ledger
        fresh._loan_events.clear()
    else:
        fresh = LoanLedger.open(ledger.settings.url, clock=ledger.clock)
    fresh.loan_snapshots.every = EVERY if snapshots else 0
    fresh.loan_snapshots.stats.update(served=0, rejected=0, taken=0)
    return fresh


def answers(ledger: LoanLedger) -> dict[str, Any]:
    return {
        "loans": [ledger.loan(LOAN, as_of, known_at) for as_of, known_at in MOMENTS],
        "schedule": ledger.schedule(LOAN),
        "history": ledger._get(LOAN).history,
    }


def load_both(ledger: LoanLedger) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    """(answers from the events alone, answers with the snapshot, the snapshot ledger's stats)."""
    without = cold(ledger, snapshots=False)
    plain = answers(without)
    with_snapshots = cold(ledger)
    served = answers(with_snapshots)
    stats = dict(with_snapshots.loan_snapshots.stats)
    for opened in {id(without): without, id(with_snapshots): with_snapshots}.values():
        if opened is not ledger:
            opened.close()
    return plain, served, stats


def snapshot_row(ledger: LoanLedger) -> tuple[Any, ...] | None:
    rows = ledger.read_store.query(
        "SELECT version, link, digest, body FROM loanledger_snapshots WHERE loan_id = ?", (LOAN,)
    )
    return tuple(rows[0]) if rows else None


def tamper(ledger: LoanLedger, change: Callable[[str], str], *, digest: bool = False) -> None:
    import hashlib

    row = snapshot_row(ledger)
    assert row is not None
    body = change(row[3])
    new_digest = hashlib.sha256(body.encode()).hexdigest() if digest else row[2]
    with ledger.read_store.transaction() as txn:
        txn.execute(
            "UPDATE loanledger_snapshots SET body = ?, digest = ? WHERE loan_id = ?",
            (body, new_digest, LOAN),
        )


def test_a_loan_longer_than_the_snapshot_interval_is_snapshotted_every_ten_events(
    ledger: LoanLedger,
) -> None:
    record(ledger, journal())

    assert ledger._get(LOAN).version == 35
    row = snapshot_row(ledger)
    assert row is not None and row[0] == 30
    assert ledger.loan_snapshots.stats["taken"] == 3


def test_a_long_loan_loads_the_same_from_its_snapshot_as_from_its_events(
    ledger: LoanLedger,
) -> None:
    record(ledger, journal())

    plain, served, stats = load_both(ledger)

    assert served == plain
    assert len(served["history"]) == 35
    assert stats == {"served": 1, "rejected": 0, "taken": 0}


def test_a_backdated_fact_recorded_after_the_snapshot_gives_the_same_figures(
    ledger: LoanLedger,
) -> None:
    # The May 2024 repayment is left out and recorded last, after the snapshot at version 30:
    # it revises the allocation of every later repayment.
    commands = journal()
    may = next(command for command in commands if command.get("on") == "2024-05-15")
    commands.remove(may)
    record(ledger, commands)
    assert snapshot_row(ledger) is not None
    ledger.execute(may)

    plain, served, stats = load_both(ledger)

    assert served == plain
    assert stats["served"] == 1
    revised = [event for event in served["history"] if type(event).__name__ == "AllocationRevised"]
    assert len(revised) > 0


def test_a_snapshot_whose_bytes_were_changed_is_reported_by_verify_and_not_served(
    ledger: LoanLedger,
) -> None:
    record(ledger, journal())
    tamper(ledger, lambda body: body.replace('"800.00"', '"700.00"', 1))

    result = ledger.verify()

    assert not result.ok
    assert result.first_break is not None
    assert (result.first_break.loan_id, result.first_break.version) == (LOAN, 30)
    assert result.first_break.reason == (
        "snapshot through version 30: its body differs from the one the events give"
    )
    assert result.snapshots_checked == 1
    plain, served, stats = load_both(ledger)
    assert served == plain
    assert stats == {"served": 0, "rejected": 1, "taken": 1}  # replaced by a good one
    assert ledger.verify().ok


def test_a_snapshot_altered_together_with_its_digest_is_reported_by_verify(
    ledger: LoanLedger,
) -> None:
    record(ledger, journal())
    tamper(ledger, lambda body: body.replace('"800.00"', '"700.00"', 1), digest=True)

    result = ledger.verify()

    assert not result.ok
    assert result.first_break is not None
    assert result.first_break.reason == (
        "snapshot through version 30: its body differs from the one the events give"
    )


def test_a_snapshot_whose_link_is_not_the_stored_events_is_not_served(
    ledger: LoanLedger,
) -> None:
    record(ledger, journal())
    with ledger.read_store.transaction() as txn:
        txn.execute("UPDATE loanledger_snapshots SET link = ? WHERE loan_id = ?", ("0" * 64, LOAN))

    result = ledger.verify()
    plain, served, stats = load_both(ledger)

    assert result.first_break is not None
    assert result.first_break.reason == (
        "snapshot through version 30: its chain link is not the stored event's"
    )
    assert served == plain
    assert stats["served"] == 0 and stats["rejected"] == 1


def test_a_snapshot_keeps_personal_data_sealed_and_cannot_bring_back_a_forgotten_name(
    ledger: LoanLedger,
) -> None:
    record(ledger, journal())
    row = snapshot_row(ledger)
    assert row is not None
    assert ZHANG not in row[3] and ZHANG_ID not in row[3] and WANG not in row[3]
    assert cold(ledger)._get(LOAN).application.borrower.name == ZHANG  # type: ignore[union-attr]

    ledger.forget_borrower("B-1", actor="dpo-1")

    reader = cold(ledger)
    try:
        borrower = reader._get(LOAN).application.borrower  # type: ignore[union-attr]
        rows = reader.export_loan_level("2024-06-30", unmasked=True, actor="auditor-1")
        assert reader.loan_snapshots.stats["served"] == 1
    finally:
        if reader is not ledger:
            reader.close()
    assert (borrower.name, borrower.id_number) == (ERASED, ERASED)
    assert (rows[0]["borrower_name"], rows[0]["borrower_id_number"]) == (ERASED, ERASED)
    assert ledger.verify().ok


def test_rebuild_drops_every_snapshot_so_a_bad_one_is_gone_and_any_new_one_is_fresh(
    ledger: LoanLedger,
) -> None:
    record(ledger, journal())
    tamper(ledger, lambda body: body.replace('"800.00"', '"700.00"', 1), digest=True)
    tampered = snapshot_row(ledger)

    ledger.rebuild()

    # Catching the read models up after the rebuild may load the loan, which snapshots it anew.
    after = snapshot_row(ledger)
    assert after is None or (after[0] == 35 and after != tampered)
    assert ledger.verify().ok
    plain, served, _ = load_both(ledger)
    assert served == plain
    row = snapshot_row(ledger)
    assert row is not None and row[0] == 35


def test_short_loans_have_no_snapshot(ledger: LoanLedger) -> None:
    record(ledger, journal(months=2))

    assert ledger._get(LOAN).version == 8
    assert snapshot_row(ledger) is None
    assert ledger.verify().snapshots_checked == 0


@pytest.mark.parametrize("known_at", ["2024-01-01T09:00:05+00:00", "2024-01-01T09:00:33+00:00"])
def test_known_at_before_and_after_the_snapshot_gives_the_events_answer(
    ledger: LoanLedger, known_at: str
) -> None:
    record(ledger, journal())
    moment = datetime.fromisoformat(known_at)

    without = cold(ledger, snapshots=False)
    expected = without._get(LOAN).as_known_at(moment).history
    expected_view = without.loan(LOAN, "2024-12-31", known_at)
    if without is not ledger:
        without.close()
    reader = cold(ledger)
    try:
        assert reader._get(LOAN).as_known_at(moment).history == expected
        assert reader.loan(LOAN, "2024-12-31", known_at) == expected_view
    finally:
        if reader is not ledger:
            reader.close()


def test_a_rebuild_that_loads_a_long_loan_snapshots_it_with_its_rows_and_logs_no_failure(
    ledger: LoanLedger, caplog: pytest.LogCaptureFixture
) -> None:
    """A load inside a projection's page (the rebuild keeps no loan from page to page here)
    takes the loan's snapshot within the page's transaction: on SQLite, whose read
    models have one connection, as a savepoint of it (a second `BEGIN` used to fail, and a
    warning was logged for every load of a long loan)."""
    record(ledger, journal())
    fresh = cold(ledger)
    try:
        fresh.projections.batch_size = 10
        fresh.loan_state.kept.loans_kept = 0
        with caplog.at_level("WARNING", logger="loanledger.snapshots"):
            fresh.rebuild()
        assert [record.getMessage() for record in caplog.records] == []
        # Loaded at the page ending at event 30 (every stored event: 35, snapshotted) and at
        # the next page, from that snapshot.
        row = snapshot_row(fresh)
        assert row is not None and row[0] == 35
        assert fresh.loan_snapshots.stats == {"served": 1, "rejected": 0, "taken": 1}
        assert fresh.verify().snapshots_checked == 1
    finally:
        if fresh is not ledger:
            fresh.close()
