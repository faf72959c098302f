"""Store URLs and the eventsourcing settings they stand for.

One URL names a store everywhere (library, CLI, tests): `memory://`, `sqlite:///path/to.db`
(`sqlite://` alone is an in-memory SQLite database) or `postgresql://user:pass@host:port/db`
with optional `?schema=NAME`, `?create_tables=false` (a DBA manages the schema with the SQL
migrations, so eventsourcing must not create its tables: `CREATE_TABLE=n`) and
`?connect_timeout=SECONDS` (libpq's name: how long opening a connection, or waiting for one from
the pool, may take before the store counts as unavailable; default 10). The URL comes from
the argument, else env `LOANLEDGER_DB`, else the SQLite default. `POSTGRES_ENABLE_DB_FUNCTIONS`
is never enabled: with it the library's insert function drops tracking records (DESIGN §4).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import uuid4

from loanledger.domain.errors import InvalidStoreURLError

DEFAULT_STORE_URL = "sqlite:///loanledger.db"
STORE_URL_ENV = "LOANLEDGER_DB"

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class StoreSettings:
    """What a store URL resolves to: its kind and the eventsourcing environment for it."""

    url: str
    kind: str  # "memory", "sqlite" or "postgresql"
    env: Mapping[str, str]

    def postgres_connection(self, *, search_path: bool = False) -> dict[str, Any]:
        """psycopg connection keywords for a PostgreSQL store (credentials, timeout, and the
        store's schema as search_path when asked), so every connection the library opens
        besides eventsourcing's own is made the same way."""
        env = self.env
        keywords: dict[str, Any] = {
            "dbname": env["POSTGRES_DBNAME"],
            "host": env["POSTGRES_HOST"],
            "port": env["POSTGRES_PORT"],
            "user": env["POSTGRES_USER"],
            "password": env["POSTGRES_PASSWORD"] or None,
            "connect_timeout": int(env["POSTGRES_CONNECT_TIMEOUT"]),
        }
        if search_path and "POSTGRES_SCHEMA" in env:
            keywords["options"] = f"-c search_path={env['POSTGRES_SCHEMA']}"
        return keywords

    @property
    def redacted_url(self) -> str:
        """The URL without a password, for messages and logs."""
        return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", self.url)


def resolve_store_url(url: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The argument, else env `LOANLEDGER_DB`, else the SQLite default."""
    if url:
        return url
    environ = os.environ if environ is None else environ
    return environ.get(STORE_URL_ENV) or DEFAULT_STORE_URL


def parse_store_url(url: str) -> StoreSettings:
    """Map a store URL onto eventsourcing's persistence module and settings, or refuse it."""
    if not isinstance(url, str) or "://" not in url:
        raise InvalidStoreURLError(
            f"store URL {url!r} must look like memory://, sqlite:///path or postgresql://..."
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        return StoreSettings(url, "memory", {"PERSISTENCE_MODULE": "eventsourcing.popo"})
    if scheme == "sqlite":
        return _sqlite_settings(url, parts.netloc, parts.path)
    if scheme in ("postgresql", "postgres"):
        return _postgres_settings(url)
    raise InvalidStoreURLError(
        f"unknown store URL scheme {parts.scheme!r} in {url!r}: use memory://, sqlite:///path "
        "or postgresql://user:password@host:port/database"
    )


def _sqlite_settings(url: str, netloc: str, path: str) -> StoreSettings:
    if netloc:
        raise InvalidStoreURLError(
            f"SQLite URL {url!r} has a host; write sqlite:///relative.db or sqlite:////abs.db"
        )
    # sqlite:///books.db -> "books.db"; sqlite:////var/books.db -> "/var/books.db".
    db_path = unquote(path[1:]) if path.startswith("/") else unquote(path)
    # A bare sqlite:// is a private in-memory database, named uniquely so that two ledgers in one
    # process never share it by accident.
    dbname = db_path or f"file:loanledger-{uuid4().hex}?mode=memory&cache=shared"
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": dbname,
        "SQLITE_LOCK_TIMEOUT": "10",
    }
    return StoreSettings(url, "sqlite", env)


def _postgres_settings(url: str) -> StoreSettings:
    parts = urlsplit(url)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise InvalidStoreURLError(f"PostgreSQL URL {url!r} names no database")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"schema", "create_tables", "connect_timeout"})
    if unknown:
        raise InvalidStoreURLError(
            f"PostgreSQL URL option(s) {', '.join(unknown)} are not supported "
            "(only schema, create_tables, connect_timeout)"
        )
    connect_timeout = query.get("connect_timeout", "10")
    if not connect_timeout.isdigit() or int(connect_timeout) < 1:
        raise InvalidStoreURLError(
            f"connect_timeout {connect_timeout!r} must be a whole number of seconds, at least 1"
        )
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        # eventsourcing's recorder with a cheaper insert (see persistence/recorder.py).
        "APPLICATION_RECORDER_TOPIC": "loanledger.persistence.recorder:PostgresEventRecorder",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "POSTGRES_CONNECT_TIMEOUT": str(int(connect_timeout)),
        # A server restart kills every pooled connection: each is checked (one empty query)
        # when taken from the pool, so a dead one is replaced instead of failing a command.
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_MAX_OVERFLOW": "4",
    }
    schema = query.get("schema")
    if schema is not None:
        if not _SCHEMA_NAME.match(schema):
            raise InvalidStoreURLError(
                f"schema {schema!r} must be a lower-case SQL identifier (letters, digits, _)"
            )
        env["POSTGRES_SCHEMA"] = schema
    create_tables = query.get("create_tables")
    if create_tables is not None:
        # Only the two spellings: a typo such as "flase" must not silently create tables in a
        # DBA-managed schema, nor silently skip them in a fresh one.
        if create_tables.lower() not in ("true", "false"):
            raise InvalidStoreURLError(f"create_tables {create_tables!r} must be true or false")
        if create_tables.lower() == "false":
            # eventsourcing then neither creates nor checks its tables: they must exist already
            # (migrations/, applied by `loanledger.persistence.migrate`).
            env["CREATE_TABLE"] = "n"
    return StoreSettings(url, "postgresql", env)
