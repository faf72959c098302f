"""The PostgreSQL migrations and their runner (`loanledger.persistence.migrate`).

Each test migrates its own fresh schema (`?schema=m_<random>`) in the session's database. The
roles the migrations create are cluster-wide and deliberately outlive the tests (a later run, or
another database on the same server, reuses them); the LOGIN roles the tests create to exercise
them are dropped again.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment
from psycopg import sql

from loanledger import LoanLedger
from loanledger.domain.errors import DomainError, MigrationError
from loanledger.persistence.migrate import (
    MIGRATION_LOCK_KEY,
    checksum,
    load_migrations,
    migrate,
)
from loanledger.persistence.urls import parse_store_url
from loanledger.proof import check_inclusion
from tests.journal import disburse, pre_loan, repay

pytestmark = pytest.mark.postgres

NAMES = [
    "0001_event_store.sql",
    "0002_read_models.sql",
    "0003_immutable_events.sql",
    "0004_roles.sql",
    "0005_personal_data.sql",
    "0006_loan_state.sql",
    "0007_notices.sql",
    "0008_snapshots.sql",
    "0009_loan_state_current_index.sql",
    "0010_transparency.sql",
    "0011_auditor.sql",
    "0012_citus.sql",
]
NEXT = len(NAMES) + 1
"""The version of a migration the library does not ship (yet)."""
READ_MODELS = (
    "loanledger_tracking",
    "loanledger_loan_index",
    "loanledger_closed_days",
    "loanledger_loan_state",
    "loanledger_loan_state_cover",
    "loanledger_loan_state_horizon",
    "loanledger_notices",
    "loanledger_notice_receipts",
    "loanledger_snapshots",
)
PERSONAL_DATA = ("loanledger_data_keys", "loanledger_personal_data_log")
TRANSPARENCY = ("loanledger_merkle_leaves", "loanledger_merkle_nodes", "loanledger_checkpoints")
TABLES = ("loanledger_events", *READ_MODELS, *PERSONAL_DATA, *TRANSPARENCY)


def _schema_url(postgres_url: str) -> tuple[str, str]:
    schema = f"m_{uuid.uuid4().hex[:12]}"
    return schema, f"{postgres_url}?schema={schema}"


@pytest.fixture
def schema_url(postgres_url: str) -> tuple[str, str]:
    """A fresh schema name and the store URL that targets it."""
    return _schema_url(postgres_url)


@pytest.fixture
def admin(postgres_url: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """An autocommit superuser connection to the session's database."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        yield connection


def _clock() -> Callable[[], datetime]:
    state = {"now": datetime(2024, 1, 1, 9, 0, tzinfo=UTC)}

    def tick() -> datetime:
        state["now"] += timedelta(seconds=1)
        return state["now"]

    return tick


JOURNAL = [
    *pre_loan("L-0001"),
    disburse("L-0001", "2024-01-15", "12000.00"),
    repay("L-0001", "2024-02-15", "1032.80", "BANK-1"),
]


def _run_journal(url: str) -> dict[str, Any]:
    ledger = LoanLedger.open(url, clock=_clock())
    try:
        for command in JOURNAL:
            ledger.execute(command)
        return ledger.loan("L-0001", as_of="2024-03-01")
    finally:
        ledger.close()


def _count_events(admin: psycopg.Connection[tuple[Any, ...]], schema: str) -> int:
    row = admin.execute(
        sql.SQL("SELECT count(*) FROM {}.loanledger_events").format(sql.Identifier(schema))
    ).fetchone()
    assert row is not None
    return int(row[0])


# --- applying -----------------------------------------------------------------------------------


def test_migrations_apply_in_order_to_an_empty_schema_and_are_recorded(
    schema_url: tuple[str, str], admin: psycopg.Connection[tuple[Any, ...]]
) -> None:
    schema, url = schema_url

    assert migrate(url) == NAMES

    rows = admin.execute(
        sql.SQL("SELECT version, name, checksum FROM {}.loanledger_migrations ORDER BY 1").format(
            sql.Identifier(schema)
        )
    ).fetchall()
    assert rows == [(m.version, m.name, m.checksum) for m in load_migrations()]
    assert [row[0] for row in rows] == list(range(1, NEXT))
    described = _describe(admin, schema)
    assert set(described["tables"]) == {*TABLES, "loanledger_migrations"}
    assert described["triggers"] == [
        ("loanledger_events_refuse_truncate", "BEFORE", "STATEMENT", "TRUNCATE"),
        ("loanledger_events_refuse_update_delete", "BEFORE", "STATEMENT", "DELETE"),
        ("loanledger_events_refuse_update_delete", "BEFORE", "STATEMENT", "UPDATE"),
    ]
    # Nothing leaked into public: the files name no schema, search_path chose it.
    leaked = admin.execute(
        "SELECT count(*) FROM pg_tables"
        " WHERE schemaname = 'public' AND tablename LIKE 'loanledger%'"
    ).fetchone()
    assert leaked == (0,)


def test_applying_twice_applies_nothing(schema_url: tuple[str, str]) -> None:
    _, url = schema_url
    assert migrate(url) == NAMES

    assert migrate(url) == []


def test_concurrent_migrators_apply_each_migration_once(
    schema_url: tuple[str, str], admin: psycopg.Connection[tuple[Any, ...]]
) -> None:
    schema, url = schema_url
    start = threading.Barrier(4)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            results.append(migrate(url))
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(results, key=len) == [[], [], [], NAMES]
    count = admin.execute(
        sql.SQL("SELECT count(*) FROM {}.loanledger_migrations").format(sql.Identifier(schema))
    ).fetchone()
    assert count == (len(NAMES),)


def test_the_lock_is_the_one_the_ledger_holds_while_creating_tables() -> None:
    from loanledger.application import SCHEMA_LOCK_KEY

    assert MIGRATION_LOCK_KEY == SCHEMA_LOCK_KEY


def test_sqlite_and_memory_stores_have_nothing_to_migrate(tmp_path: Path) -> None:
    assert migrate("memory://") == []
    assert migrate(f"sqlite:///{tmp_path}/books.db") == []
    assert not (tmp_path / "books.db").exists()  # not even opened


# --- refusals -----------------------------------------------------------------------------------


def _copy_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for migration in load_migrations():
        (folder / migration.name).write_text(migration.sql, encoding="utf-8")
    return folder


def test_a_changed_applied_migration_is_refused_and_nothing_is_applied(
    schema_url: tuple[str, str], admin: psycopg.Connection[tuple[Any, ...]], tmp_path: Path
) -> None:
    schema, url = schema_url
    folder = _copy_migrations(tmp_path)
    assert migrate(url, directory=folder) == NAMES
    changed = folder / "0002_read_models.sql"
    before = checksum(changed.read_text(encoding="utf-8"))
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\nCREATE TABLE sneaky (id int);\n",
        encoding="utf-8",
    )
    after = checksum(changed.read_text(encoding="utf-8"))
    (folder / f"{NEXT:04d}_more.sql").write_text("CREATE TABLE more (id int);\n", encoding="utf-8")

    with pytest.raises(MigrationError) as refused:
        migrate(url, directory=folder)

    assert str(refused.value) == (
        f"migration 0002_read_models.sql was applied with checksum {before} but the file now "
        f"has checksum {after}: an applied migration must never change; restore it and put the "
        "change in a new migration"
    )
    assert isinstance(refused.value, DomainError)
    tables = _describe(admin, schema)["tables"]
    assert "more" not in tables and "sneaky" not in tables  # refused before applying anything


def test_crlf_line_endings_do_not_count_as_a_change(
    schema_url: tuple[str, str], tmp_path: Path
) -> None:
    _, url = schema_url
    folder = _copy_migrations(tmp_path)
    assert migrate(url, directory=folder) == NAMES
    for path in folder.glob("*.sql"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))

    assert migrate(url, directory=folder) == []


def test_a_database_newer_than_the_library_is_refused(
    schema_url: tuple[str, str], tmp_path: Path
) -> None:
    _, url = schema_url
    folder = _copy_migrations(tmp_path)
    newer = f"{NEXT:04d}_newer.sql"
    (folder / newer).write_text("SELECT 1;\n", encoding="utf-8")
    assert migrate(url, directory=folder)[-1] == newer

    with pytest.raises(MigrationError) as refused:
        migrate(url)  # the shipped set stops before NEXT

    assert str(refused.value).endswith(
        f"has migration {newer} (version {NEXT}) applied, which this version of loanledger "
        "does not ship: upgrade loanledger"
    )


def test_a_migration_older_than_the_newest_applied_is_refused(
    schema_url: tuple[str, str], tmp_path: Path
) -> None:
    _, url = schema_url
    folder = _copy_migrations(tmp_path)
    extra = f"{NEXT + 2:04d}_extra.sql"
    (folder / extra).write_text("SELECT 1;\n", encoding="utf-8")
    assert migrate(url, directory=folder)[-1] == extra
    (folder / f"{NEXT:04d}_late.sql").write_text("SELECT 1;\n", encoding="utf-8")

    with pytest.raises(
        MigrationError, match=rf"^migration\(s\) {NEXT:04d}_late.sql are older than"
    ):
        migrate(url, directory=folder)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["1_x.sql"], "migration file '1_x.sql' is not named NNNN_lower_case_name.sql"),
        (
            ["0001_a.sql", "0001_b.sql"],
            "migrations 0001_a.sql and 0001_b.sql have the same version",
        ),
    ],
)
def test_badly_named_migration_files_are_refused(
    tmp_path: Path, files: list[str], message: str
) -> None:
    for name in files:
        (tmp_path / name).write_text("SELECT 1;\n", encoding="utf-8")

    with pytest.raises(MigrationError) as refused:
        load_migrations(tmp_path)

    assert str(refused.value) == message


# --- the ledger on a DBA-managed schema ---------------------------------------------------------


def test_the_ledger_runs_on_the_migrated_schema_with_create_tables_false(
    schema_url: tuple[str, str], admin: psycopg.Connection[tuple[Any, ...]]
) -> None:
    schema, url = schema_url
    migrate(url)
    managed = f"{url}&create_tables=false"

    loan = _run_journal(managed)

    assert loan == _run_journal("memory://")  # same figures as any other store
    assert _count_events(admin, schema) == len(JOURNAL)
    reopened = LoanLedger.open(managed, clock=_clock())
    try:
        assert reopened.loan("L-0001", as_of="2024-03-01") == loan
        assert reopened.verify().ok
    finally:
        reopened.close()
    # CREATE_TABLE=n really reached eventsourcing: the function only its create_table() makes
    # is absent.
    functions = _describe(admin, schema)["functions"]
    assert functions == ["loanledger_distribute_events", "loanledger_events_refuse_change"]


def test_the_migrated_schema_matches_what_eventsourcing_and_the_ledger_create(
    postgres_url: str, admin: psycopg.Connection[tuple[Any, ...]]
) -> None:
    created_schema, created_url = _schema_url(postgres_url)
    LoanLedger.open(created_url).close()  # the library creates its own tables
    migrated_schema, migrated_url = _schema_url(postgres_url)
    migrate(migrated_url)

    created = _describe(admin, created_schema)
    migrated = _describe(admin, migrated_schema)

    for key in ("columns", "indexes", "constraints", "options", "types", "sequences"):
        assert migrated[key] == created[key], key
    assert set(created["tables"]) == set(TABLES)


def test_migrating_a_schema_the_ledger_created_keeps_its_events(
    schema_url: tuple[str, str], admin: psycopg.Connection[tuple[Any, ...]]
) -> None:
    schema, url = schema_url
    loan = _run_journal(url)  # tables created by the library, events recorded

    assert migrate(url) == NAMES  # every object is IF NOT EXISTS: adoption is a no-op for data

    assert _count_events(admin, schema) == len(JOURNAL)
    ledger = LoanLedger.open(f"{url}&create_tables=false", clock=_clock())
    try:
        assert ledger.loan("L-0001", as_of="2024-03-01") == loan
    finally:
        ledger.close()
    with pytest.raises(psycopg.errors.RaiseException):
        admin.execute(sql.SQL("DELETE FROM {}.loanledger_events").format(sql.Identifier(schema)))


# --- immutability and roles ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("UPDATE {}.loanledger_events SET state = NULL", "UPDATE"),
        ("UPDATE {}.loanledger_events SET topic = topic WHERE false", "UPDATE"),
        ("DELETE FROM {}.loanledger_events", "DELETE"),
        ("TRUNCATE {}.loanledger_events", "TRUNCATE"),
    ],
)
def test_the_trigger_refuses_edits_even_for_the_owner_and_superuser(
    schema_url: tuple[str, str],
    admin: psycopg.Connection[tuple[Any, ...]],
    statement: str,
    operation: str,
) -> None:
    schema, url = schema_url
    migrate(url)
    _run_journal(f"{url}&create_tables=false")
    owner = admin.execute(
        "SELECT tableowner FROM pg_tables WHERE schemaname = %s AND tablename = %s",
        (schema, "loanledger_events"),
    ).fetchone()
    me = admin.execute(
        "SELECT usename, usesuper FROM pg_user WHERE usename = current_user"
    ).fetchone()
    assert owner is not None and me == (owner[0], True)  # the table's owner, and a superuser

    with pytest.raises(psycopg.errors.RaiseException) as refused:
        admin.execute(sql.SQL(statement).format(sql.Identifier(schema)))

    assert refused.value.diag.message_primary == (
        f"loanledger_events is append-only: {operation} refused"
    )
    assert refused.value.diag.message_hint == (
        "Record a new, compensating event instead of editing recorded ones."
    )
    assert _count_events(admin, schema) == len(JOURNAL)


@pytest.fixture
def login_role(
    admin: psycopg.Connection[tuple[Any, ...]],
) -> Iterator[Callable[[str], tuple[str, str]]]:
    """Make LOGIN roles that are members of one group role; drop them afterwards."""
    made: list[str] = []

    def make(group: str) -> tuple[str, str]:
        name = f"loanledger_test_{uuid.uuid4().hex[:10]}"
        password = uuid.uuid4().hex
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(name), sql.Literal(password), sql.Identifier(group)
            )
        )
        made.append(name)
        return name, password

    try:
        yield make
    finally:
        for name in made:
            # Roles are cluster-wide: end its sessions so the DROP cannot fail on them.
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _as(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(user)}:{quote(password)}@{host}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def test_a_writer_cannot_update_or_delete_events_but_can_append_and_read(
    schema_url: tuple[str, str],
    postgres_url: str,
    admin: psycopg.Connection[tuple[Any, ...]],
    login_role: Callable[[str], tuple[str, str]],
) -> None:
    schema, url = schema_url
    migrate(url)
    _run_journal(f"{url}&create_tables=false")
    writer, password = login_role("loanledger_writer")
    events = sql.Identifier(schema, "loanledger_events")

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(writer)))
        for statement in (
            sql.SQL("UPDATE {} SET state = NULL").format(events),
            sql.SQL("DELETE FROM {}").format(events),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(statement)
        # TRUNCATE is granted only so eventsourcing may LOCK the table; the trigger refuses it.
        with pytest.raises(psycopg.errors.RaiseException, match="TRUNCATE refused"):
            connection.execute(sql.SQL("TRUNCATE {}").format(events))
        count = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(events)).fetchone()
        assert count == (len(JOURNAL),)
        for table in READ_MODELS:
            connection.execute(
                sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, table))
            ).fetchall()

    # Logged in as the writer, eventsourcing's own recorder (which takes LOCK TABLE ... IN
    # EXCLUSIVE MODE before inserting) appends to and reads the DBA-managed event store.
    settings = parse_store_url(_as(f"{url}&create_tables=false", writer, password))
    factory = InfrastructureFactory.construct(Environment("LoanLedger", dict(settings.env)))
    try:
        recorder = factory.application_recorder()
        stored = StoredEvent(
            originator_id=uuid.uuid4(), originator_version=1, topic="test:Event", state=b"{}"
        )
        notification_ids = recorder.insert_events([stored])
        assert notification_ids == [len(JOURNAL) + 1]
        last = recorder.select_notifications(start=len(JOURNAL) + 1, limit=10)
        assert [(n.originator_id, n.state) for n in last] == [(stored.originator_id, b"{}")]
    finally:
        factory.close()


def test_a_reader_sees_read_models_but_not_events(
    schema_url: tuple[str, str],
    postgres_url: str,
    login_role: Callable[[str], tuple[str, str]],
) -> None:
    schema, url = schema_url
    migrate(url)
    _run_journal(f"{url}&create_tables=false")
    reader, _ = login_role("loanledger_reader")

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(reader)))
        loans = connection.execute(
            sql.SQL("SELECT loan_id FROM {}").format(
                sql.Identifier(schema, "loanledger_loan_index")
            )
        ).fetchall()
        assert loans == [("L-0001",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(
                sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, "loanledger_events"))
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(
                sql.SQL("DELETE FROM {}").format(sql.Identifier(schema, "loanledger_loan_index"))
            )


def test_a_writer_destroys_data_keys_but_cannot_edit_the_log_and_a_reader_sees_no_keys(
    schema_url: tuple[str, str],
    postgres_url: str,
    login_role: Callable[[str], tuple[str, str]],
) -> None:
    schema, url = schema_url
    migrate(url)
    ledger = LoanLedger.open(f"{url}&create_tables=false", clock=_clock())
    try:
        for command in JOURNAL:
            ledger.execute(command)
        ledger.forget_borrower("B-1", actor="dpo-1")
    finally:
        ledger.close()
    writer, _ = login_role("loanledger_writer")
    reader, _ = login_role("loanledger_reader")
    keys = sql.Identifier(schema, "loanledger_data_keys")
    log = sql.Identifier(schema, "loanledger_personal_data_log")

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(writer)))
        connection.execute(sql.SQL("DELETE FROM {} WHERE subject = 'nobody'").format(keys))
        for statement in (
            sql.SQL("UPDATE {} SET actor = 'someone else'").format(log),
            sql.SQL("DELETE FROM {}").format(log),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(statement)
        connection.execute("RESET ROLE")
        connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(reader)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(sql.SQL("SELECT * FROM {}").format(keys))
        logged = connection.execute(sql.SQL("SELECT action, subject, actor FROM {}").format(log))
        assert logged.fetchall() == [("forget", "borrower:B-1", "dpo-1")]


def test_roles_are_created_once_and_granted_in_every_schema(
    postgres_url: str, admin: psycopg.Connection[tuple[Any, ...]]
) -> None:
    # The roles may exist already (an earlier run, another database): that must not matter.
    schemas = []
    for _ in range(2):
        schema, url = _schema_url(postgres_url)
        assert migrate(url) == NAMES
        schemas.append(schema)

    roles = admin.execute(
        "SELECT rolname, rolcanlogin FROM pg_roles"
        " WHERE rolname IN ('loanledger_writer', 'loanledger_reader') ORDER BY rolname"
    ).fetchall()
    assert roles == [("loanledger_reader", False), ("loanledger_writer", False)]
    for schema in schemas:
        granted = admin.execute(
            "SELECT has_table_privilege('loanledger_writer', %(events)s, 'INSERT'),"
            " has_table_privilege('loanledger_writer', %(events)s, 'UPDATE'),"
            " has_table_privilege('loanledger_writer', %(events)s, 'DELETE'),"
            " has_table_privilege('loanledger_reader', %(events)s, 'SELECT'),"
            " has_table_privilege('loanledger_reader', %(index)s, 'SELECT'),"
            " has_schema_privilege('loanledger_reader', %(schema)s, 'USAGE')",
            {
                "events": f"{schema}.loanledger_events",
                "index": f"{schema}.loanledger_loan_index",
                "schema": schema,
            },
        ).fetchone()
        assert granted == (True, False, False, False, True, True)


# --- catalog description ------------------------------------------------------------------------


def _describe(admin: psycopg.Connection[tuple[Any, ...]], schema: str) -> dict[str, Any]:
    """What PostgreSQL's catalog says about a schema's ledger objects, with the schema's name
    taken out so that two schemas can be compared."""

    def rows(query: str) -> list[tuple[Any, ...]]:
        found = admin.execute(query.encode(), {"schema": schema}).fetchall()
        return [
            tuple(v.replace(f"{schema}.", "") if isinstance(v, str) else v for v in row)
            for row in found
        ]

    tables = [
        row[0]
        for row in rows("SELECT tablename FROM pg_tables WHERE schemaname = %(schema)s ORDER BY 1")
    ]
    ledger_tables = [table for table in tables if table in TABLES]
    return {
        "tables": tables,
        "columns": [
            row
            for row in rows(
                "SELECT table_name, column_name, ordinal_position, data_type, is_nullable,"
                " column_default FROM information_schema.columns"
                " WHERE table_schema = %(schema)s ORDER BY 1, 3"
            )
            if row[0] in ledger_tables
        ],
        "indexes": [
            row
            for row in rows(
                "SELECT tablename, indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = %(schema)s ORDER BY 1, 2"
            )
            if row[0] in ledger_tables
        ],
        "constraints": [
            row
            for row in rows(
                "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)"
                " FROM pg_constraint AS c JOIN pg_namespace AS n ON n.oid = c.connamespace"
                " WHERE n.nspname = %(schema)s AND c.contype IN ('p', 'u', 'f', 'c')"
                " ORDER BY 2"
            )
            if row[0] in ledger_tables
        ],
        "options": rows(
            "SELECT c.relname, c.reloptions FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %(schema)s AND c.relname = 'loanledger_events'"
        ),
        "types": rows(
            "SELECT t.typname, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod)"
            " FROM pg_type AS t JOIN pg_namespace AS n ON n.oid = t.typnamespace"
            " JOIN pg_attribute AS a ON a.attrelid = t.typrelid"
            " WHERE n.nspname = %(schema)s AND t.typtype = 'c' AND t.typname LIKE 'stored_event%%'"
            " ORDER BY 1, 3"
        ),
        "sequences": rows(
            "SELECT sequencename, data_type, start_value, increment_by FROM pg_sequences"
            " WHERE schemaname = %(schema)s ORDER BY 1"
        ),
        "functions": [
            row[0]
            for row in rows(
                "SELECT p.proname FROM pg_proc AS p"
                " JOIN pg_namespace AS n ON n.oid = p.pronamespace"
                " WHERE n.nspname = %(schema)s ORDER BY 1"
            )
        ],
        "triggers": rows(
            "SELECT trigger_name, action_timing, action_orientation, event_manipulation"
            " FROM information_schema.triggers WHERE trigger_schema = %(schema)s"
            " UNION ALL"
            " SELECT t.tgname, 'BEFORE', 'STATEMENT', 'TRUNCATE' FROM pg_trigger AS t"
            " JOIN pg_class AS c ON c.oid = t.tgrelid"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %(schema)s AND (t.tgtype & 32) <> 0 AND (t.tgtype & 2) <> 0"
            " ORDER BY 1, 4"
        ),
    }


def test_an_auditor_verifies_and_proves_but_writes_nothing(
    schema_url: tuple[str, str],
    postgres_url: str,
    login_role: Callable[[str], tuple[str, str]],
) -> None:
    schema, url = schema_url
    migrate(url)
    ledger = LoanLedger.open(f"{url}&create_tables=false", clock=_clock())
    try:
        for command in JOURNAL:
            ledger.execute(command)
        checkpoint = ledger.checkpoint()
    finally:
        ledger.close()
    auditor, password = login_role("loanledger_auditor")

    audited = LoanLedger.open(_as(f"{url}&create_tables=false", auditor, password))
    try:
        assert audited.verify(against=checkpoint).ok
        assert check_inclusion(audited.prove("L-0001"), checkpoint)
    finally:
        audited.close()
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(auditor)))
        for statement in (
            "INSERT INTO {} (tree_size, root, recorded_at) VALUES (0, '', '')",
            "DELETE FROM {}",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(
                    sql.SQL(statement).format(sql.Identifier(schema, "loanledger_checkpoints"))
                )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(
                sql.SQL("DELETE FROM {}").format(sql.Identifier(schema, "loanledger_events"))
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(
                sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, "loanledger_data_keys"))
            )


def test_an_attacker_who_disables_the_trigger_to_delete_a_loan_is_caught_by_the_checkpoint(
    schema_url: tuple[str, str], admin: psycopg.Connection[tuple[Any, ...]]
) -> None:
    schema, url = schema_url
    migrate(url)
    ledger = LoanLedger.open(f"{url}&create_tables=false", clock=_clock())
    try:
        for command in JOURNAL:
            ledger.execute(command)
        checkpoint = ledger.checkpoint()
        events = sql.Identifier(schema, "loanledger_events")
        with pytest.raises(psycopg.errors.RaiseException):
            admin.execute(sql.SQL("DELETE FROM {}").format(events))
        admin.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(events))
        admin.execute(sql.SQL("DELETE FROM {} WHERE originator_version >= 5").format(events))

        result = ledger.verify(against=checkpoint)

        assert result.ok is False
        assert result.first_break is not None
        assert (result.first_break.loan_id, result.first_break.version) == ("L-0001", 5)
        assert result.first_break.reason == "missing"
    finally:
        ledger.close()
