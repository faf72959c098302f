"""Writing many sealed events at once: binary `COPY` on PostgreSQL, the recorder elsewhere.

A parallel load (`application/partitioned_load.py`) has its events checked, applied and
sealed by workers; the coordinator writes them here in file order, one transaction per chunk.
On PostgreSQL the chunk is streamed with `COPY ... FROM STDIN (FORMAT BINARY)` inside what the
event recorder does around its own insert: the table lock that keeps notification ids in commit
order (readers never pass over a gap) and the NOTIFY that wakes followers. Notification ids
come from the table's sequence in the rows' order, as an insert gives them. A version a loan
holds already (another writer) fails the whole chunk with `IntegrityError`, as the recorder's
insert does.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import errors
from psycopg.sql import SQL, Identifier


def write_events(recorder: ApplicationRecorder, stored: Sequence[StoredEvent]) -> None:
    """Store `stored` (sealed, in order) in one transaction."""
    if not stored:
        return
    if not isinstance(recorder, PostgresApplicationRecorder):
        recorder.insert_events(list(stored))
        return
    statement = SQL(
        "COPY {schema}.{table} (originator_id, originator_version, topic, state) "
        "FROM STDIN (FORMAT BINARY)"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )
    try:
        with recorder.datastore.transaction(commit=True) as cursor:
            recorder._lock_table(cursor)
            recorder._notify_channel(cursor)
            with cursor.copy(statement) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for event in stored:
                    copy.write_row(
                        (event.originator_id, event.originator_version, event.topic, event.state)
                    )
    except errors.UniqueViolation as error:
        raise IntegrityError(error) from error
