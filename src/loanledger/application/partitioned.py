"""The partitioned rebuild on Dask: every read model rebuilt by N workers, one partition each.

The coordinator (this module, in the caller's process) empties the read models and notes the
log's head; each partition is a Dask task (`run_partition`) that opens the store and runs a
`PartitionEngine` over its loans' events up to that head, committing its rows and its tracking
page by page. The result is the single-process rebuild's rows, byte for byte
(`projection/partitions.py` says why). Where the rows go depends on the store:

- **PostgreSQL** (many writers): the partitions write the book's read models themselves, side by
  side (their loans' rows never meet), each with its own tracking rows (`loan_state@1/2`, ...),
  its own lock and its own row of the business horizon. While they run, the book's tracking
  marks every read model as being filled by N partitions (version -N, `_mark`). When every task
  is done, the coordinator sets the book's tracking and horizon from the partitions' and deletes
  theirs, in one transaction (`_finish`). Nothing is copied: the copy of a 2,000-loan book's
  40,000 `loan_state` rows from partition schemas, as this rebuild did before, took 0.55 s of
  PostgreSQL's time after the workers were done.
- **SQLite** (one writer at a time): each partition writes its own file next to the book, and
  the coordinator copies the files' rows into the read models and sets their tracking in one
  transaction (`_merge`), then deletes the files.

A crash loses nothing done and repeats nothing: a worker killed mid-task is replaced and Dask
runs its task again, which resumes from its partition's tracking (each page's rows and
position commit together). A coordinator killed before the end leaves the partitions' work,
which the next `rebuild(workers=N)` with the same N goes on from. On PostgreSQL, any other
catch-up of read models so marked builds them again from the first event instead
(`ProjectionEngine._positions`): they are partial. A process that merely opens the store (a
worker does) leaves them alone.

A `memory://` store lives in one process and cannot be partitioned.

Without a scheduler address a `LocalCluster` of `workers` processes (one thread each) is
started for the call and closed after it; with one (`tcp://host:port`), the tasks run on that
cluster, whose workers must reach the store. A rebuild or verify needs no master key (it reads
no personal data); a load's workers open the store with the master key of their own environment
(`LOANLEDGER_MASTER_KEY`, which the processes of a `LocalCluster` inherit from the caller's):
the key is never sent over the cluster's network.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loanledger.domain.errors import InvalidCommandError
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.pages import page_reader
from loanledger.persistence.read_store import (
    ReadStore,
    SQLiteReadStore,
    Transaction,
)
from loanledger.persistence.sql import statements
from loanledger.persistence.urls import StoreSettings, parse_store_url
from loanledger.projection.engine import PARTITIONED_VERSION
from loanledger.projection.loan_index import LoanIndexProjection
from loanledger.projection.loan_state import BOOK_HORIZON, LoanStateProjection
from loanledger.projection.notices import NoticesProjection
from loanledger.projection.partitions import (
    CappedPages,
    PartitionEngine,
    partition_of,
    partition_tracked,
)

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

OWNED_KEPT = 65_536
"""Loans whose partition a task remembers (see `run_partition`)."""


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


def shares_read_models(settings: StoreSettings) -> bool:
    """Whether a rebuild's partitions write the book's read models themselves, side by side
    (PostgreSQL: many writers), rather than files of their own merged at the end (SQLite: one
    writer at a time). The coordinator and every task decide it from the same URL."""
    return settings.kind == "postgresql"


def partition_file(settings: StoreSettings, index: int, partitions: int) -> str:
    """The SQLite file of a partition's read models, beside the book's."""
    return f"{settings.env['SQLITE_DBNAME']}.rebuild_{index + 1}_of_{partitions}"


def main_schema(settings: StoreSettings) -> str:
    return settings.env.get("POSTGRES_SCHEMA", "public")


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
    shared = shares_read_models(settings)
    ledger = open_in_worker(task.url, withhold_personal_data=True)
    store: ReadStore = (
        ledger.read_store
        if shared
        else SQLiteReadStore(partition_file(settings, task.index, task.partitions))
    )
    try:
        loan_state = LoanStateProjection(
            lambda loan_id: ledger._get(loan_id, remember=False), ledger.rules, ledger._get_many
        )
        if shared:
            loan_state.horizon_row = BOOK_HORIZON + 1 + task.index
            index, partitions = task.index, task.partitions

            # Asked at every page's end for each loan behind the horizon, every partition's:
            # remembered (a uuid5 and a BLAKE2b digest a loan), within a bound.
            @functools.lru_cache(maxsize=OWNED_KEPT)
            def owns(loan_id: str) -> bool:
                return partition_of(loan_uuid(loan_id), partitions) == index

            loan_state.owns = owns
        engine = PartitionEngine(
            store,
            [LoanIndexProjection(), loan_state, NoticesProjection()],
            CappedPages(page_reader(ledger.recorder), task.until),
            ledger._decode,
            task.batch_size,
            partition=task.index,
            partitions=task.partitions,
            shared=shared,
        )
        return engine.catch_up()
    finally:
        if not shared:
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
    shared = shares_read_models(settings)
    places = [] if shared else [partition_file(settings, k, workers) for k in range(workers)]
    _drop_other_partitions(ledger, places)
    ledger.loan_snapshots.clear()
    tasks = [
        PartitionTask(settings.url, k, workers, until, ledger.projections.batch_size)
        for k in range(workers)
    ]
    # No catch-up of this ledger writes the read models until the partitions are merged. On
    # PostgreSQL a rebuild into as many partitions that stopped goes on where its partitions
    # stopped (`_marked`); otherwise the read models are emptied first.
    resume = shared and _marked(ledger, workers)
    with ledger.projections.held(reset=not resume):
        if shared:
            _mark(ledger, workers)
        ledger.loan_state.release()
        with dask_client(workers, scheduler) as client:
            futures = client.map(run_partition, tasks, pure=False)
            with _reached(ledger, places, workers) as reached:
                _wait(futures, workers, until, progress, reached)
            counts = client.gather(futures)
        if shared:
            _finish(ledger, workers)
        else:
            _merge(ledger, places)
            _drop(ledger, places)
    ledger.loan_state.release()
    ledger.projections.catch_up()  # anything recorded since the rebuild began
    return max(counts, default=0)


Reached = Callable[[int], int]
"""The least position partition k's projections reached (0 before it began)."""


def _wait(
    futures: Sequence[Any], partitions: int, until: int, progress: Progress | None, reached: Reached
) -> None:
    from distributed import wait

    if progress is None:
        wait(futures)
        return
    while True:
        try:
            wait(futures, timeout=0.5)
            finished = True
        except TimeoutError:
            finished = False
        total = sum(until if finished else reached(k) for k in range(partitions))
        progress(total // max(partitions, 1), until)
        if finished:
            return


@contextlib.contextmanager
def _reached(ledger: LoanLedger, files: Sequence[str], partitions: int) -> Iterator[Reached]:
    """How far each partition got: read from the partition's rows in the book's tracking when
    the partitions share its read models (no `files`), else from each partition's file (opened
    when first asked, closed at the end)."""
    if not files:
        store = ledger.read_store
        tracking = statements("tracking", store.dialect)
        names = [projection.name for projection in ledger.projections.projections]

        def shared(k: int) -> int:
            found = {
                str(row[0]): int(row[1])
                for row in store.query(tracking["select_named"], (f"%@{k + 1}/{partitions}",))
            }
            return min(
                (found.get(partition_tracked(n, k, partitions), 0) for n in names), default=0
            )

        yield shared
        return
    stores: dict[str, ReadStore] = {}
    try:
        yield lambda k: _file_position(files[k], stores)
    finally:
        for opened in stores.values():
            opened.close()


def _file_position(path: str, stores: dict[str, ReadStore]) -> int:
    """The least position a partition's projections reached in its file (0 before it began)."""
    if not Path(path).exists():
        return 0
    store = stores.get(path)
    if store is None:
        store = stores[path] = SQLiteReadStore(path)
    try:
        rows = store.query(f"SELECT min(position) FROM {TRACKING_TABLE}")
    except Exception:  # the worker has not created its tables yet
        return 0
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


# --- PostgreSQL: the partitions write the book's read models -------------------------------


def _marked(ledger: LoanLedger, partitions: int) -> bool:
    """Whether the read models are marked as filled by a rebuild into `partitions`
    partitions that stopped before it finished (every projection's tracking version is minus
    the number of partitions: `projection.engine.PARTITIONED_VERSION`)."""
    store = ledger.read_store
    tracking = statements("tracking", store.dialect)
    for projection in ledger.projections.projections:
        rows = store.query(tracking["select"], (projection.name,))
        if not rows or int(rows[0][1]) != -partitions:
            return False
    return True


def _mark(ledger: LoanLedger, partitions: int) -> None:
    """Mark every read model as being filled by `partitions` partitions: a process that opens
    the store meanwhile leaves it alone, and a catch-up after a rebuild that stopped builds it
    again from the first event (`ProjectionEngine._positions`)."""
    assert -partitions <= PARTITIONED_VERSION
    store = ledger.read_store
    tracking = statements("tracking", store.dialect)
    with store.transaction() as txn:
        txn.execute(tracking["lock"])
        for projection in ledger.projections.projections:
            txn.execute(tracking["upsert"], (projection.name, 0, -partitions))


def _finish(ledger: LoanLedger, partitions: int) -> None:
    """In one transaction: each projection's position (the same in every partition, else the
    rebuild did not finish and nothing changes) and version in the book's tracking, the
    partitions' rows gone; the business horizon (the same in every partition) the book's."""
    store = ledger.read_store
    tracking = statements("tracking", store.dialect)
    state = ledger.loan_state.sql(store)
    with store.transaction() as txn:
        txn.execute(tracking["lock"])
        for projection in ledger.projections.projections:
            found = set()
            for k in range(partitions):
                row = txn.execute(
                    tracking["select"], (partition_tracked(projection.name, k, partitions),)
                )
                found.add((int(row[0][0]), int(row[0][1])) if row else (0, projection.version))
            if len(found) != 1:
                raise RuntimeError(
                    f"rebuild partitions disagree on {projection.name}'s tracking: {sorted(found)}"
                )
            ((position, version),) = found
            txn.execute(tracking["upsert"], (projection.name, position, version))
            txn.execute(tracking["delete_named"], (f"{projection.name}@%",))
        horizons = {str(row[1]) for row in txn.execute(state["partition_horizons"])}
        if len(horizons) > 1:
            raise RuntimeError(f"rebuild partitions disagree on the horizon: {sorted(horizons)}")
        if horizons:
            txn.execute(state["upsert_horizon_of"], (BOOK_HORIZON, horizons.pop()))
        txn.execute(state["delete_partition_horizons"])


# --- SQLite: the partitions' files are merged ------------------------------------------------


def _merge(ledger: LoanLedger, files: Sequence[str]) -> None:
    """Copy every partition file's rows into the read models and set their tracking, in one
    transaction (the files stay until it commits)."""
    store = ledger.read_store
    tracking = statements("tracking", store.dialect)
    names = [f"p{k}" for k in range(len(files))]
    for name, path in zip(names, files, strict=True):
        store.query(f"ATTACH DATABASE ? AS {name}", (path,))
    try:
        with store.transaction() as txn:
            tables = _tables(txn, names[0])
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
        for name in names:
            store.query(f"DETACH DATABASE {name}")


def _tables(txn: Transaction, name: str) -> list[str]:
    found = txn.execute(f"SELECT name FROM {name}.sqlite_master WHERE type = 'table'")
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
    """Drop partitions: files beside a SQLite book; on PostgreSQL, schemas an earlier version of
    this rebuild wrote its partitions into (`_drop_other_partitions`)."""
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
    """Partitions left by an interrupted rebuild into another number of partitions (SQLite
    files), or by an interrupted rebuild of an earlier version, which gave each partition a
    schema of its own (PostgreSQL)."""
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
