"""Fuzzing the stored columns themselves (values and, on SQLite, types): whatever a row holds,
`verify()` reports a break with a reason and never raises (DESIGN §5), on SQLite and PostgreSQL.

One book per store, with a checkpoint; each example rewrites one column of one stored event
behind the ledger's back, verifies, and puts the original value back.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from loanledger import LoanLedger
from tests.journal import disburse, pre_loan, repay

HUGE = b"{" * 3_000_000


def _book(url: str) -> LoanLedger:
    ledger = LoanLedger.open(url)
    for loan_id in ("L-0001", "L-0002"):
        for command in pre_loan(loan_id):
            ledger.execute(command)
        ledger.execute(disburse(loan_id, "2024-01-15", "12000.00"))
    ledger.execute(repay("L-0001", "2024-02-15", "1032.80", "R-1"))
    ledger.checkpoint()
    return ledger


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def book(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LoanLedger]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/ledger.db"
    else:
        url = f"{request.getfixturevalue('postgres_url')}?schema=f_{uuid.uuid4().hex[:12]}"
    ledger = _book(url)
    assert ledger.verify().ok
    yield ledger
    ledger.close()


def _rows(ledger: LoanLedger) -> list[tuple[Any, ...]]:
    return [
        (n.id, n.originator_id, n.originator_version, n.topic, n.state)
        for n in ledger.recorder.select_notifications(1, 100)
    ]


def _set(ledger: LoanLedger, column: str, value: Any, notification_id: int) -> None:
    table = ledger.recorder.events_table_name  # type: ignore[attr-defined]
    if ledger.settings.kind == "sqlite":
        with sqlite3.connect(Path(ledger.settings.env["SQLITE_DBNAME"])) as connection:
            connection.execute(
                f"UPDATE {table} SET {column}=? WHERE rowid=?", (value, notification_id)
            )
        return
    import psycopg
    from psycopg import sql

    env = ledger.settings.env
    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        autocommit=True,
    ) as connection:
        connection.execute(
            sql.SQL("UPDATE {} SET {} = %s WHERE notification_id = %s").format(
                sql.Identifier(env.get("POSTGRES_SCHEMA", "public"), table), sql.Identifier(column)
            ),
            (value, notification_id),
        )


ANY_SQLITE_VALUE = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=80),
    st.binary(max_size=200),
    st.just(HUGE),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_value_of_any_stored_column_is_a_break_never_a_crash(
    book: LoanLedger, data: st.DataObject
) -> None:
    rows = _rows(book)
    row = data.draw(st.sampled_from(rows))
    notification_id, originator_id, version, topic, state = row
    sqlite = book.settings.kind == "sqlite"
    column = data.draw(st.sampled_from(["state", "topic", "originator_version", "originator_id"]))
    original: Any = {
        "state": state,
        "topic": topic,
        "originator_version": version,
        "originator_id": originator_id.hex if sqlite else originator_id,
    }[column]
    if sqlite:
        derived = st.sampled_from(
            [state.decode("utf-8"), state[: len(state) // 2], state[:64], state + b" "]
        )
        value = data.draw(
            st.one_of(ANY_SQLITE_VALUE, derived) if column == "state" else ANY_SQLITE_VALUE
        )
        if column == "originator_id" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                assume(uuid.UUID(value) != originator_id)
    elif column == "state":
        value = data.draw(
            st.one_of(
                st.none(),
                st.binary(max_size=200),
                st.just(HUGE),
                st.just(state[:-1]),
                st.just(state.replace(b"{", b"[", 1)),
            )
        )
    elif column == "topic":
        value = data.draw(
            st.one_of(st.none(), st.text(max_size=40).map(lambda t: t.replace("\x00", "")))
        )
    elif column == "originator_version":
        value = data.draw(st.integers(1000, 2**62))
    else:
        value = data.draw(st.uuids())
    assume(not (type(value) is type(original) and value == original))
    _set(book, column, value, notification_id)
    try:
        result = book.verify()
    finally:
        _set(book, column, original, notification_id)

    assert result.ok is False
    assert result.first_break is not None
    assert result.first_break.reason
    assert book.verify().ok
