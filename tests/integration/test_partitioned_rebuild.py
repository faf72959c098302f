"""The partitioned rebuild on Dask gives the single-process rebuild's read models byte for byte
(every row of every read-model table, and the tracking), on random books and 1, 2 and 3
partitions, on PostgreSQL and SQLite; a worker killed with SIGKILL mid-rebuild is replaced and
its partition resumes to the same rows. On PostgreSQL, where the partitions write the book's read
models themselves, a rebuild whose coordinator stopped goes on from its partitions' rows when run
again with as many workers, and any other catch-up builds the partial read models again."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loanledger import DomainError, LoanLedger
from loanledger.application.partitioned import PartitionTask, _mark, local_cluster, run_partition
from loanledger.domain.errors import InvalidCommandError
from loanledger.persistence.ids import loan_uuid
from loanledger.projection.partitions import partition_of
from tests.journal import disburse, pre_loan, repay
from tests.property.test_books_properties import books

distributed = pytest.importorskip("distributed")

READ_MODELS = (
    "loanledger_loan_index",
    "loanledger_loan_state",
    "loanledger_loan_state_cover",
    "loanledger_loan_state_horizon",
    "loanledger_notices",
    "loanledger_notice_receipts",
    "loanledger_tracking",
)


class SteppingClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes (one thread each), shared by this module's tests."""
    with local_cluster(2) as local:
        yield local


Tables = dict[str, list[tuple[Any, ...]]]
"""Every read-model table's rows, by table (`dump`)."""


def dump(ledger: LoanLedger) -> Tables:
    """Every read-model table's rows, sorted (tables a store lacks are left out)."""
    tables: Tables = {}
    for table in READ_MODELS:
        try:
            rows = ledger.read_store.query(f"SELECT * FROM {table}")
        except Exception:
            continue
        tables[table] = sorted((tuple(row) for row in rows), key=repr)
    return tables


def record(ledger: LoanLedger, commands: list[dict[str, Any]]) -> None:
    for command in commands:
        with contextlib.suppress(DomainError):
            ledger.execute(command)


def close_and_acknowledge(ledger: LoanLedger) -> None:
    """A few closes of day (notices, grades) and receipts for every other notice."""
    for day in [date(2024, 2, 6), date(2024, 3, 17), date(2024, 6, 30)]:
        with contextlib.suppress(DomainError):
            ledger.close_day(day)
    for notice in ledger.report("notices", as_of=date(2024, 12, 31))[::2]:
        record(
            ledger,
            [
                {
                    "command": "acknowledge_notice",
                    "loan_id": notice["loan_id"],
                    "on": notice["issued_on"],
                    "notice_id": notice["notice_id"],
                }
            ],
        )


@contextlib.contextmanager
def opened(kind: str, pg_base: str | None) -> Iterator[LoanLedger]:
    clock = SteppingClock()
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            ledger = LoanLedger.open(f"sqlite:///{Path(directory).resolve()}/l.db", clock=clock)
            try:
                yield ledger
            finally:
                ledger.close()
        return
    assert pg_base is not None
    ledger = LoanLedger.open(f"{pg_base}?schema=pr_{uuid.uuid4().hex[:12]}", clock=clock)
    try:
        yield ledger
    finally:
        ledger.close()


def serial_then_partitioned(
    ledger: LoanLedger, partitions: int, scheduler: str | None
) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, list[tuple[Any, ...]]]]:
    ledger.rebuild()
    serial = dump(ledger)
    ledger.rebuild(workers=partitions, scheduler=scheduler)
    return serial, dump(ledger)


@pytest.mark.postgres
@settings(max_examples=8)
@given(commands=books(), partitions=st.integers(1, 3), batch_size=st.integers(3, 40))
def test_a_partitioned_rebuild_equals_the_single_process_rebuild_on_random_postgresql_books(
    postgres_url: str,
    cluster: Any,
    commands: list[dict[str, Any]],
    partitions: int,
    batch_size: int,
) -> None:
    with opened("postgresql", postgres_url) as ledger:
        ledger.projections.batch_size = batch_size
        record(ledger, commands)
        close_and_acknowledge(ledger)
        serial, partitioned = serial_then_partitioned(ledger, partitions, cluster.scheduler_address)
        assert partitioned == serial
        assert serial["loanledger_loan_state"]  # the book has rows to compare


@settings(max_examples=4)
@given(commands=books(), partitions=st.integers(2, 3))
def test_a_partitioned_rebuild_equals_the_single_process_rebuild_on_random_sqlite_books(
    cluster: Any, commands: list[dict[str, Any]], partitions: int
) -> None:
    with opened("sqlite", None) as ledger:
        ledger.projections.batch_size = 7
        record(ledger, commands)
        close_and_acknowledge(ledger)
        serial, partitioned = serial_then_partitioned(ledger, partitions, cluster.scheduler_address)
        assert partitioned == serial
        assert not list(Path(ledger.settings.env["SQLITE_DBNAME"]).parent.glob("*rebuild_*"))


@contextlib.contextmanager
def a_rebuilt_book(postgres_url: str) -> Iterator[tuple[LoanLedger, Tables]]:
    """A PostgreSQL book of 12 loans (pages of 25 events), rebuilt in one process: the ledger
    and its read models."""
    with opened("postgresql", postgres_url) as ledger:
        ledger.projections.batch_size = 25
        record(ledger, many_loans(12))
        close_and_acknowledge(ledger)
        ledger.rebuild()
        yield ledger, dump(ledger)


def many_loans(count: int) -> list[dict[str, Any]]:
    commands: list[dict[str, Any]] = []
    for number in range(count):
        loan_id = f"L-{number:04d}"
        commands += pre_loan(loan_id, borrower_id=f"B-{number % 7}")
        commands.append(disburse(loan_id, "2024-01-15", "12000.00"))
        for month in range(2, 2 + number % 9):
            commands.append(repay(loan_id, f"2024-{month:02d}-15", "1032.80", f"R-{month}"))
    return commands


@pytest.mark.postgres
def test_a_rebuild_without_a_scheduler_starts_a_local_cluster_of_the_workers_asked_for(
    postgres_url: str,
) -> None:
    with a_rebuilt_book(postgres_url) as (ledger, serial):
        seen: list[tuple[int, int]] = []
        ledger.rebuild(workers=2, progress=lambda done, total: seen.append((done, total)))
        assert dump(ledger) == serial
        assert seen[-1][0] == seen[-1][1] > 0
        assert ledger.report("aging", as_of="2024-06-30") == ledger.report(
            "aging", as_of="2024-06-30"
        )


def test_loans_fall_in_partitions_by_a_hash_stable_across_processes_and_runs() -> None:
    assert [partition_of(loan_uuid(f"L-{n:04d}"), 3) for n in range(8)] == [
        partition_of(str(loan_uuid(f"L-{n:04d}")), 3) for n in range(8)
    ]
    assert [partition_of(loan_uuid(f"L-{n:04d}"), 3) for n in range(8)] == EXPECTED_PARTITIONS


EXPECTED_PARTITIONS = [0, 0, 2, 2, 1, 2, 0, 2]
"""Written down once: a change of the hash would move loans between a resumed rebuild's
partitions."""


def test_a_memory_store_or_a_worker_count_below_one_is_refused() -> None:
    ledger = LoanLedger.open("memory://")
    try:
        with pytest.raises(InvalidCommandError, match="memory:// store lives in one process"):
            ledger.rebuild(workers=2)
        with pytest.raises(InvalidCommandError, match="workers must be a whole number"):
            ledger.rebuild(workers=0)
    finally:
        ledger.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_worker_killed_mid_rebuild_is_replaced_and_its_partition_resumes_to_the_same_rows(
    postgres_url: str, cluster: Any
) -> None:
    with opened("postgresql", postgres_url) as ledger:
        ledger.projections.batch_size = 10
        record(ledger, many_loans(40))
        close_and_acknowledge(ledger)
        ledger.rebuild()
        serial = dump(ledger)
        head = ledger.recorder.max_notification_id() or 0
        with distributed.Client(cluster.scheduler_address) as client:
            pids: dict[str, int] = client.run(os.getpid)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                ledger.rebuild(workers=2, scheduler=cluster.scheduler_address)
            except BaseException as error:  # pragma: no cover - reported below
                failure.append(error)

        rebuilding = threading.Thread(target=run)
        rebuilding.start()
        # The partitions write the book's read models, each with its own tracking rows.
        store = ledger.read_store
        killed_at = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed_at:
            with contextlib.suppress(Exception):
                rows = store.query(
                    "SELECT min(position) FROM loanledger_tracking WHERE projection LIKE '%@1/2'"
                )
                if rows and rows[0][0] and 0 < rows[0][0] < head:
                    killed_at = int(rows[0][0])
            time.sleep(0.05)
        assert killed_at, "the rebuild finished before a worker could be killed"
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)
        rebuilding.join(timeout=300)
        assert not rebuilding.is_alive() and not failure, failure
        assert dump(ledger) == serial


def stop_after_first_partition(ledger: LoanLedger) -> None:
    """What a coordinator leaves when it stops after partition 1 of 2 finished and before
    partition 2 began: the read models emptied and marked, partition 1's rows written."""
    head = ledger.recorder.max_notification_id() or 0
    with ledger.projections.held(reset=True):
        _mark(ledger, 2)
        ledger.loan_state.release()
        task = PartitionTask(ledger.settings.url, 0, 2, head, ledger.projections.batch_size)
        assert run_partition(task) == head


@contextlib.contextmanager
def a_stopped_rebuild(postgres_url: str) -> Iterator[tuple[LoanLedger, Tables, Tables]]:
    """A book, its read models as the single-process rebuild writes them, and as a rebuild into
    2 partitions left them when it stopped after partition 1."""
    with a_rebuilt_book(postgres_url) as (ledger, serial):
        stop_after_first_partition(ledger)
        partway = dump(ledger)
        assert 0 < len(partway["loanledger_loan_index"]) < len(serial["loanledger_loan_index"])
        yield ledger, serial, partway


@pytest.mark.postgres
def test_a_postgresql_rebuild_that_stopped_goes_on_where_its_partitions_stopped(
    postgres_url: str, cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with a_stopped_rebuild(postgres_url) as (ledger, serial, _):
        resets: list[bool] = []
        held = ledger.projections.held

        def watched(*, reset: bool = False) -> Any:
            resets.append(reset)
            return held(reset=reset)

        monkeypatch.setattr(ledger.projections, "held", watched)
        ledger.rebuild(workers=2, scheduler=cluster.scheduler_address)
        assert resets == [False]  # partition 1's rows were kept, not written again
        assert dump(ledger) == serial


@pytest.mark.postgres
def test_read_models_a_stopped_postgresql_rebuild_left_are_built_again_by_the_next_catch_up(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with a_stopped_rebuild(postgres_url) as (ledger, serial, partway):
        # Opening the store (as every worker does) leaves the marked read models alone ...
        other = LoanLedger.open(ledger.settings.url)
        other.projections.batch_size = 25  # the same pages as the single rebuild's
        try:
            assert dump(other) == partway
            # ... and a catch-up builds them again from the first event.
            with caplog.at_level("WARNING", logger="loanledger.projection.engine"):
                other.projections.catch_up()
            assert dump(other) == serial
            assert "left by a partitioned rebuild that stopped" in caplog.text
        finally:
            other.close()
