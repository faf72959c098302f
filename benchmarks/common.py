"""Shared helpers: the machine, timing, stores, row copies, profiles and result records."""

from __future__ import annotations

import cProfile
import gc
import io
import json
import os
import platform
import pstats
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from loanledger import LoanLedger
from loanledger.persistence.chain import GENESIS_LINK, compute_link, seal, unseal
from loanledger.persistence.ids import loan_uuid
from loanledger.persistence.keys import DataKeys
from loanledger.persistence.mapper import dump_state
from loanledger.persistence.personal_data import PERSONAL_FIELDS, open_state, seal_state
from loanledger.persistence.sql import statements

PG_URL = os.environ.get("LOANLEDGER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
EVENTS_TABLE = "loanledger_events"
SQLITE_EVENTS_TABLE = "stored_events"


# --- the machine -----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """nproc, CPU model, Python, SQLite and PostgreSQL versions, load average, and the date."""
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        with psycopg.connect(PG_URL, connect_timeout=5) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            postgres = str(row[0]) if row else "unknown"
    except psycopg.OperationalError as error:
        postgres = f"unreachable ({error})"
    from importlib.metadata import version

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "cpu": cpu,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres,
        "eventsourcing": version("eventsourcing"),
        "platform": platform.platform(),
        "loadavg": load_average(),
    }


def load_average() -> str:
    """The 1/5/15-minute load averages (other work on the machine skews the figures)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --- timing ----------------------------------------------------------------------------------


def timed(action: Callable[[], Any], *, collect: bool = False) -> float:
    """Seconds `action` takes. With `collect`, the garbage of earlier steps (a previous run's
    ledger, a book's preparation) is collected first, so that a full collection of the heap that
    they would trigger does not land at random inside `action` (B3: 1.2-5.9x from run to run
    without). Not the default: a collection just before the clock starts leaves the CPU caches
    cold, which a sub-millisecond action (B4's raw read: 0.2 -> 0.6 ms) pays for."""
    if collect:
        gc.collect()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# --- results ---------------------------------------------------------------------------------


@dataclass
class Figure:
    """One reported figure, with its target when it has one."""

    bench: str
    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""
    runs: list[float] = field(default_factory=list)

    def line(self) -> str:
        verdict = "" if self.met is None else ("  MET" if self.met else "  NOT MET")
        target = f"  (target {self.target})" if self.target else ""
        return f"[{self.bench}] {self.name}: {fmt(self.value)} {self.unit}{target}{verdict}"


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


@dataclass
class Report:
    """What one benchmark found: figures, sizes used, and profiles of the missed targets."""

    bench: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(figure.line(), flush=True)
        return figure

    def size(self, text: str) -> None:
        self.sizes.append(text)
        print(f"[{self.bench}] size: {text}", flush=True)


@dataclass
class Settings:
    profile: bool = True
    """Profile the missed targets (off in --quick runs, which only smoke-test the suite)."""


SETTINGS = Settings()


def profile(action: Callable[[], Any], lines: int = 10) -> str:
    """The top `lines` entries of a cProfile of `action`, by own time."""
    if not SETTINGS.profile:
        return "(not profiled in --quick runs)"
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        action()
    finally:
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(lines)
    text = out.getvalue()
    start = text.find("   ncalls")
    body = text[start:] if start >= 0 else text
    total = re.search(r"([\d,]+ function calls.*? in [\d.]+ seconds)", text)
    head = total.group(1) if total else ""
    site = str(Path(__file__).resolve().parents[1])
    body = re.sub(r"/[^ ]*/site-packages/", "", body)
    body = re.sub(r"/[^ ]*/lib/python3\.\d+/", "", body)
    body = body.replace(site + "/", "")
    return (head + "\n" + body).rstrip()


# --- stores ----------------------------------------------------------------------------------


@dataclass
class Store:
    """A ledger store made for a benchmark: its URL, kind and how to reach its rows raw."""

    kind: str  # "sqlite" or "postgresql"
    url: str
    path: Path | None = None  # SQLite file
    schema: str | None = None  # PostgreSQL schema

    def open(self) -> LoanLedger:
        return open_ledger(self.url)

    @property
    def events(self) -> str:
        """The qualified events table name."""
        if self.kind == "sqlite":
            return SQLITE_EVENTS_TABLE
        return f"{self.schema}.{EVENTS_TABLE}"

    def rows(self) -> list[tuple[UUID, int, str, bytes]]:
        """The stored rows in notification order: (originator_id, version, topic, state)."""
        if self.kind == "sqlite":
            assert self.path is not None
            with sqlite3.connect(self.path) as connection:
                result = connection.execute(
                    f"SELECT originator_id, originator_version, topic, state FROM {self.events} "
                    "ORDER BY rowid"
                ).fetchall()
            return [(UUID(row[0]), int(row[1]), str(row[2]), bytes(row[3])) for row in result]
        with psycopg.connect(PG_URL) as connection:
            result = connection.execute(
                sql.SQL(
                    "SELECT originator_id, originator_version, topic, state FROM {} "
                    "ORDER BY notification_id"
                ).format(sql.Identifier(self.schema or "public", EVENTS_TABLE))
            ).fetchall()
        return [(row[0], int(row[1]), str(row[2]), bytes(row[3])) for row in result]

    def data_keys(self) -> list[tuple[str, str, str, str, str]]:
        """The personal-data key rows (subject, data_key_id, master_key_id, wrapped,
        created_at), for copies of this store's loans (`replicate`)."""
        statement = (
            "SELECT subject, data_key_id, master_key_id, wrapped, created_at "
            "FROM loanledger_data_keys ORDER BY subject"
        )
        if self.kind == "sqlite":
            assert self.path is not None
            with sqlite3.connect(self.path) as connection:
                rows = connection.execute(statement).fetchall()
        else:
            with psycopg.connect(PG_URL) as connection:
                connection.execute(
                    sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema or "public"))
                )
                rows = connection.execute(statement).fetchall()
        return [(str(a), str(b), str(c), str(d), str(e)) for a, b, c, d, e in rows]

    def count(self) -> int:
        if self.kind == "sqlite":
            assert self.path is not None
            with sqlite3.connect(self.path) as connection:
                return int(connection.execute(f"SELECT COUNT(*) FROM {self.events}").fetchone()[0])
        with psycopg.connect(PG_URL) as connection:
            row = connection.execute(
                sql.SQL("SELECT COUNT(*) FROM {}").format(
                    sql.Identifier(self.schema or "public", EVENTS_TABLE)
                )
            ).fetchone()
            return int(row[0]) if row else 0


class Workspace:
    """Temporary SQLite files and PostgreSQL schemas, all removed at the end."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="loanledger-bench-"))
        self.schemas: list[str] = []

    def sqlite(self, name: str | None = None) -> Store:
        path = self.dir / f"{name or uuid.uuid4().hex[:10]}.db"
        return Store("sqlite", f"sqlite:///{path}", path=path)

    def postgres(self) -> Store:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        self.schemas.append(schema)
        return Store("postgresql", f"{PG_URL}?schema={schema}", schema=schema)

    def store(self, kind: str) -> Store:
        return self.sqlite() if kind == "sqlite" else self.postgres()

    def drop(self, store: Store) -> None:
        if store.schema:
            drop_schema(store.schema)
            if store.schema in self.schemas:
                self.schemas.remove(store.schema)
        elif store.path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(store.path) + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        for schema in list(self.schemas):
            drop_schema(schema)
        self.schemas.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


def settle(store: Store) -> None:
    """`VACUUM ANALYZE` a PostgreSQL store's events table after a bulk insert, as a DBA would.
    A table just filled has no statistics and no hint bits: the first reader of each row pays to
    set them, and autovacuum's ANALYZE starts meanwhile on one of the two cores. Whichever reader
    ran first (the engine, before the raw read and the ProjectionRunner) was charged for it:
    the engine's rebuild of a freshly built B2 subset measured 34k events/s, and 75-80k once
    settled. Every reader of a benchmark now meets the same settled table. SQLite: nothing."""
    if store.schema is None:
        return
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(
            sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(store.schema, "loanledger_events"))
        )


def drop_schema(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


@contextmanager
def workspace() -> Iterator[Workspace]:
    space = Workspace()
    try:
        yield space
    finally:
        space.close()


RECORDING_EPOCH = datetime(2060, 1, 1, tzinfo=UTC)
"""When the benchmarks' books are recorded, as the ledger's clock tells it. Their facts run
decades ahead of today (B4's 30-year loan repays monthly until 2054), which the future horizon
(a fact dated more than 366 days after it is recorded is a typo, refused) would refuse if they
were recorded now; recorded as if after the last business date, every fact is in the past, as
in a bank's migration of a book it has run for years. The clock still advances in real time."""

_STARTED = time.monotonic()


def recording_clock() -> datetime:
    return RECORDING_EPOCH + timedelta(seconds=time.monotonic() - _STARTED)


def open_ledger(url: str) -> LoanLedger:
    """A ledger on `url` recording with the benchmarks' clock (`RECORDING_EPOCH`)."""
    return LoanLedger.open(url, clock=recording_clock)


@contextmanager
def opened(store: Store) -> Iterator[LoanLedger]:
    ledger = store.open()
    try:
        yield ledger
    finally:
        ledger.close()


# --- copies of a stored book -----------------------------------------------------------------

_LOAN_ID = re.compile(rb"L-(\d{7})")


def replicate(
    rows: Sequence[tuple[UUID, int, str, bytes]],
    copies: int,
    loans: int,
    keys: DataKeys | None = None,
    *,
    interleave: bool = False,
) -> Iterator[StoredEvent]:
    """`copies` copies of a stored book of `loans` loans numbered L-0000001..: copy k renames
    loan L-n to L-(n + k*loans) in every body (same byte length), moves it to that loan's
    aggregate id and recomputes its hash chain, so the copy is exactly what loading the renamed
    journal would have stored (same sizes, same topics, valid chains). Copy 0 is the original.
    Copies come one after the other, or with `interleave` event by event (each source event
    followed by its copies), as a book whose loans had the same lives side by side would
    have recorded them.

    Personal data is sealed with the event's position and the person (the journal's borrower
    ids name the loan, so they are renamed too), so with `keys` (the source ledger's data keys)
    each copy's envelopes are opened and sealed again for the copy's aggregate id and person,
    whose new key is created in the source's key table (same sizes: the plaintext has the same
    length). Copy the source's key rows after the events (`insert_stored(..., keys_from=)`) and
    the copy opens its names as loading it would. Without `keys` its names read as erased."""
    heads: dict[UUID, str] = {}
    if interleave:
        for row in rows:
            yield from _copies(row, range(copies), loans, keys, heads)
    else:
        for copy in range(copies):
            for row in rows:
                yield from _copies(row, [copy], loans, keys, heads)


def _copies(
    row: tuple[UUID, int, str, bytes],
    numbers: Sequence[int],
    loans: int,
    keys: DataKeys | None,
    heads: dict[UUID, str],
) -> Iterator[StoredEvent]:
    """The copies `numbers` of one stored event (see `replicate`)."""
    source_id, version, topic, state = row
    _, body = unseal(state)
    personal = keys is not None and topic in PERSONAL_FIELDS
    opened_state: dict[str, Any] = {}
    if personal:
        assert keys is not None
        # Open under the source's position once; the renamed persons' keys are made in one
        # transaction for all the copies (one durable write per person is what made a
        # 100,000-loan copy slow).
        opened_state = json.loads(body)
        open_state(opened_state, topic, source_id, version, keys)
        plain = dump_state(opened_state)
        spec = PERSONAL_FIELDS[topic]
        keys.ensure(
            spec.subject(json.loads(_renamed(plain, number * loans)))
            for number in numbers
            if number
        )
    for number in numbers:
        offset = number * loans
        new_body = _renamed(body, offset) if offset else body
        match = _LOAN_ID.search(new_body)
        assert match is not None, "every stored body names its loan"
        originator = loan_uuid(match.group(0).decode("ascii"))
        if offset and personal:
            assert keys is not None
            # Rename in the plain state (the borrower id names the loan), seal for the copy's
            # position under the renamed person's key.
            renamed = json.loads(_renamed(plain, offset))
            seal_state(renamed, topic, originator, version, keys)
            new_body = dump_state(renamed)
        previous = heads.get(originator, GENESIS_LINK) if version > 1 else GENESIS_LINK
        link = compute_link(previous, originator, version, topic, new_body)
        heads[originator] = link
        yield StoredEvent(
            originator_id=originator,
            originator_version=version,
            topic=topic,
            state=seal(link, new_body),
        )


def _renamed(body: bytes, offset: int) -> bytes:
    """`body` with every loan id L-n renamed L-(n + offset)."""
    return _LOAN_ID.sub(lambda match: b"L-%07d" % (int(match.group(1)) + offset), body)


def insert_stored(
    ledger: LoanLedger,
    events: Iterator[StoredEvent],
    batch: int = 2000,
    *,
    keys_from: Store | None = None,
) -> int:
    """Insert stored events through the ledger's own recorder, `batch` per transaction; then
    the data key rows of `keys_from` (read after the events, so that keys `replicate` created
    for them are included)."""
    total = 0
    pending: list[StoredEvent] = []
    for event in events:
        pending.append(event)
        if len(pending) >= batch:
            ledger.recorder.insert_events(pending)
            total += len(pending)
            pending = []
    if pending:
        ledger.recorder.insert_events(pending)
        total += len(pending)
    if keys_from is not None:
        statement = statements("personal_data", ledger.read_store.dialect)["insert_key"]
        with ledger.read_store.transaction() as txn:
            txn.executemany(statement, list(keys_from.data_keys()))
    return total
