"""B1 bulk import: `LoanLedger.load` of a generated journal vs raw inserts of the same rows."""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from benchmarks.common import (
    PG_URL,
    Figure,
    Report,
    Store,
    Workspace,
    median,
    opened,
    profile,
    timed,
)
from benchmarks.journal import generate

TARGET_RATIO = 0.1
"""Single-process load vs raw executemany (issue 20: per-line domain work cannot reach half a raw
insert on one core; 0.25x with 2 workers is B1p, benchmarks/bp_scale.py)."""
B1_LOANS = 500
B1_LOANS_QUICK = 30


def _load(store: Store, journal: Path) -> None:
    with opened(store) as ledger:
        ledger.load(journal)


def raw_sqlite(path: Path, rows: list[tuple[Any, ...]]) -> float:
    """sqlite3 executemany of the rows into a table with the events table's primary key."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("DROP TABLE IF EXISTS bench_raw_events")
        connection.execute(
            "CREATE TABLE bench_raw_events (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        text_rows = [(str(a), b, c, d) for a, b, c, d in rows]

        def insert() -> None:
            connection.execute("BEGIN")
            connection.executemany("INSERT INTO bench_raw_events VALUES (?,?,?,?)", text_rows)
            connection.execute("COMMIT")

        return timed(insert)
    finally:
        connection.execute("DROP TABLE IF EXISTS bench_raw_events")
        connection.close()


def _pg_table(connection: psycopg.Connection[Any], schema: str) -> sql.Composed:
    table = sql.Identifier(schema, "bench_raw_events")
    connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
    connection.execute(
        sql.SQL(
            "CREATE TABLE {} (originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
            "topic text, state bytea, notification_id bigserial NOT NULL, "
            "PRIMARY KEY (originator_id, originator_version))"
        ).format(table)
    )
    connection.execute(sql.SQL("CREATE UNIQUE INDEX ON {} (notification_id)").format(table))
    connection.commit()
    return sql.SQL("{}").format(table)


def raw_postgres(schema: str, rows: list[tuple[Any, ...]], *, copy: bool) -> float:
    """psycopg executemany (or COPY) of the rows, one transaction, same primary key."""
    with psycopg.connect(PG_URL) as connection:
        table = _pg_table(connection, schema)

        def insert() -> None:
            with connection.cursor() as cursor:
                if copy:
                    statement = sql.SQL(
                        "COPY {} (originator_id, originator_version, topic, state) FROM STDIN"
                    ).format(table)
                    with cursor.copy(statement) as out:
                        for row in rows:
                            out.write_row(row)
                else:
                    cursor.executemany(
                        sql.SQL(
                            "INSERT INTO {} (originator_id, originator_version, topic, state) "
                            "VALUES (%s, %s, %s, %s)"
                        ).format(table),
                        rows,
                    )
            connection.commit()

        elapsed = timed(insert)
        connection.execute(sql.SQL("DROP TABLE {}").format(table))
        connection.commit()
        return elapsed


def run(space: Workspace, *, quick: bool, runs: int) -> tuple[Report, dict[str, Store]]:
    """Returns the report and, per store kind, the last loaded store (kept for B2)."""
    loans = B1_LOANS_QUICK if quick else B1_LOANS
    report = Report("B1", "bulk import (LoanLedger.load)")
    book = generate(loans)
    journal = book.write(space.dir / "b1-journal.jsonl")
    report.size(
        f"{loans} loans, {len(book.commands)} journal lines (issue: N loans, ~10 events each; "
        "size chosen so that 3 loads per store fit the 15-minute budget)"
    )
    kept: dict[str, Store] = {}
    for kind in ("sqlite", "postgresql"):
        load_times: list[float] = []
        store: Store | None = None
        for attempt in range(runs):
            if store is not None:
                space.drop(store)
            store = space.store(kind)
            load_times.append(timed(partial(_load, store, journal)))
            del attempt
        assert store is not None
        kept[kind] = store
        rows = store.rows()
        events = len(rows)
        ledger_rate = events / median(load_times)
        report.add(
            Figure(
                "B1",
                f"{kind} load",
                ledger_rate,
                "events/s",
                runs=load_times,
                note=f"{events} events",
            )
        )
        baselines: list[tuple[str, list[float]]] = []
        if kind == "sqlite":
            assert store.path is not None
            path = store.path
            baselines.append(("sqlite3 executemany", [raw_sqlite(path, rows) for _ in range(runs)]))
        else:
            assert store.schema is not None
            schema = store.schema
            baselines.append(
                (
                    "psycopg executemany",
                    [raw_postgres(schema, rows, copy=False) for _ in range(runs)],
                )
            )
            baselines.append(
                ("psycopg COPY", [raw_postgres(schema, rows, copy=True) for _ in range(runs)])
            )
        for name, times in baselines:
            raw_rate = events / median(times)
            report.add(Figure("B1", f"{kind} raw {name}", raw_rate, "events/s", runs=times))
            ratio = ledger_rate / raw_rate
            met = ratio >= TARGET_RATIO if "COPY" not in name else None
            report.add(
                Figure(
                    "B1",
                    f"{kind} load / raw {name}",
                    ratio,
                    "x",
                    target=f">= {TARGET_RATIO}x" if met is not None else "ceiling, no target",
                    met=met,
                )
            )
        if any(f.met is False for f in report.figures if f.name.startswith(kind)):
            sample = generate(min(loans, 100), seed=11)
            small = sample.write(space.dir / f"b1-profile-{kind}.jsonl")
            target = space.store(kind)
            report.profiles[f"{kind} load ({sample.loans} loans)"] = profile(
                partial(_load, target, small)
            )
            space.drop(target)
    return report, kept
