"""Where read models live: SQLite (also for memory:// ledgers) or PostgreSQL.

Read models sit beside the events (same SQLite file, same PostgreSQL database and schema) but on
their own connection, so a projection's rows and its tracking position commit together in one
transaction. A `memory://` ledger keeps its read models in a private in-memory SQLite database,
so every store runs the same SQL.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from loanledger.persistence.urls import StoreSettings

Row = tuple[Any, ...]


class Transaction(ABC):
    """A cursor inside one read-model transaction."""

    @abstractmethod
    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[Row]: ...

    @abstractmethod
    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None: ...


class ReadStore(ABC):
    dialect: str

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[Transaction]: ...

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.transaction() as txn:
            return txn.execute(statement, params)

    def session(self) -> AbstractContextManager[None]:
        """Within this block, on this thread, transactions may share one connection (a
        catch-up runs one a page); each still commits or rolls back on its own."""
        return nullcontext()

    def scrub(self) -> None:
        """Leave no copy of deleted rows where a reader of the files could find it. PostgreSQL
        keeps dead row versions until VACUUM: the operator runs `VACUUM` on the ledger's schema
        after forgetting someone (see README); nothing to do here."""
        return None

    def unzeroed(self, txn: Transaction) -> AbstractContextManager[None]:
        """Within this block, rows that `txn` deletes are not overwritten with zeros (only for
        rows that hold no personal data: a rebuild dropping such a read model). PostgreSQL never
        zeroes: nothing to do here."""
        return nullcontext()

    @abstractmethod
    def close(self) -> None: ...


class _SQLiteTransaction(Transaction):
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.cursor = cursor

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        self.cursor.execute(statement, tuple(params))
        return list(self.cursor.fetchall()) if self.cursor.description else []

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cursor.executemany(statement, rows)


class SQLiteReadStore(ReadStore):
    """Read models in a SQLite file (or a private in-memory database)."""

    dialect = "sqlite"

    def __init__(self, path: str | None) -> None:
        self._lock = threading.RLock()
        target = path if path else ":memory:"
        uri = target.startswith("file:")
        self._connection = sqlite3.connect(
            target, uri=uri, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._connection.execute("PRAGMA busy_timeout = 30000")
        # A deleted or rewritten row (a destroyed data key, a read-model row) is overwritten
        # with zeros, not left in a free page for a file reader to find (crypto-shredding).
        self._connection.execute("PRAGMA secure_delete = ON")
        if target != ":memory:" and "mode=memory" not in target:
            self._connection.execute("PRAGMA journal_mode = WAL")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction. Inside another one of this thread (the lock keeps every other
        thread out while one is open) it is a savepoint of it, as psycopg nests transactions
        on one connection: a loan's snapshot taken by a load during a projection's page is
        written with the page, where `BEGIN` would fail on the one connection."""
        with self._lock:
            cursor = self._connection.cursor()
            nested = self._connection.in_transaction
            begin, commit, rollback = (
                ("SAVEPOINT nested", "RELEASE nested", "ROLLBACK TO nested")
                if nested
                else ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
            )
            cursor.execute(begin)
            try:
                yield _SQLiteTransaction(cursor)
            except BaseException:
                cursor.execute(rollback)
                if nested:
                    cursor.execute(commit)  # the savepoint, rolled back, is let go
                raise
            else:
                cursor.execute(commit)
            finally:
                cursor.close()

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """A read on its own: SQLite's implicit read transaction, no write lock taken."""
        with self._lock:
            cursor = self._connection.execute(statement, tuple(params))
            try:
                return list(cursor.fetchall())
            finally:
                cursor.close()

    @contextmanager
    def unzeroed(self, txn: Transaction) -> Iterator[None]:
        # `secure_delete` is the connection's, and may change inside a transaction.
        txn.execute("PRAGMA secure_delete = OFF")
        try:
            yield
        finally:
            txn.execute("PRAGMA secure_delete = ON")

    def scrub(self) -> None:
        """Copy the write-ahead log into the file and truncate it, so that no superseded page
        (the row before a secure delete zeroed it) survives in the WAL file."""
        with self._lock:
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class _PostgresTransaction(Transaction):
    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        self.cursor.execute(_pg(statement), tuple(params))
        return list(self.cursor.fetchall()) if self.cursor.description else []

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cursor.executemany(_pg(statement), rows)


def _pg(statement: str) -> str:
    return statement.replace("%", "%%").replace("?", "%s")


class PostgresReadStore(ReadStore):
    """Read models in the ledger's PostgreSQL database and schema, on a small pool."""

    dialect = "postgresql"

    def __init__(self, settings: StoreSettings) -> None:
        from psycopg.conninfo import make_conninfo
        from psycopg_pool import ConnectionPool

        from loanledger.persistence.pool import HeldConnections, survive_restarts

        keywords = settings.postgres_connection(search_path=True)
        conninfo = make_conninfo(**keywords)
        # Like the event store's pool: connections a server restart killed are replaced when
        # found (`survive_restarts`), and waiting for one is bounded by connect_timeout.
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=4,
            open=False,
            check=ConnectionPool.check_connection,
            timeout=float(keywords["connect_timeout"]),
        )
        survive_restarts(self._pool, reconnect_timeout=float(keywords["connect_timeout"]))
        self._pool.open()
        self._connections = HeldConnections(self._pool.connection)

    def session(self) -> AbstractContextManager[None]:
        """Hold one pooled connection for this thread's transactions until the block ends
        (see `HeldConnections`)."""
        return self._connections.hold()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with (
            self._connections.connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            yield _PostgresTransaction(cursor)

    def close(self) -> None:
        self._pool.close()


def open_read_store(settings: StoreSettings) -> ReadStore:
    if settings.kind == "postgresql":
        return PostgresReadStore(settings)
    if settings.kind == "sqlite":
        return SQLiteReadStore(settings.env["SQLITE_DBNAME"])
    return SQLiteReadStore(None)
