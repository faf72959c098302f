"""B2 projection catch-up and rebuild: `ledger.rebuild()` vs raw reads, and eventsourcing's
`ProjectionRunner` catch-up on a subset (PostgreSQL)."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg import sql
from psycopg.sql import SQL, Identifier

from benchmarks.common import (
    PG_URL,
    Figure,
    Report,
    Store,
    Workspace,
    insert_stored,
    median,
    opened,
    profile,
    replicate,
    settle,
    timed,
)
from loanledger.application import system_clock
from loanledger.persistence.chain import LINK_LENGTH, ChainHeads
from loanledger.persistence.keys import DataKeys, load_keyring
from loanledger.persistence.mapper import LedgerMapper
from loanledger.persistence.read_store import PostgresReadStore
from loanledger.persistence.urls import StoreSettings

TARGET_RATE = 45_000.0
"""The engine with the loan index only."""
TARGET_FULL_RATE = 10_000.0
"""Every projection, single process, SQLite (issue 20: 45k events/s with every projection is a
parallel target now, in docs/scaling.md's sizing table from measured per-worker rates)."""
TARGET_RUNNER = 30.0
TARGET_RAW = 0.75
REBUILD_EVENTS = 100_000
RUNNER_EVENTS = 20_000
FULL_REBUILD_EVENTS = 5_000
"""Events for the rebuild with every projection: the bitemporal `loan_state` walks each loan's
money at each fact, so this is kept small enough for make bench's budget (B2r rebuilds the
demo's realistic books of 1,000 and 2,000 loans)."""


def build(space: Workspace, kind: str, source: Store, copies: int, loans: int) -> Store:
    """A new store holding `copies` renamed copies of `source`'s loans (see `replicate`), their
    personal data sealed for their own positions under the source's data keys."""
    store = space.store(kind)
    with opened(source) as original, opened(store) as ledger:
        copied = replicate(source.rows(), copies, loans, original.data_keys)
        insert_stored(ledger, copied, keys_from=source)
    settle(store)
    return store


def rebuild(store: Store, *, index_only: bool = False) -> float:
    """Seconds for `ledger.rebuild()`. With `index_only`, the engine keeps only the loan index
    (a light projection: what the engine itself costs); otherwise every projection, the
    bitemporal `loan_state` included (which walks each loan's money at every new fact)."""
    with opened(store) as ledger:
        if index_only:
            ledger.projections.projections = [ledger.loan_index]
        return timed(ledger.rebuild)


# --- raw reads ---------------------------------------------------------------------------------


def raw_read_sqlite(store: Store) -> tuple[float, float]:
    """(per-loan SELECT + json.loads seconds, sequential scan seconds)."""
    assert store.path is not None
    connection = sqlite3.connect(store.path)
    try:
        ids = [
            row[0]
            for row in connection.execute(f"SELECT DISTINCT originator_id FROM {store.events}")
        ]
        select = (
            f"SELECT originator_version, topic, state FROM {store.events} "
            "WHERE originator_id = ? ORDER BY originator_version"
        )

        def per_loan() -> None:
            for originator_id in ids:
                for _, _, state in connection.execute(select, (originator_id,)):
                    json.loads(state[LINK_LENGTH:])

        def scan() -> None:
            for _ in connection.execute(
                f"SELECT originator_id, originator_version, topic, state FROM {store.events}"
            ):
                pass

        return timed(per_loan), timed(scan)
    finally:
        connection.close()


def raw_read_postgres(store: Store) -> tuple[float, float]:
    assert store.schema is not None
    table = sql.Identifier(store.schema, "loanledger_events")
    with psycopg.connect(PG_URL) as connection:
        ids = [
            row[0]
            for row in connection.execute(
                sql.SQL("SELECT DISTINCT originator_id FROM {}").format(table)
            )
        ]
        select = sql.SQL(
            "SELECT originator_version, topic, state FROM {} "
            "WHERE originator_id = %s ORDER BY originator_version"
        ).format(table)

        def per_loan() -> None:
            with connection.cursor() as cursor:
                for originator_id in ids:
                    cursor.execute(select, (originator_id,), prepare=True)
                    for _, _, state in cursor.fetchall():
                        json.loads(state[LINK_LENGTH:])

        def scan() -> None:
            with connection.cursor(name="bench_scan") as cursor:
                cursor.itersize = 5000
                cursor.execute(
                    sql.SQL(
                        "SELECT originator_id, originator_version, topic, state FROM {}"
                    ).format(table)
                )
                for _ in cursor:
                    pass

        result = timed(per_loan), timed(scan)
        connection.rollback()
        return result


# --- eventsourcing's ProjectionRunner -------------------------------------------------------


class StoredLedger(Application[UUID]):
    """A plain eventsourcing application over the ledger's events table, with its mapper."""

    name = "LoanLedger"

    def construct_mapper(self) -> Mapper[UUID]:
        # The ledger's own decoding, personal data included: data keys from the store's key
        # table, unwrapped with the run's master key (benchmarks.run sets one).
        settings = StoreSettings("benchmark", "postgresql", dict(self.env))
        data_keys = DataKeys(
            load_keyring(None, None, os.environ, ephemeral=False), system_clock, "benchmark"
        )
        data_keys.attach(PostgresReadStore(settings), create_tables=False)
        return LedgerMapper(ChainHeads(), data_keys)


class CountingView(PostgresTrackingRecorder):
    """A trivial materialised view: events per topic, tracked in the same transaction."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        counts = Identifier(self.tracking_table_name.replace("_tracking", "_counts"))
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0}.{1} "
                "(topic text PRIMARY KEY, events bigint NOT NULL)"
            ).format(schema, counts)
        )
        self.upsert = SQL(
            "INSERT INTO {0}.{1} AS c VALUES (%s, 1) "
            "ON CONFLICT (topic) DO UPDATE SET events = c.events + 1"
        ).format(schema, counts)

    def count(self, topic: str, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self.upsert, (topic,), prepare=True)
            self._insert_tracking(cursor, tracking)


class CountingProjection(Projection[CountingView]):
    name = "BenchCount"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.count(type(domain_event).__name__, tracking)


def runner_catch_up(store: Store, run: int, last_id: int) -> float:
    """Seconds for a new ProjectionRunner to process every stored event."""
    with opened(store) as ledger:
        env = dict(ledger.settings.env)
    projection = type(f"BenchCount{run}", (CountingProjection,), {"name": f"BenchCount{run}"})

    def catch_up() -> None:
        with ProjectionRunner(
            application_class=StoredLedger,
            projection_class=projection,
            view_class=CountingView,
            env=env,
        ) as runner:
            runner.wait(last_id, timeout=900)

    return timed(catch_up)


def run(space: Workspace, base: dict[str, Store], *, quick: bool, runs: int, loans: int) -> Report:
    report = Report("B2", "projection catch-up and rebuild")
    base_rows = {kind: store.rows() for kind, store in base.items()}
    base_events = len(base_rows["postgresql"])
    copies = 3 if quick else max(1, REBUILD_EVENTS // base_events)
    subset_copies = 1 if quick else max(1, RUNNER_EVENTS // base_events)
    full_copies = 1 if quick else max(1, FULL_REBUILD_EVENTS // base_events)
    events = len(base_rows["postgresql"]) * copies
    report.size(
        f"engine rebuild (loan index only) and raw reads on {events} events ({copies} renamed "
        f"copies of the B1 book, hash chains recomputed; issue size not fixed); rebuild with "
        f"every projection on {base_events * full_copies} events; ProjectionRunner on "
        f"{base_events * subset_copies} events (issue: 20,000)"
    )
    for kind in ("sqlite", "postgresql"):
        small = build(space, kind, base[kind], full_copies, loans)
        small_total = small.count()
        full_times = [rebuild(small) for _ in range(runs)]
        full_rate = small_total / median(full_times)
        on_sqlite = kind == "sqlite"
        report.add(
            Figure(
                "B2",
                f"{kind} rebuild, every projection (loan_state included)",
                full_rate,
                "events/s",
                target=f">= {TARGET_FULL_RATE:,.0f} events/s" if on_sqlite else "",
                met=full_rate >= TARGET_FULL_RATE if on_sqlite else None,
                runs=full_times,
                note=f"{small_total} events",
            )
        )
        if on_sqlite and full_rate < TARGET_FULL_RATE:
            with opened(small) as ledger:
                report.profiles[f"{kind} rebuild, every projection ({small_total} events)"] = (
                    profile(ledger.rebuild)
                )
        space.drop(small)
        store = build(space, kind, base[kind], copies, loans)
        total = store.count()
        times = [rebuild(store, index_only=True) for _ in range(runs)]
        rate = total / median(times)
        report.add(
            Figure(
                "B2",
                f"{kind} rebuild, engine with the loan index only",
                rate,
                "events/s",
                target=f">= {TARGET_RATE:,.0f} events/s",
                met=rate >= TARGET_RATE,
                runs=times,
                note=f"{total} events",
            )
        )
        reads = [
            raw_read_sqlite(store) if kind == "sqlite" else raw_read_postgres(store)
            for _ in range(runs)
        ]
        raw_rate = total / median([r[0] for r in reads])
        scan_rate = total / median([r[1] for r in reads])
        report.add(
            Figure("B2", f"{kind} raw read (per loan SELECT + json.loads)", raw_rate, "events/s")
        )
        report.add(Figure("B2", f"{kind} raw sequential scan (no decoding)", scan_rate, "events/s"))
        on_pg = kind == "postgresql"
        report.add(
            Figure(
                "B2",
                f"{kind} rebuild (loan index only) / raw read",
                rate / raw_rate,
                "x",
                target=f">= {TARGET_RAW}x" if on_pg else "reported only (SQLite, DESIGN §11)",
                met=(rate / raw_rate >= TARGET_RAW) if on_pg else None,
            )
        )
        report.add(
            Figure(
                "B2", f"{kind} rebuild (loan index only) / sequential scan", rate / scan_rate, "x"
            )
        )
        if rate < TARGET_RATE or (on_pg and rate / raw_rate < TARGET_RAW):
            with opened(store) as ledger:
                ledger.projections.projections = [ledger.loan_index]
                report.profiles[f"{kind} rebuild, loan index only ({total} events)"] = profile(
                    ledger.rebuild
                )
        space.drop(store)

    subset = build(space, "postgresql", base["postgresql"], subset_copies, loans)
    total = subset.count()
    rebuild_rate = total / median([rebuild(subset, index_only=True) for _ in range(runs)])
    runner_times = [runner_catch_up(subset, number, total) for number in range(runs)]
    runner_rate = total / median(runner_times)
    report.add(
        Figure(
            "B2",
            "postgresql ProjectionRunner catch-up",
            runner_rate,
            "events/s",
            runs=runner_times,
            note=f"{total} events",
        )
    )
    report.add(
        Figure("B2", "postgresql rebuild, loan index only (same subset)", rebuild_rate, "events/s")
    )
    ratio = rebuild_rate / runner_rate
    report.add(
        Figure(
            "B2",
            "postgresql rebuild (loan index only) / ProjectionRunner",
            ratio,
            "x",
            target=f">= {TARGET_RUNNER:.0f}x",
            met=ratio >= TARGET_RUNNER,
        )
    )
    space.drop(subset)
    return report
