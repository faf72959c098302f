"""Which store errors mean what: no driver exception reaches a caller of the library.

`psycopg`, `sqlite3` and `eventsourcing.persistence` raise their own exceptions. The ledger maps
each to a `LoanLedgerError`: a lost or refused connection is a `StoreUnavailableError` (try
again later), anything else the store or its driver refused is a `StoreDataError` (it names the
loan and version concerned when known). Text that a store cannot encode (a lone surrogate) is a
`StoreDataError` too when it reaches a driver.
"""

from __future__ import annotations

import sqlite3
import sys

from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError

from loanledger.domain.errors import StoreDataError


def is_connection_failure(error: BaseException) -> bool:
    """The store could not be reached or the connection broke (server restart, network cut,
    no pooled connection in time): eventsourcing's or psycopg's (read models) error for it."""
    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(
        error, (psycopg.OperationalError, psycopg.InterfaceError)
    )


def is_transient(error: BaseException) -> bool:
    """Trying again later may succeed: a connection failure, or SQLite's "database is locked"
    / "busy" (another process held the write lock past the busy timeout)."""
    if is_connection_failure(error):
        return True
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        return "locked" in text or "busy" in text
    return False


_DRIVER_MODULES = ("eventsourcing", "psycopg", "psycopg_pool", "sqlite3")


def is_driver_error(error: BaseException) -> bool:
    """`error` came from the store: an eventsourcing, SQLite or psycopg exception, or text a
    driver could not encode."""
    if isinstance(error, (PersistenceError, sqlite3.Error, UnicodeEncodeError)):
        return True
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(error, psycopg.Error):
        return True
    module = type(error).__module__.split(".")[0]
    return module in _DRIVER_MODULES


def store_data_error(
    error: BaseException, outcome: str, *, loan_id: str | None = None, version: int | None = None
) -> StoreDataError:
    """`error` (a driver's) as the `StoreDataError` a caller gets, ending with `outcome`."""
    where = ""
    if loan_id is not None:
        where = f" for loan {loan_id!r}" + (f" version {version}" if version is not None else "")
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return StoreDataError(
        f"the store refused the data{where} ({type(error).__name__}: {detail}); {outcome}",
        loan_id=loan_id,
        version=version,
    )
