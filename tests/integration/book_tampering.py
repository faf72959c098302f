"""Rewrite a store's event log behind the ledger's back, as someone with the database's keys would:
delete events or whole loans, truncate, renumber, insert a forged event whose per-loan chain is
valid, alter a stored checkpoint. SQLite and PostgreSQL; on PostgreSQL the attacker first
disables the append-only trigger (`ALTER TABLE ... DISABLE TRIGGER USER`), which only the
table's owner or a superuser can do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from loanledger import LoanLedger
from loanledger.persistence.chain import compute_link, seal, unseal

SHIFT = 1_000_000
"""Notification ids are moved out of the way by this much while renumbering."""


def run(ledger: LoanLedger, statement: str, params: Sequence[Any] = ()) -> int:
    """Run one statement on the events table (`{events}` in `statement`); rows changed."""
    table = ledger.recorder.events_table_name  # type: ignore[attr-defined]
    if ledger.settings.kind == "sqlite":
        with sqlite3.connect(ledger.settings.env["SQLITE_DBNAME"]) as connection:
            text = statement.replace("{id}", "rowid").replace("%s", "?")
            return connection.execute(text.replace("{events}", table), tuple(params)).rowcount
    import psycopg
    from psycopg import sql

    env = ledger.settings.env
    name = sql.Identifier(env.get("POSTGRES_SCHEMA", "public"), table).as_string()
    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        autocommit=True,
    ) as connection:
        connection.execute(f"ALTER TABLE {name} DISABLE TRIGGER USER")
        text = statement.replace("{id}", "notification_id").replace("{events}", name)
        cursor = connection.execute(text, tuple(params))
        return cursor.rowcount


def _key(ledger: LoanLedger, originator_id: UUID) -> Any:
    return originator_id.hex if ledger.settings.kind == "sqlite" else originator_id


def delete_versions(ledger: LoanLedger, originator_id: UUID, versions: Sequence[int]) -> None:
    for version in versions:
        changed = run(
            ledger,
            "DELETE FROM {events} WHERE originator_id=%s AND originator_version=%s",
            (_key(ledger, originator_id), version),
        )
        assert changed == 1


def delete_loan(ledger: LoanLedger, originator_id: UUID) -> None:
    assert run(
        ledger, "DELETE FROM {events} WHERE originator_id=%s", (_key(ledger, originator_id),)
    )


def truncate_after(ledger: LoanLedger, events_kept: int) -> None:
    """Keep only the first `events_kept` events of the log."""
    ids = sorted(item.id for item in ledger.recorder.select_notifications(1, 10_000))
    assert run(ledger, "DELETE FROM {events} WHERE {id} > %s", (ids[events_kept - 1],))


def swap_notification_order(ledger: LoanLedger, first: int, second: int) -> None:
    """Exchange the log positions (notification ids) of the events at ids `first` and `second`."""
    run(ledger, "UPDATE {events} SET {id} = %s WHERE {id} = %s", (SHIFT, first))
    run(ledger, "UPDATE {events} SET {id} = %s WHERE {id} = %s", (first, second))
    run(ledger, "UPDATE {events} SET {id} = %s WHERE {id} = %s", (second, SHIFT))


def forge_after(ledger: LoanLedger, originator_id: UUID) -> int:
    """Insert a forged next version of the loan, with a valid chain link, right after the
    loan's last event in the log (renumbering everything after it); return its version."""
    stored = ledger.recorder.select_events(originator_id)
    last = stored[-1]
    link, body = unseal(last.state)
    version = last.originator_version + 1
    forged = seal(compute_link(link, originator_id, version, last.topic, body), body)
    position = max(
        item.id
        for item in ledger.recorder.select_notifications(1, 10_000)
        if item.originator_id == originator_id
    )
    run(ledger, "UPDATE {events} SET {id} = {id} + %s WHERE {id} > %s", (SHIFT, position))
    run(ledger, "UPDATE {events} SET {id} = {id} - %s WHERE {id} > %s", (SHIFT - 1, SHIFT))
    run(
        ledger,
        "INSERT INTO {events} (originator_id, originator_version, topic, state, {id}) "
        "VALUES (%s, %s, %s, %s, %s)",
        (_key(ledger, originator_id), version, last.topic, forged, position + 1),
    )
    return version


def alter_checkpoint(ledger: LoanLedger, tree_size: int, root: str) -> None:
    with ledger.read_store.transaction() as txn:
        txn.execute(
            "UPDATE loanledger_checkpoints SET root = ? WHERE tree_size = ?", (root, tree_size)
        )
