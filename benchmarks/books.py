"""Big books for B3 and B5: renamed copies of a loaded book, of its events and its read models.

Recording through the library runs at a few thousand events a second and projecting the
bitemporal `loan_state` at about as many, so a 100,000-loan book (1.1 million events) can be
neither loaded nor projected within the suite's 15 minutes. `common.replicate` copies a loaded
book's events (renamed loans, recomputed hash chains, re-sealed personal data); this module copies
its read models too, with the same renaming, and sets the projections' positions to the copy's
last event, so the copied book is caught up without projecting anything.

That is only honest if the copied rows are the ones the projections would have written for the
copied events. Two things make them so, and `tests/integration/test_benchmark_books.py` checks
the result against a rebuild, table by table:

- The base's read models are rebuilt once it is loaded and closed (`prepare_base`). Read models
  caught up a page at a time as a book is written split the `loan_state` segments where the pages
  happened to end (the same answers, other rows), so only a rebuild's rows are a function of the
  events alone.
- The copies' events are interleaved with their source's (`replicate(..., interleave=True)`):
  each event is followed by its copies. `loan_state` writes each moment's segments up to the
  business horizon as it stood when the moment was recorded (the latest effective date before
  it in the log); copies appended one after the other would see their whole lives with the
  horizon already at the end of the book. Interleaved, a rebuild of the copy in pages of
  `copies` x the base's page sees each base page, with its copies, in one page.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from datetime import date

from benchmarks.common import Store, Workspace, insert_stored, opened, replicate
from benchmarks.journal import generate
from loanledger.persistence.ids import loan_uuid
from loanledger.projection.engine import BATCH_SIZE

WARM_DAY = date(2024, 7, 29)
"""Every loan has paid five installments (Feb-Jun) and owes its July one; closing this day
makes close of day see every loan once and sets each loan's next action date."""

EVENTS_TABLE = "stored_events"

PER_LOAN: Mapping[str, Mapping[str, str]] = {
    "loanledger_loan_index": {
        "loan_id": "rename",
        "aggregate_id": "aggregate",
        "borrower_id": "rename",
    },
    "loanledger_loan_state": {"loan_id": "rename", "borrower_id": "rename", "detail": "rename"},
    "loanledger_loan_state_cover": {"loan_id": "rename"},
    "loanledger_notices": {"notice_id": "rename", "loan_id": "rename"},
    "loanledger_notice_receipts": {"loan_id": "rename", "notice_id": "rename"},
}
"""Read-model tables with rows per loan (each has a `loan_id` column), copied once per copy, and
their columns that name the loan: `rename` renames the row's loan id wherever it occurs in the
text (borrower ids, notice ids and the report row in a segment's `detail` embed it), `aggregate`
is the renamed loan's aggregate id. Every other column is copied as it is. The source is checked
first: no other column names a loan, and no renamed one names another loan than its row's."""

ONCE = ("loanledger_loan_state_horizon",)
"""Book-wide read-model rows, copied as they are (the copies share their source's dates)."""

SEPARATELY = {
    EVENTS_TABLE: "the events: `replicate` and `insert_stored`",
    "loanledger_data_keys": "the renamed persons' data keys: `replicate` and `insert_stored`",
    "loanledger_tracking": "set to the copy's last event: the copy is caught up",
    "loanledger_closed_days": "close of day's own journal: each day's counts once per copy",
    "loanledger_snapshots": (
        "not copied: a snapshot is a cache of a long loan's decoded history, which a rebuild "
        "deletes and loading a loan makes again; the books' loans are far below its threshold"
    ),
    "loanledger_personal_data_log": "must be empty: the base forgets nobody and exports nothing",
    "loanledger_merkle_leaves": "not copied: the copy's transparency log is built from its events",
    "loanledger_merkle_nodes": "not copied: as the leaves",
    "loanledger_checkpoints": "not copied: the copy's tree is another tree, with its own root",
}
"""The other tables of a ledger's file and what happens to them. A table that is in none of these
(a read model added later) stops the copy: left out, it would leave the copies without its rows
while the figures still looked plausible."""

_LOAN_ID = re.compile(r"L-\d{7}")
_NAMES_A_LOAN = "*L-[0-9][0-9][0-9][0-9][0-9][0-9][0-9]*"


def prepare_base(
    space: Workspace,
    name: str,
    loans: int,
    *,
    repayment_day: int | None,
    page: int = BATCH_SIZE,
    seed: int = 3,
) -> Store:
    """A SQLite book of `loans` generated loans, closed through WARM_DAY, its read models
    rebuilt in pages of `page` events (see the module's docstring) and close of day's columns of
    the loan index (which a rebuild clears) set again by closing WARM_DAY once more."""
    base = space.sqlite(f"{name}-base")
    book = generate(loans, repayment_day=repayment_day, seed=seed)
    with opened(base) as ledger:
        ledger.load(book.write(space.dir / f"{name}.jsonl"))
        ledger.close_day(WARM_DAY)
        ledger.projections.batch_size = page
        ledger.rebuild()
        again = ledger.close_day(WARM_DAY)
        if again["events_recorded"]:
            raise AssertionError(f"closing {WARM_DAY} again recorded {again}")
    return base


def replicate_book(space: Workspace, base: Store, name: str, loans: int, copies: int) -> Store:
    """`copies` renamed copies of `base` (from `prepare_base`, `loans` loans), events and read
    models, caught up: copy k of loan L-n is L-(n + k*loans), and copy 0 is the base itself."""
    store = space.sqlite(name)
    with opened(base) as original, opened(store) as ledger:
        source_position = original.recorder.max_notification_id() or 0
        events = replicate(base.rows(), copies, loans, original.data_keys, interleave=True)
        insert_stored(ledger, events, keys_from=base)
        position = ledger.recorder.max_notification_id() or 0
    copy_read_models(base, store, loans, copies, source_position, position)
    with opened(store) as ledger:
        # The transparency log close_day keeps up day by day (each day's checkpoint costs that
        # day's events), built once here for the copied events, untimed.
        ledger.checkpoint()
    return store


def copy_read_models(
    base: Store,
    store: Store,
    loans: int,
    copies: int,
    source_position: int,
    position: int,
) -> None:
    """Copy `base`'s read models (caught up to `source_position`) into `store`, whose events
    are `copies` renamed copies of the base's, up to `position`; see `PER_LOAN`, `ONCE`,
    `SEPARATELY`. One SQL statement per table and copy."""
    assert base.path is not None and store.path is not None

    def aggregate(loan_id: str) -> str:
        return str(loan_uuid(loan_id))

    with closing(sqlite3.connect(store.path)) as connection:
        connection.create_function("aggregate", 1, aggregate, deterministic=True)
        # A throwaway benchmark file: no rollback journal and no waiting for the disk. Through
        # the write-ahead log the 3 GB of a 100,000-loan book's segments were written twice.
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -1000000")
        connection.execute("ATTACH DATABASE ? AS src", (str(base.path),))
        _check_source(connection, source_position)
        with connection:
            for table, how in PER_LOAN.items():
                _expect_empty(connection, table)
                columns = _columns(connection, table)
                keys = ", ".join(_primary_key(connection, table))
                for copy in range(copies):
                    # Renamed in SQL: a Python function called on every row (a regular
                    # expression over each segment's detail) cost more than the insert.
                    new_id = (
                        f"printf('L-%07d', CAST(substr(loan_id, 3) AS INTEGER) + {copy * loans})"
                    )
                    values = []
                    for column in columns:
                        kind = how.get(column)
                        if kind == "rename":
                            values.append(f"replace({column}, loan_id, {new_id})")
                        elif kind == "aggregate":
                            values.append(f"aggregate({new_id})")
                        else:
                            values.append(column)
                    # In key order: each copy's loan ids are one range above the last copy's,
                    # so every row goes to the end of the primary key's tree.
                    connection.execute(
                        f"INSERT INTO main.{table} ({', '.join(columns)}) "
                        f"SELECT {', '.join(values)} FROM src.{table} ORDER BY {keys}"
                    )
            for table in ONCE:
                _expect_empty(connection, table)
                connection.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table}")
            for table in ("loanledger_tracking", "loanledger_closed_days"):
                _expect_empty(connection, table)
            connection.execute(
                "INSERT INTO main.loanledger_tracking (projection, position, version) "
                "SELECT projection, ?, version FROM src.loanledger_tracking",
                (position,),
            )
            connection.execute(
                "INSERT INTO main.loanledger_closed_days "
                "(business_date, closed_at, loans_processed, events_recorded) "
                "SELECT business_date, closed_at, loans_processed * ?, events_recorded * ? "
                "FROM src.loanledger_closed_days",
                (copies, copies),
            )
        # Back to the write-ahead log of a ledger's file (a ledger sets it when it opens).
        connection.execute("PRAGMA journal_mode = WAL")


def _check_source(connection: sqlite3.Connection, position: int) -> None:
    """Refuse a base whose tables this copy does not know, whose projections are not caught up
    to its last event, or whose rows name a loan where the copy would not rename it."""
    tables = {
        row[0]
        for row in connection.execute("SELECT name FROM src.sqlite_master WHERE type = 'table'")
    }
    unknown = tables - set(PER_LOAN) - set(ONCE) - set(SEPARATELY)
    if unknown:
        raise AssertionError(f"tables the benchmark books do not copy: {sorted(unknown)}")
    behind = connection.execute(
        "SELECT projection, position FROM src.loanledger_tracking WHERE position <> ?", (position,)
    ).fetchall()
    if behind:
        raise AssertionError(f"the base's projections are behind its event {position}: {behind}")
    if connection.execute("SELECT COUNT(*) FROM src.loanledger_personal_data_log").fetchone()[0]:
        raise AssertionError("the base's personal-data log is not empty")
    for table in [*PER_LOAN, *ONCE]:
        how = PER_LOAN.get(table, {})
        for column in _columns(connection, table):
            if how.get(column) == "rename":
                statement = f"SELECT loan_id, {column} FROM src.{table}"
                for loan_id, value in connection.execute(statement):
                    others = set(_LOAN_ID.findall(value)) - {loan_id}
                    if others:
                        raise AssertionError(f"{table}.{column} of {loan_id} names {others}")
            if column in how:
                continue
            found = connection.execute(
                f"SELECT {column} FROM src.{table} WHERE typeof({column}) = 'text' "
                f"AND {column} GLOB ? LIMIT 1",
                (_NAMES_A_LOAN,),
            ).fetchone()
            if found:
                raise AssertionError(f"{table}.{column} names a loan ({found[0]!r})")


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA src.table_info({table})")]


def _primary_key(connection: sqlite3.Connection, table: str) -> list[str]:
    info = connection.execute(f"PRAGMA src.table_info({table})").fetchall()
    return [row[1] for row in sorted((row for row in info if row[5]), key=lambda row: row[5])]


def _expect_empty(connection: sqlite3.Connection, table: str) -> None:
    if connection.execute(f"SELECT 1 FROM main.{table} LIMIT 1").fetchone():
        raise AssertionError(f"{table} of the copied book is not empty before the copy")
