"""Pages of the notification log (every stored event in recording order) as plain rows.

The projection engine and `verify()` read the whole log page by page. eventsourcing's
`select_notifications` builds its statement per call and reads each row by column name
(`sqlite3.Row` / psycopg's `dict_row`), and on SQLite parses the loan's UUID from text for every
row: a few microseconds an event, a sixth of a rebuild's time on SQLite. `page_reader` returns a
reader that asks the same table for the same columns in the same order (ids from `start`
inclusive, ascending, at most `limit`) with positional rows and, on SQLite, one UUID object per
loan per page. The in-memory store keeps eventsourcing's reader.

On PostgreSQL the rows come in binary format (`bytea` as it is stored, instead of hex text that
psycopg must decode: half the bytes on the wire and half the client's time per row), and inside
`session()` every page is read over one pooled connection: taking a connection from the pool
checks it with a round trip to the server, which a catch-up of a hundred pages paid a hundred
times.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from loanledger.persistence.pool import HeldConnections


class PageReader(Protocol):
    """`read(start, limit)`: notifications with id >= `start`, in id order, at most `limit`."""

    def __call__(self, start: int, limit: int) -> Sequence[Notification]: ...

    def session(self) -> AbstractContextManager[None]:
        """Within this block, on this thread, pages may share one connection (a catch-up
        reads many in a row); the pages read are the same."""
        ...


def page_reader(recorder: ApplicationRecorder) -> PageReader:
    """The fastest reader of `recorder`'s notification log (see the module docstring)."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        return _SQLitePages(recorder)
    if isinstance(recorder, PostgresApplicationRecorder):
        return _PostgresPages(recorder)
    return _RecorderPages(recorder)


class _RecorderPages:
    """eventsourcing's own reader (the in-memory store: no connection to hold)."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self._recorder = recorder

    def __call__(self, start: int, limit: int) -> Sequence[Notification]:
        return self._recorder.select_notifications(start, limit)

    def session(self) -> AbstractContextManager[None]:
        return nullcontext()


class _SQLitePages:
    """SQLite's datastore keeps one connection per thread already: a session holds nothing."""

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self._datastore = recorder.datastore
        self._statement = (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {recorder.events_table_name} WHERE rowid>=? ORDER BY rowid LIMIT ?"
        )

    def __call__(self, start: int, limit: int) -> list[Notification]:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(self._statement, (start, limit))
            rows: list[Any] = cursor.fetchall()
        return sqlite_notifications(rows)

    def session(self) -> AbstractContextManager[None]:
        return nullcontext()


def uuid_or_raw(value: Any) -> Any:
    """The loan's UUID; a value that is not one (a tampered row) is passed on as stored, for
    `verify()` to name as a break."""
    try:
        return UUID(value)
    except (ValueError, TypeError, AttributeError):
        return value


class _PostgresPages:
    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self._datastore = recorder.datastore
        self._statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE notification_id>=%s ORDER BY notification_id LIMIT %s"
        ).format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )
        self._connections: HeldConnections[Connection[Any]] = HeldConnections(
            recorder.datastore.get_connection
        )

    def session(self) -> AbstractContextManager[None]:
        """Hold one pooled connection for this thread's pages until the block ends (errors on
        it are raised as eventsourcing's, as `get_connection` raises them, when they leave the
        block)."""
        return self._connections.hold()

    def __call__(self, start: int, limit: int) -> list[Notification]:
        with (
            self._connections.connection() as connection,
            connection.cursor(row_factory=tuple_row) as cursor,
        ):
            cursor.execute(self._statement, (start, limit), prepare=True, binary=True)
            rows = cursor.fetchall()
        # A NULL state (a tampered row) is passed on as stored, for verify() to name.
        return [
            Notification(
                originator_id=originator_id,
                originator_version=version,
                topic=topic,
                state=state if state is None else bytes(state),  # type: ignore[arg-type]
                id=notification_id,
            )
            for notification_id, originator_id, version, topic, state in rows
        ]


LOANS_PER_READ = 500
"""Loans whose events one statement of `LoanEvents` asks for (a bounded parameter list)."""


class LoanEvents:
    """Some loans' events, in log order, read by the loans' key instead of scanning the whole
    log: a partitioned `verify()` reads only its partition's loans (issue 20: each partition
    read every page of the log and dropped the other partitions' events in Python). The rows
    are what `page_reader` gives, with the same types (a tampered value passed on as stored)."""

    def __init__(self, recorder: SQLiteApplicationRecorder | PostgresApplicationRecorder) -> None:
        table = recorder.events_table_name
        self._postgres: PostgresDatastore | None = None
        self._sqlite: SQLiteDatastore | None = None
        if isinstance(recorder, PostgresApplicationRecorder):
            self._postgres = recorder.datastore
            name = SQL("{schema}.{table}").format(
                schema=Identifier(recorder.datastore.schema), table=Identifier(table)
            )
            self._keys_sql: Any = SQL("SELECT DISTINCT originator_id FROM {name}").format(name=name)
            self._events_sql: Any = SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM {name} WHERE originator_id = ANY(%s) AND notification_id >= %s "
                "AND notification_id <= %s ORDER BY notification_id LIMIT %s"
            ).format(name=name)
        else:
            self._sqlite = recorder.datastore
            self._keys_sql = f"SELECT DISTINCT originator_id FROM {table}"
            self._events_sql = (
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {table} WHERE originator_id IN ({{keys}}) AND rowid >= ? AND rowid <= ? "
                "ORDER BY rowid LIMIT ?"
            )

    def stored_keys(self) -> list[Any]:
        """Every loan's key as stored (a distinct scan of the primary key's index)."""
        rows: list[Any]
        if self._postgres is not None:
            with (
                self._postgres.get_connection() as connection,
                connection.cursor(row_factory=tuple_row) as cursor,
            ):
                cursor.execute(self._keys_sql)
                rows = cursor.fetchall()
        else:
            assert self._sqlite is not None
            with self._sqlite.transaction(commit=False) as sqlite_cursor:
                sqlite_cursor.execute(self._keys_sql)
                rows = sqlite_cursor.fetchall()
        return [row[0] for row in rows]

    def read(
        self, keys: Sequence[Any], until: int, page_size: int = 1000
    ) -> Iterator[Notification]:
        """The events of the loans with these stored `keys` (at most `LOANS_PER_READ`) up to log
        position `until`, in log order, `page_size` rows a statement."""
        assert len(keys) <= LOANS_PER_READ, len(keys)
        chunk = list(keys)
        start = 1
        while chunk:
            page = self._page(chunk, start, until, page_size)
            yield from page
            if len(page) < page_size:
                return
            start = page[-1].id + 1

    def _page(self, keys: list[Any], start: int, until: int, limit: int) -> list[Notification]:
        rows: list[Any]
        if self._postgres is not None:
            with (
                self._postgres.get_connection() as connection,
                connection.cursor(row_factory=tuple_row) as cursor,
            ):
                cursor.execute(self._events_sql, (keys, start, until, limit), binary=True)
                rows = cursor.fetchall()
            return [
                Notification(
                    originator_id=originator_id,
                    originator_version=version,
                    topic=topic,
                    state=state if state is None else bytes(state),  # type: ignore[arg-type]
                    id=notification_id,
                )
                for notification_id, originator_id, version, topic, state in rows
            ]
        assert self._sqlite is not None
        statement = self._events_sql.format(keys=",".join("?" * len(keys)))
        with self._sqlite.transaction(commit=False) as sqlite_cursor:
            sqlite_cursor.execute(statement, (*keys, start, until, limit))
            rows = sqlite_cursor.fetchall()
        return sqlite_notifications(rows)


def loan_events(recorder: ApplicationRecorder) -> LoanEvents | None:
    """A `LoanEvents` of `recorder`'s table (None for a store without SQL: the in-memory one)."""
    if isinstance(recorder, SQLiteApplicationRecorder | PostgresApplicationRecorder):
        return LoanEvents(recorder)
    return None


def sqlite_notifications(rows: list[Any]) -> list[Notification]:
    """SQLite's (id, originator_id, version, topic, state) rows as notifications, each
    originator's text id turned into a UUID once per page."""
    ids: dict[str, UUID] = {}
    page = []
    for notification_id, originator_id, version, topic, state in rows:
        uuid = ids.get(originator_id)
        if uuid is None:
            uuid = ids[originator_id] = uuid_or_raw(originator_id)
        page.append(
            Notification(
                originator_id=uuid,
                originator_version=version,
                topic=topic,
                state=state,
                id=notification_id,
            )
        )
    return page
