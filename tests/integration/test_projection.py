"""The projection engine: batches, exactly-once tracking, resume after a crash, rebuild."""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.persistence.read_store import PostgresReadStore, ReadStore, Transaction
from loanledger.projection.engine import Recorded
from loanledger.projection.loan_index import LoanIndexProjection
from tests.journal import disburse, pre_loan, repay
from tests.stores import ON_POSTGRESQL

REPORTS = ("loan_ledger", "five_category", "aging", "ifrs9_stages", "notices", "worklist")


def _book(ledger: LoanLedger, loans: int = 6) -> None:
    for number in range(loans):
        loan_id = f"L-{number:04d}"
        for command in pre_loan(loan_id, borrower_id=f"B-{number % 3}"):
            ledger.execute(command)
        ledger.execute(disburse(loan_id, "2024-01-15", "12000.00"))
        if number % 2:
            ledger.execute(repay(loan_id, "2024-02-15", "1032.80", "R-1"))
    ledger.close_day("2024-02-16")


def _index_rows(ledger: LoanLedger, *, catch_up: bool = True) -> list[tuple[Any, ...]]:
    if catch_up:
        ledger.projections.catch_up()
    return ledger.read_store.query(
        "SELECT loan_id, aggregate_id, borrower_id, applied_on, last_version "
        "FROM loanledger_loan_index ORDER BY loan_id"
    )


def _all_reports(ledger: LoanLedger) -> str:
    return json.dumps(
        {name: ledger.report(name, as_of="2024-02-16") for name in REPORTS}, sort_keys=True
    )


def test_rebuilding_every_projection_gives_byte_identical_reports(ledger: LoanLedger) -> None:
    _book(ledger)
    before = _all_reports(ledger)
    index_before = _index_rows(ledger)

    ledger.rebuild()

    assert _all_reports(ledger) == before
    assert _index_rows(ledger) == index_before


def test_the_index_holds_each_loans_latest_version_exactly_once(ledger: LoanLedger) -> None:
    _book(ledger)

    rows = _index_rows(ledger)

    assert len(rows) == 6
    for loan_id, _, _, applied_on, last_version in rows:
        assert applied_on == "2024-01-02"
        assert last_version == ledger._get(loan_id).version


class _Crash(BaseException):
    """The process dying mid-batch (a BaseException, like SystemExit or KeyboardInterrupt): an
    Exception would be a projection that cannot apply an event, which stops only that
    projection at that event (see test_stuck_projection)."""


def test_a_crash_mid_batch_commits_nothing_and_resuming_equals_a_clean_rebuild(
    ledger: LoanLedger,
) -> None:
    _book(ledger)
    clean = _index_rows(ledger)
    ledger.projections.batch_size = 7
    original = ledger.loan_index.process
    calls = {"count": 0}

    def crash_on_third_batch(txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None:
        calls["count"] += 1
        original(txn, store, batch)  # rows written, then the process dies before commit
        if calls["count"] == 3:
            raise _Crash

    ledger.loan_index.process = crash_on_third_batch  # type: ignore[method-assign]
    with ledger.read_store.transaction() as txn:
        txn.execute("DELETE FROM loanledger_loan_index")
        txn.execute("DELETE FROM loanledger_tracking")
    with pytest.raises(_Crash):
        ledger.projections.catch_up()
    position = ledger.projections.position(ledger.loan_index)

    assert position == 14  # two batches of 7 committed, the third rolled back
    assert len(_index_rows(ledger, catch_up=False)) == 3  # 14 events: the first three loans
    ledger.loan_index.process = original  # type: ignore[method-assign]
    ledger.projections.catch_up()
    assert _index_rows(ledger) == clean


@pytest.mark.parametrize(
    "store_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_ledgers_catching_up_the_same_store_at_once_project_each_batch_once(
    store_url: str,
) -> None:
    """Three ledgers on one store (as a follower process and two applications would be) catch up
    at the same moment, ten events a batch, each batch slowed so that they overlap: no batch is
    projected twice (a second write of a loan's segments would break the table's key) and the
    read models equal a rebuild's."""
    writer = LoanLedger.open(store_url)
    _book(writer, loans=8)  # ends with a close of day, which catches up: what follows is new
    for number in range(8):
        for month in (3, 4, 5):
            writer.execute(
                repay(f"L-{number:04d}", f"2024-{month:02d}-15", "1032.80", f"R-{month}")
            )
    caught_up = writer.projections.position(writer.loan_state)
    last = writer.recorder.max_notification_id() or 0
    readers = [LoanLedger.open(store_url) for _ in range(3)]
    errors: list[BaseException] = []
    projected: list[int] = []

    def catch_up(reader: LoanLedger) -> None:
        reader.projections.batch_size = 10
        process_page = reader.loan_state.process_page

        def slowed(
            txn: Transaction, store: ReadStore, batch: Sequence[Recorded], *, ends_moment: bool
        ) -> None:
            time.sleep(0.02)
            process_page(txn, store, batch, ends_moment=ends_moment)
            projected.extend(item.position for item in batch)

        reader.loan_state.process_page = slowed  # type: ignore[method-assign]
        try:
            reader.projections.catch_up()
        except BaseException as error:  # the test reports any failure below
            errors.append(error)

    threads = [threading.Thread(target=catch_up, args=(reader,)) for reader in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    # Every event recorded since the close of day projected once: none twice, none missed.
    assert sorted(projected) == list(range(caught_up + 1, last + 1))
    served = _all_reports(readers[0])
    index = _index_rows(readers[0])
    writer.rebuild()
    assert _all_reports(writer) == served
    assert _index_rows(writer) == index
    for ledger in [writer, *readers]:
        ledger.close()


class _CollectorProbe(LoanIndexProjection):
    """The loan index, noting whether the cyclic collector ran while it processed a batch."""

    def __init__(self) -> None:
        self.seen: list[bool] = []

    def process(self, txn: Transaction, store: ReadStore, batch: Sequence[Recorded]) -> None:
        self.seen.append(gc.isenabled())
        super().process(txn, store, batch)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_pauses_during_a_page_and_is_left_as_it_was(
    ledger: LoanLedger, enabled: bool
) -> None:
    _book(ledger, loans=2)
    probe = _CollectorProbe()
    ledger.projections.projections = [probe]
    ledger.projections.batch_size = 7
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        ledger.projections.rebuild()
        assert probe.seen and not any(probe.seen)
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()


@ON_POSTGRESQL
def test_a_catch_up_on_postgresql_holds_one_connection_of_each_pool_for_all_its_pages(
    ledger: LoanLedger,
) -> None:
    assert isinstance(ledger.read_store, PostgresReadStore)
    _book(ledger, loans=3)
    ledger.projections.batch_size = 4
    log_pool = ledger.recorder.datastore.pool  # type: ignore[attr-defined]
    read_pool = ledger.read_store._pool
    log_before = log_pool.get_stats()["requests_num"]
    read_before = read_pool.get_stats()["requests_num"]

    projected = ledger.projections.rebuild()

    assert projected == 20  # three loans' pre-loan and disbursement, one repayment: five pages
    # The reset's transaction, then one checkout (and one connection check) per pool for the
    # whole catch-up, whatever the number of pages: not one per page and per statement.
    assert log_pool.get_stats()["requests_num"] - log_before == 1
    assert read_pool.get_stats()["requests_num"] - read_before == 2


def test_transactions_in_a_read_store_session_commit_each_on_their_own(ledger: LoanLedger) -> None:
    store = ledger.read_store
    with store.transaction() as txn:
        txn.execute("CREATE TABLE session_probe (n INTEGER)")

    with store.session():
        with store.transaction() as txn:
            txn.execute("INSERT INTO session_probe (n) VALUES (1)")
        with pytest.raises(_Crash), store.transaction() as txn:
            txn.execute("INSERT INTO session_probe (n) VALUES (2)")
            raise _Crash
        with store.transaction() as txn:
            txn.execute("INSERT INTO session_probe (n) VALUES (3)")

    assert store.query("SELECT n FROM session_probe ORDER BY n") == [(1,), (3,)]
