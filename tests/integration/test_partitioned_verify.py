"""`verify(workers=N)` gives the single-process verify's result — `ok`, every count and the
first break — on an intact book and after each kind of tampering (an altered snapshot, an
altered event in three loans, each earlier in the log, a deleted version, a deleted tail under a
checkpoint), for 1, 2 and 3 partitions (ranges of the log)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from loanledger import LoanLedger
from loanledger.application.partitioned import local_cluster
from loanledger.persistence.ids import loan_uuid
from tests.integration import book_tampering
from tests.integration.tampering import flip_bit, overwrite_state, stored_states
from tests.integration.test_partitioned_rebuild import (
    SteppingClock,
    close_and_acknowledge,
    many_loans,
    record,
)

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with local_cluster(2) as local:
        yield local


@contextmanager
def nine_loans(url: str) -> Iterator[LoanLedger]:
    """A book of nine loans at `url`, closed and its notices acknowledged, with snapshots of
    most loans (to be verified too)."""
    ledger = LoanLedger.open(url, clock=SteppingClock())
    ledger.loan_snapshots.every = 4
    try:
        record(ledger, many_loans(9))
        close_and_acknowledge(ledger)
        yield ledger
    finally:
        ledger.close()


@pytest.fixture
def book(postgres_url: str) -> Iterator[LoanLedger]:
    with nine_loans(f"{postgres_url}?schema=pv_{uuid.uuid4().hex[:12]}") as ledger:
        yield ledger


def alter(loan_id: str, version: int) -> Callable[[LoanLedger], None]:
    def change(ledger: LoanLedger) -> None:
        aggregate_id = loan_uuid(loan_id)
        state = stored_states(ledger, aggregate_id)[version]
        overwrite_state(ledger, aggregate_id, version, flip_bit(state, 80))

    return change


def deleted_version(ledger: LoanLedger) -> None:
    book_tampering.delete_versions(ledger, loan_uuid("L-0001"), [3])


def deleted_tail(ledger: LoanLedger) -> None:
    ledger.checkpoint()
    book_tampering.truncate_after(ledger, (ledger.recorder.max_notification_id() or 0) - 5)


def altered_snapshot(ledger: LoanLedger) -> None:
    snapshots = ledger.loan_snapshots
    with snapshots.store.transaction() as txn:
        txn.execute("UPDATE loanledger_snapshots SET body = body || ' '")


TAMPERINGS: list[tuple[str, Callable[[LoanLedger], None]]] = [
    ("altered_snapshot", altered_snapshot),
    ("altered_late", alter("L-0007", 6)),
    ("altered", alter("L-0005", 4)),
    ("altered_early", alter("L-0002", 5)),
    ("deleted_version", deleted_version),
    ("deleted_tail", deleted_tail),
]
"""Applied one after the other to one book: the first break moves to earlier positions."""


def test_a_partitioned_verify_gives_the_single_process_verify_result(
    book: LoanLedger, cluster: Any
) -> None:
    results = []
    for name, change in [("intact", None), *TAMPERINGS]:
        if change is not None:
            change(book)
        serial = book.verify()
        assert serial.ok == (name == "intact")
        assert serial.snapshots_checked > 0
        results.append(serial)
        for workers in (1, 2, 3):
            assert book.verify(workers=workers, scheduler=cluster.scheduler_address) == serial
    breaks = [result.first_break.loan_id if result.first_break else None for result in results]
    assert breaks == [None, "L-0000", "L-0007", "L-0005", "L-0002", "L-0001", "L-0001"]


def test_a_partitioned_verify_against_a_checkpoint_names_the_same_break(
    book: LoanLedger, cluster: Any
) -> None:
    checkpoint = book.checkpoint()
    alter("L-0006", 2)(book)
    serial = book.verify(against=checkpoint)
    assert not serial.ok
    assert book.verify(against=checkpoint, workers=2) == serial


def test_the_workers_run_without_dask_s_profiler(cluster: Any) -> None:
    """`local_cluster` turns the workers' statistical profiler off: on CPython 3.11 before
    3.11.9 its reading of every thread's frame can deadlock with a thread being started, and a
    verify's task hung opening its store (`partitioned.WORKER_CONFIG`)."""
    import dask

    def profiling() -> object:
        return dask.config.get("distributed.worker.profile.enabled")

    with distributed.Client(cluster) as client:
        assert set(client.run(profiling).values()) == {False}
