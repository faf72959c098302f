"""Shared fixtures: hypothesis profiles, and one ledger per store kind.

PostgreSQL tests use `LOANLEDGER_TEST_PG` (default postgresql://postgres@127.0.0.1:5432/postgres):
the session creates a fresh database there and drops it at the end; every test gets its own
schema in it. When the server is unreachable the tests skip with the reason, except under
`CI=true`, where they fail: CI must really exercise PostgreSQL.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest
from hypothesis import HealthCheck, settings

from loanledger import LoanLedger

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

DEFAULT_TEST_PG = "postgresql://postgres@127.0.0.1:5432/postgres"

TEST_MASTER_KEY = "bG9hbmxlZGdlci10ZXN0LW1hc3Rlci1rZXktMzJieXQ="
"""The master key every test store is written with (base64 of 32 bytes; for tests only). Set in
the environment so that subprocesses (CLI tests, worker processes) use it too; tests of a
missing or wrong key pass their own."""

os.environ.setdefault("LOANLEDGER_MASTER_KEY", TEST_MASTER_KEY)
TEST_FUTURE_HORIZON_DAYS = "3660"
"""The test clocks are pinned to early 2024 while the journals run into 2025-2027, far more than
the default horizon (366 days) ahead of that moment; tests of the horizon set their own."""
os.environ.setdefault("LOANLEDGER_FUTURE_HORIZON_DAYS", TEST_FUTURE_HORIZON_DAYS)
STORE_KINDS = ("memory", "sqlite", "postgresql")


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session, dropped afterwards."""
    import psycopg
    from psycopg import sql

    admin_url = os.environ.get("LOANLEDGER_TEST_PG", DEFAULT_TEST_PG)
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        message = f"PostgreSQL unreachable at {admin_url} (set LOANLEDGER_TEST_PG): {error}"
        if _running_in_ci():
            pytest.fail(f"CI=true requires PostgreSQL: {message}", pytrace=False)
        pytest.skip(message)
    database = f"loanledger_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        try:
            yield _with_database(admin_url, database)
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """A new, empty store of the kind named by the test's `store_kind` parameter."""
    kind = getattr(request, "param", None) or getattr(request.cls, "store_kind", "memory")
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"
    base = request.getfixturevalue("postgres_url")
    return f"{base}?schema=t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def clock() -> Callable[[], datetime]:
    """A deterministic recorded-time clock: each reading is one second after the last."""
    state = {"now": datetime(2024, 1, 1, 9, 0, tzinfo=UTC)}
    lock = threading.Lock()

    def tick() -> datetime:
        with lock:
            state["now"] += timedelta(seconds=1)
            return state["now"]

    return tick


@pytest.fixture
def ledger(store_url: str, clock: Callable[[], datetime]) -> Iterator[LoanLedger]:
    opened = LoanLedger.open(store_url, clock=clock)
    try:
        yield opened
    finally:
        opened.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that ask for `store_url` (directly or via `ledger`) run once per store kind, unless
    they are parametrised already. PostgreSQL runs are marked so `-m "not postgres"` skips them.
    """
    if getattr(metafunc.cls, "store_kind", None):
        return  # A contract subclass names its one store itself.
    if "store_url" in metafunc.fixturenames and not any(
        mark.name == "parametrize" and "store_url" in str(mark.args[0])
        for mark in metafunc.definition.iter_markers()
    ):
        kinds = getattr(metafunc.module, "STORE_KINDS", STORE_KINDS)
        metafunc.parametrize(
            "store_url",
            [
                pytest.param(kind, marks=[pytest.mark.postgres] if kind == "postgresql" else [])
                for kind in kinds
            ],
            indirect=True,
            ids=list(kinds),
        )
