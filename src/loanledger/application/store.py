"""Opening a ledger's stores and guarding every call against driver errors.

Opening holds PostgreSQL's schema lock while the library creates its tables; a store that cannot
be opened raises `StoreUnavailableError`. `_command` and `_query` wrap the ledger's public methods
so that a connection failure surfaces as `StoreUnavailableError` saying what the caller may
assume, never as a driver error; `_without_hidden_retries` takes eventsourcing's own retries off
the PostgreSQL recorder.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from eventsourcing.persistence import PersistenceError

from loanledger.domain.errors import LoanLedgerError, StoreUnavailableError
from loanledger.persistence.failures import is_driver_error, is_transient, store_data_error
from loanledger.persistence.urls import StoreSettings

_P = ParamSpec("_P")
_R = TypeVar("_R")

UNKNOWN_OUTCOME = "the command may or may not have been recorded: send it again"
"""What a failed command says: re-sending is safe (a recorded step is then refused, or, for a
repayment or disbursement, its reference makes it a no-op)."""


def _guarded(outcome: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """A decorator: a connection failure inside the method surfaces as `StoreUnavailableError`
    ending with `outcome` (what the caller may assume and do), never as a driver error."""

    def decorate(method: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(method)
        def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(*args, **kwargs)
            except LoanLedgerError:
                raise
            except Exception as error:
                if is_transient(error):
                    raise StoreUnavailableError(
                        f"the store is unavailable ({error}); {outcome}"
                    ) from error
                if is_driver_error(error):
                    raise store_data_error(error, outcome) from error
                raise

        return guarded

    return decorate


_command = _guarded(UNKNOWN_OUTCOME)
"""For commands: the outcome is unknown and re-sending is safe."""

_query = _guarded("nothing was changed: ask again")
"""For reads: nothing changed."""


def _without_hidden_retries(recorder: object) -> None:
    """Call the recorder's own methods once, not through eventsourcing's retry decorator.

    eventsourcing's PostgreSQL recorder retries each call on a connection error, 10 times 0.2 s
    apart, and every attempt may wait the whole pool timeout for a connection: with the server
    down, one command hung 52 s (measured, connect_timeout 10) before a bare `OperationalError`.
    And re-running an insert whose commit was made but not acknowledged hits the stored version,
    which `execute` takes for a lost race: the client would hear "applied already" (a refusal)
    for its own recorded `apply`, not that the outcome was unknown. The ledger decides itself:
    one attempt, then `StoreUnavailableError` (outcome unknown, re-send). Connections a restart
    killed are not retried on but replaced: the pool checks each one it hands out and drains
    itself at the first dead one (`POSTGRES_PRE_PING`, `persistence.pool.survive_restarts`).
    """
    for name, member in inspect.getmembers(type(recorder), inspect.isfunction):
        once = getattr(member, "__wrapped__", None)
        if once is not None and member.__code__.co_name == "retry_decorator":
            setattr(recorder, name, once.__get__(recorder))


SCHEMA_LOCK_KEY = 0x4C4C_0001
"""Advisory-lock key held while a ledger creates its schema and tables on PostgreSQL."""


@contextmanager
def _schema_lock(settings: StoreSettings) -> Iterator[None]:
    import psycopg
    from psycopg import sql

    env = settings.env
    with psycopg.connect(**settings.postgres_connection(), autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            if "POSTGRES_SCHEMA" in env:
                connection.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        sql.Identifier(env["POSTGRES_SCHEMA"])
                    )
                )
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


_L = TypeVar("_L")


def open_store(settings: StoreSettings, construct: Callable[[], _L]) -> _L:
    """`construct()` the ledger on `settings`, under the schema lock where tables are created; a
    store that cannot be opened raises `StoreUnavailableError` naming it (see `LoanLedger.open`)."""
    try:
        if settings.kind != "postgresql" or settings.env.get("CREATE_TABLE") == "n":
            # Table creation off: the schema and tables are the DBA's (migrations/).
            return construct()
        # CREATE SCHEMA/TABLE IF NOT EXISTS race in PostgreSQL's catalog ("tuple
        # concurrently updated") when several processes open the same new store at once, so
        # opening holds an advisory lock while the library creates its tables.
        with _schema_lock(settings):
            return construct()
    except (PersistenceError, OSError, sqlite3.Error) as error:
        raise StoreUnavailableError(
            f"cannot open store {settings.redacted_url}: {error}"
        ) from error
    except Exception as error:
        if type(error).__module__.startswith("psycopg"):
            raise StoreUnavailableError(
                f"cannot open store {settings.redacted_url}: {error}"
            ) from error
        raise
