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

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import Connection
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

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


def _events_statement(recorder: PostgresApplicationRecorder, text: str) -> Composed:
    """`text` with `{table}` the recorder's events table, in its schema."""
    return SQL(text).format(table=Identifier(recorder.datastore.schema, recorder.events_table_name))


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
        self._statement = _events_statement(
            recorder,
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {table} WHERE notification_id>=%s ORDER BY notification_id LIMIT %s",
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


EventsOf = Callable[[Sequence[UUID]], list[StoredEvent]]
"""Every stored event of the given loans, by loan in the order given, each loan's in version
order."""


def events_reader(recorder: ApplicationRecorder) -> EventsOf:
    """One statement for the events of many loans, where eventsourcing's `select_events` asks
    for one loan at a time: a rebuild loads again, at each page, the loans it dropped while idle
    (hundreds a page on a large book), each a round trip to PostgreSQL."""
    if isinstance(recorder, PostgresApplicationRecorder):
        return _PostgresEventsOf(recorder)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return _SQLiteEventsOf(recorder)
    return lambda ids: [event for id_ in ids for event in recorder.select_events(id_)]


class _SQLiteEventsOf:
    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self._datastore = recorder.datastore
        self._statement = (
            "SELECT originator_id, originator_version, topic, state "
            f"FROM {recorder.events_table_name} "
            "WHERE originator_id IN (SELECT value FROM json_each(?))"
        )

    def __call__(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        if not ids:
            return []
        asked = {id_.hex: id_ for id_ in ids}  # the recorder's text of each id
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(self._statement, (json.dumps(list(asked)),))
            rows: list[Any] = cursor.fetchall()
        return _in_order(ids, [(asked[row[0]], *row[1:]) for row in rows])


class _PostgresEventsOf:
    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self._datastore = recorder.datastore
        self._statement = _events_statement(
            recorder,
            "SELECT originator_id, originator_version, topic, state "
            "FROM {table} WHERE originator_id = ANY(%s)",
        )

    def __call__(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        if not ids:
            return []
        with (
            self._datastore.get_connection() as connection,
            connection.cursor(row_factory=tuple_row) as cursor,
        ):
            cursor.execute(self._statement, (list(ids),), binary=True)
            rows = cursor.fetchall()
        return _in_order(ids, [(*row[:3], bytes(row[3])) for row in rows])


def _in_order(ids: Sequence[UUID], rows: list[tuple[UUID, int, str, bytes]]) -> list[StoredEvent]:
    """The rows as stored events, by loan in the order of `ids`, each loan's by version."""
    rank = {id_: index for index, id_ in enumerate(ids)}
    rows.sort(key=lambda row: (rank[row[0]], row[1]))
    return [
        StoredEvent(originator_id=id_, originator_version=version, topic=topic, state=state)
        for id_, version, topic, state in rows
    ]


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
