"""Edit stored events behind the ledger's back, as an attacker or a broken disk would.

Each helper works on the raw store of one kind, bypassing the library, so that the verifier is
tested against exactly what it must survive: changed bytes, a deleted event, swapped events.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any
from uuid import UUID

from loanledger import LoanLedger


def stored_states(ledger: LoanLedger, originator_id: UUID) -> dict[int, bytes]:
    return {
        item.originator_version: item.state for item in ledger.recorder.select_events(originator_id)
    }


def overwrite_state(ledger: LoanLedger, originator_id: UUID, version: int, state: bytes) -> None:
    _run(ledger, "update", originator_id, version, state)


def delete_event(ledger: LoanLedger, originator_id: UUID, version: int) -> None:
    _run(ledger, "delete", originator_id, version, None)


def swap_events(ledger: LoanLedger, originator_id: UUID, first: int, second: int) -> None:
    states = stored_states(ledger, originator_id)
    overwrite_state(ledger, originator_id, first, states[second])
    overwrite_state(ledger, originator_id, second, states[first])


def flip_bit(state: bytes, position: int) -> bytes:
    changed = bytearray(state)
    changed[position] ^= 0x01
    return bytes(changed)


def _run(
    ledger: LoanLedger, action: str, originator_id: UUID, version: int, state: bytes | None
) -> None:
    kind = ledger.settings.kind
    if kind == "memory":
        _run_memory(ledger.recorder, action, originator_id, version, state)
    elif kind == "sqlite":
        _run_sqlite(ledger, action, originator_id, version, state)
    else:
        _run_postgres(ledger, action, originator_id, version, state)


def _run_memory(
    recorder: Any, action: str, originator_id: UUID, version: int, state: bytes | None
) -> None:
    index = recorder._stored_events_index[str(originator_id)]
    position = index[version]
    if action == "update":
        recorder._stored_events[position] = replace(recorder._stored_events[position], state=state)
    else:
        del recorder._stored_events[position]
        rebuilt: dict[str, dict[int, int]] = {}
        for number, item in enumerate(recorder._stored_events):
            rebuilt.setdefault(str(item.originator_id), {})[item.originator_version] = number
        recorder._stored_events_index.clear()
        recorder._stored_events_index.update(rebuilt)


def _run_sqlite(
    ledger: LoanLedger, action: str, originator_id: UUID, version: int, state: bytes | None
) -> None:
    path = ledger.settings.env["SQLITE_DBNAME"]
    table = ledger.recorder.events_table_name  # type: ignore[attr-defined]
    with sqlite3.connect(path) as connection:
        if action == "update":
            cursor = connection.execute(
                f"UPDATE {table} SET state=? WHERE originator_id=? AND originator_version=?",
                (state, originator_id.hex, version),
            )
        else:
            cursor = connection.execute(
                f"DELETE FROM {table} WHERE originator_id=? AND originator_version=?",
                (originator_id.hex, version),
            )
        assert cursor.rowcount == 1


def _run_postgres(
    ledger: LoanLedger, action: str, originator_id: UUID, version: int, state: bytes | None
) -> None:
    import psycopg
    from psycopg import sql

    env = ledger.settings.env
    table = sql.Identifier(
        env.get("POSTGRES_SCHEMA", "public"),
        ledger.recorder.events_table_name,  # type: ignore[attr-defined]
    )
    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        autocommit=True,
    ) as connection:
        if action == "update":
            cursor = connection.execute(
                sql.SQL(
                    "UPDATE {} SET state=%s WHERE originator_id=%s AND originator_version=%s"
                ).format(table),
                (state, originator_id, version),
            )
        else:
            cursor = connection.execute(
                sql.SQL("DELETE FROM {} WHERE originator_id=%s AND originator_version=%s").format(
                    table
                ),
                (originator_id, version),
            )
        assert cursor.rowcount == 1
