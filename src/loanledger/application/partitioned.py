"""The partitioned rebuild on Dask: every read model rebuilt by N workers, one partition each.

The coordinator (this module, in the caller's process) empties the read models and notes the
log's head; each partition is a Dask task (`run_partition`) that opens the store, runs a
`PartitionEngine` over its loans' events up to that head and writes their rows into its own
schema (PostgreSQL) or file (SQLite), committing rows and tracking page by page; when every
task is done, the coordinator copies the partitions' rows into the read models and sets their
tracking, in one transaction, and drops the partitions. The result is the single-process
rebuild's rows, byte for byte (`projection/partitions.py` says why).

A crash loses nothing done and repeats nothing: a worker killed mid-task is replaced and Dask
runs its task again, which resumes from its partition's tracking (each page's rows and
position commit together); a coordinator killed before the merge leaves the partitions, which
the next `rebuild(workers=N)` with the same N resumes. The merge is one transaction.

On SQLite each partition writes its own file next to the book and the merge is the one writer
(SQLite allows one writer at a time; reading the events is shared). A `memory://` store lives
in one process and cannot be partitioned.

Without a scheduler address a `LocalCluster` of `workers` processes (one thread each) is
started for the call and closed after it; with one (`tcp://host:port`), the tasks run on that
cluster, whose workers must reach the store. A rebuild or verify needs no master key (it reads
no personal data); a load's workers open the store with the master key of their own environment
(`LOANLEDGER_MASTER_KEY`, which the processes of a `LocalCluster` inherit from the caller's):
the key is never sent over the cluster's network.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loanledger.domain.errors import InvalidCommandError
from loanledger.persistence.pages import page_reader
from loanledger.persistence.read_store import (
    PostgresReadStore,
    ReadStore,
    SQLiteReadStore,
    Transaction,
)
from loanledger.persistence.sql import statements
from loanledger.persistence.urls import StoreSettings, parse_store_url
from loanledger.projection.loan_index import LoanIndexProjection
from loanledger.projection.loan_state import LoanStateProjection
from loanledger.projection.notices import NoticesProjection
from loanledger.projection.partitions import CappedPages, PartitionEngine

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

    from loanledger.application.ledger import LoanLedger

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called now and then with (events projected, summed over partitions / partitions; events)."""

WHOLE_BOOK_TABLES = frozenset({"loanledger_loan_state_horizon"})
"""Read-model tables whose rows are the book's, not a loan's: every partition holds the same
rows (checked), which are copied once."""

TRACKING_TABLE = "loanledger_tracking"


@dataclass(frozen=True)
class PartitionTask:
    """What a worker needs to rebuild one partition (sent to it: plain values only)."""

    url: str
    index: int
    partitions: int
    until: int
    batch_size: int


def check_workers(workers: int, kind: str) -> None:
    """`workers` must be a whole number >= 1, and above 1 only on a store other processes reach."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidCommandError(f"workers must be a whole number of at least 1, not {workers!r}")
    if workers > 1 and kind == "memory":
        raise InvalidCommandError(
            "workers > 1 needs a store other processes can open (SQLite or PostgreSQL): a "
            "memory:// store lives in one process"
        )


# --- where a partition's read models live ----------------------------------------------------


def partition_place(settings: StoreSettings, index: int, partitions: int) -> str:
    """The partition's schema (PostgreSQL) or file (SQLite), named after the book's."""
    suffix = f"rebuild_{index + 1}_of_{partitions}"
    if settings.kind == "postgresql":
        return f"{main_schema(settings)[: 62 - len(suffix)]}_{suffix}"
    return f"{settings.env['SQLITE_DBNAME']}.{suffix}"


def main_schema(settings: StoreSettings) -> str:
    return settings.env.get("POSTGRES_SCHEMA", "public")


def partition_store(settings: StoreSettings, place: str) -> ReadStore:
    if settings.kind == "postgresql":
        return PostgresReadStore(
            StoreSettings(settings.url, settings.kind, {**settings.env, "POSTGRES_SCHEMA": place})
        )
    return SQLiteReadStore(place)


# --- the task, in a worker process -----------------------------------------------------------


def open_in_worker(url: str, *, withhold_personal_data: bool = False) -> LoanLedger:
    """The store at `url`, opened by a worker: the coordinator opened it already, so its tables
    exist and a PostgreSQL store is opened without creating tables (no schema lock for every
    worker to queue on, no DDL). A rebuild or verify reads no personal data (the read models
    hold none), so it opens with `withhold_personal_data` and needs no master key in the worker's
    environment; a load seals names and needs it."""
    from loanledger.application.ledger import LoanLedger

    settings = parse_store_url(url)
    if settings.kind == "postgresql" and "CREATE_TABLE" not in settings.env:
        url += ("&" if "?" in url else "?") + "create_tables=false"
    return LoanLedger.open(url, withhold_personal_data=withhold_personal_data)


def run_partition(task: PartitionTask) -> int:
    """Rebuild one partition's read models up to `task.until`; return the events read."""
    settings = parse_store_url(task.url)
    ledger = open_in_worker(task.url, withhold_personal_data=True)
    store = partition_store(settings, partition_place(settings, task.index, task.partitions))
    try:
        loan_state = LoanStateProjection(
            lambda loan_id: ledger._get(loan_id, remember=False), ledger.rules
        )
        engine = PartitionEngine(
            store,
            [LoanIndexProjection(), loan_state, NoticesProjection()],
            CappedPages(page_reader(ledger.recorder), task.until),
            ledger._decode,
            task.batch_size,
            partition=task.index,
            partitions=task.partitions,
        )
        return engine.catch_up()
    finally:
        store.close()
        ledger.close()


# --- the coordinator ---------------------------------------------------------------------------


WORKER_CONFIG = {"distributed.worker.profile.enabled": False}
"""Dask configuration of the worker processes a `local_cluster` starts. Dask's statistical
profiler reads every thread's frame (`sys._current_frames`) every 10 ms, and on CPython 3.11
before 3.11.9 that can deadlock with a thread being started (CPython issue 116969): a verify's
task hung for good opening its store (psycopg's pool starts its threads). The profile is a
dashboard's, which a rebuild, verify or load does not use."""


@contextlib.contextmanager
def local_cluster(workers: int, **options: Any) -> Iterator[LocalCluster]:
    """A `LocalCluster` of `workers` processes with one thread each, their profiler off (see
    `WORKER_CONFIG`: each worker takes the configuration in force when it is started)."""
    import dask
    from distributed import LocalCluster

    with (
        dask.config.set(WORKER_CONFIG),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            **options,
        ) as cluster,
    ):
        yield cluster


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Client]:
    """A client of the cluster at `scheduler`, else of a new `local_cluster` of `workers`
    processes (closed at the end)."""
    try:
        from distributed import Client
    except ImportError as error:  # pragma: no cover - the `scale` extra is in `dev`
        raise InvalidCommandError(
            "workers > 1 runs on dask.distributed: install loanledger[scale]"
        ) from error
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with (
        local_cluster(workers, silence_logs=logging.ERROR) as cluster,
        Client(cluster) as client,
    ):
        yield client


def rebuild_partitioned(
    ledger: LoanLedger,
    workers: int,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> int:
    """Rebuild every read model in `workers` partitions (module docstring); return the events
    read (as the single-process rebuild counts them)."""
    settings = ledger.settings
    check_workers(workers, settings.kind)
    until = ledger.recorder.max_notification_id() or 0
    places = [partition_place(settings, k, workers) for k in range(workers)]
    _drop_other_partitions(ledger, places)
    ledger.loan_snapshots.clear()
    if settings.kind == "postgresql":
        with ledger.read_store.transaction() as txn:
            for place in places:
                txn.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(place)}")
    tasks = [
        PartitionTask(settings.url, k, workers, until, ledger.projections.batch_size)
        for k in range(workers)
    ]
    # No catch-up of this ledger writes the read models until the partitions are merged.
    with ledger.projections.held(reset=True):
        ledger.loan_state.release()
        with dask_client(workers, scheduler) as client:
            futures = client.map(run_partition, tasks, pure=False)
            _wait(futures, settings, places, until, progress)
            counts = client.gather(futures)
        _merge(ledger, places)
    _drop(ledger, places)
    ledger.loan_state.release()
    ledger.projections.catch_up()  # anything recorded since the rebuild began
    return max(counts, default=0)


def _wait(
    futures: Sequence[Any],
    settings: StoreSettings,
    places: Sequence[str],
    until: int,
    progress: Progress | None,
) -> None:
    from distributed import wait

    if progress is None:
        wait(futures)
        return
    stores: dict[str, ReadStore] = {}
    try:
        while True:
            try:
                wait(futures, timeout=0.5)
                finished = True
            except TimeoutError:
                finished = False
            reached = 0
            for place in places:
                reached += until if finished else _position(settings, place, stores)
            progress(reached // max(len(places), 1), until)
            if finished:
                return
    finally:
        for store in stores.values():
            store.close()


def _position(settings: StoreSettings, place: str, stores: dict[str, ReadStore]) -> int:
    """The least position a partition's projections reached (0 before it began)."""
    if settings.kind == "sqlite" and not Path(place).exists():
        return 0
    store = stores.get(place)
    if store is None:
        store = stores[place] = partition_store(settings, place)
    try:
        rows = store.query(f"SELECT min(position) FROM {TRACKING_TABLE}")
    except Exception:  # the worker has not created its tables yet
        return 0
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _merge(ledger: LoanLedger, places: Sequence[str]) -> None:
    """Copy every partition's rows into the read models and set their tracking, in one
    transaction (the partitions stay until it commits)."""
    store = ledger.read_store
    tracking = statements("tracking", store.dialect)
    sqlite = store.dialect == "sqlite"
    names = [f"p{k}" for k in range(len(places))] if sqlite else [_quoted(p) for p in places]
    if sqlite:
        for name, place in zip(names, places, strict=True):
            store.query(f"ATTACH DATABASE ? AS {name}", (place,))
    try:
        with store.transaction() as txn:
            tables = _tables(txn, places, names, sqlite)
            positions = _tracking(txn, names)
            for table in tables:
                if table in WHOLE_BOOK_TABLES:
                    _copy_whole_book(txn, table, names)
                else:
                    for name in names:
                        txn.execute(f"INSERT INTO {table} SELECT * FROM {name}.{table}")
            for projection, (position, version) in positions.items():
                txn.execute(tracking["upsert"], (projection, position, version))
    finally:
        if sqlite:
            for name in names:
                store.query(f"DETACH DATABASE {name}")


def _tables(
    txn: Transaction, places: Sequence[str], names: Sequence[str], sqlite: bool
) -> list[str]:
    if sqlite:
        found = txn.execute(f"SELECT name FROM {names[0]}.sqlite_master WHERE type = 'table'")
    else:
        found = txn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
            (places[0],),
        )
    tables = sorted(str(row[0]) for row in found if row[0] != TRACKING_TABLE)
    for table in tables:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", table):
            raise RuntimeError(f"unexpected table {table!r} in a rebuild partition")
    return tables


def _tracking(txn: Transaction, names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Every projection's (position, version), the same in every partition (else the rebuild
    did not finish, and nothing is merged)."""
    agreed: dict[str, tuple[int, int]] | None = None
    for name in names:
        rows = txn.execute(f"SELECT projection, position, version FROM {name}.{TRACKING_TABLE}")
        found = {str(p): (int(position), int(version)) for p, position, version in rows}
        if agreed is not None and found != agreed:
            raise RuntimeError(f"rebuild partitions disagree on tracking: {agreed} != {found}")
        agreed = found
    return agreed or {}


def _copy_whole_book(txn: Transaction, table: str, names: Sequence[str]) -> None:
    first: list[Any] | None = None
    for name in names:
        rows = sorted(txn.execute(f"SELECT * FROM {name}.{table}"))
        if first is not None and rows != first:
            raise RuntimeError(f"rebuild partitions disagree on {table}: {first} != {rows}")
        first = rows
    txn.execute(f"INSERT INTO {table} SELECT * FROM {names[0]}.{table}")


def _drop(ledger: LoanLedger, places: Sequence[str]) -> None:
    if ledger.settings.kind == "postgresql":
        with ledger.read_store.transaction() as txn:
            for place in places:
                txn.execute(f"DROP SCHEMA IF EXISTS {_quoted(place)} CASCADE")
        return
    for place in places:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(place + suffix)


def _drop_other_partitions(ledger: LoanLedger, keep: Sequence[str]) -> None:
    """Partitions left by an interrupted rebuild into another number of partitions."""
    settings = ledger.settings
    if settings.kind == "postgresql":
        prefix = main_schema(settings)
        rows = ledger.read_store.query(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ?",
            (prefix.replace("_", "\\_") + "\\_rebuild\\_%\\_of\\_%",),
        )
        pattern = re.compile(re.escape(prefix) + r"_rebuild_\d+_of_\d+")
        stale = [str(r[0]) for r in rows if r[0] not in keep and pattern.fullmatch(str(r[0]))]
        _drop(ledger, stale)
        return
    directory = Path(settings.env["SQLITE_DBNAME"])
    pattern = re.compile(re.escape(directory.name) + r"\.rebuild_\d+_of_\d+")
    for path in directory.parent.glob(directory.name + ".rebuild_*_of_*"):
        if str(path) not in keep and pattern.fullmatch(path.name):
            _drop(ledger, [str(path)])


def _quoted(identifier: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", identifier):
        raise RuntimeError(f"unexpected schema name {identifier!r}")
    return f'"{identifier}"'
