"""A SQLite read store's transaction opened inside another of the same thread is a savepoint of
it (as psycopg nests transactions on one connection): it commits with the outer one, and either
rolling back undoes what it should and nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loanledger.persistence.read_store import SQLiteReadStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteReadStore]:
    store = SQLiteReadStore(str(tmp_path / "read.db"))
    with store.transaction() as txn:
        txn.execute("CREATE TABLE t (x INTEGER)")
    yield store
    store.close()


def rows(store: SQLiteReadStore) -> list[int]:
    return [int(row[0]) for row in store.query("SELECT x FROM t ORDER BY x")]


def test_an_inner_transaction_commits_with_the_outer_one(store: SQLiteReadStore) -> None:
    with store.transaction() as outer:
        outer.execute("INSERT INTO t VALUES (1)")
        with store.transaction() as inner:
            inner.execute("INSERT INTO t VALUES (2)")
        outer.execute("INSERT INTO t VALUES (3)")
    assert rows(store) == [1, 2, 3]


def test_an_inner_rollback_undoes_the_inner_writes_alone(store: SQLiteReadStore) -> None:
    with store.transaction() as outer:
        outer.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ValueError, match=r"^inner$"), store.transaction() as inner:
            inner.execute("INSERT INTO t VALUES (2)")
            raise ValueError("inner")
        outer.execute("INSERT INTO t VALUES (3)")
    assert rows(store) == [1, 3]
    with store.transaction() as again:  # nothing is left open
        again.execute("INSERT INTO t VALUES (4)")
    assert rows(store) == [1, 3, 4]


def test_an_outer_rollback_undoes_the_inner_writes_too(store: SQLiteReadStore) -> None:
    with pytest.raises(ValueError, match=r"^outer$"), store.transaction() as outer:
        outer.execute("INSERT INTO t VALUES (1)")
        with store.transaction() as inner:
            inner.execute("INSERT INTO t VALUES (2)")
        raise ValueError("outer")
    assert rows(store) == []
