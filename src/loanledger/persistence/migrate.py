"""Apply the ordered SQL migrations in `migrations/` to a PostgreSQL store.

Why a runner of our own: the migrations are plain SQL files a DBA can read and run by hand; all a
runner has to add is ordering, a record of what was applied, a checksum check and a lock. That is
under a hundred lines on psycopg 3 (already a dependency), where the migration libraries either
bring SQLAlchemy (alembic), or keep no content checksum and lock with a table of their own rather
than an advisory lock (yoyo-migrations).

`migrate(url)` resolves the URL like `LoanLedger.open` (`?schema=` picks the target schema, which
is created if missing; without it eventsourcing's default, `public`), then, holding an advisory
lock so that concurrent migrators apply each migration once:

1. creates `loanledger_migrations(version, name, checksum, applied_at)` in the schema if missing;
2. refuses with `MigrationError`, applying nothing, when an applied migration's file changed (its
   SHA-256 differs), when the database has applied a migration this library does not ship (it
   is older than the database), or when a pending migration is older than the newest applied
   one (it would run in an order no other database saw);
3. applies each pending migration in version order, each in its own transaction together with
   its row in `loanledger_migrations`, so a failure leaves the earlier ones applied and the
   failing one not at all;
4. returns the file names it applied (empty when there was nothing to do).

Every migration runs with `search_path` set to the target schema only, so the SQL names no schema
and one set of files serves any `?schema=`.

`sqlite:` and `memory:` stores have nothing to migrate and `migrate` returns `[]`: the library
creates their tables itself when it opens them, and an embedded file has no roles or grants to
manage (its file permissions are the access control) and no DBA-owned schema to match.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loanledger.domain.errors import MigrationError
from loanledger.persistence.urls import StoreSettings, parse_store_url

if TYPE_CHECKING:
    import psycopg

MIGRATION_LOCK_KEY = 0x4C4C_0001
"""Advisory-lock key held while migrating. It is the key `LoanLedger.open` holds while it creates
its schema and tables (`loanledger.application.SCHEMA_LOCK_KEY`), so a migrator and a ledger
opening the same new store never race on CREATE ... IF NOT EXISTS in PostgreSQL's catalog."""

MIGRATIONS_TABLE = "loanledger_migrations"
DEFAULT_SCHEMA = "public"
"""Where eventsourcing puts its tables when the URL names no schema, so migrations go there too."""

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    """One migration file: `NNNN_name.sql`, applied in the order of NNNN."""

    version: int
    name: str
    sql: str
    checksum: str


def migrations_dir() -> Path:
    """The shipped migrations (`loanledger/_sql/migrations` in the wheel), else the checkout's."""
    shipped = resources.files("loanledger") / "_sql" / "migrations"
    if shipped.is_dir():
        return Path(str(shipped))
    # Running from a checkout (editable install): the top-level migrations/ folder.
    return Path(__file__).resolve().parents[3] / "migrations"


def checksum(sql: str) -> str:
    """SHA-256 of the file's text with line endings normalised, so that a checkout that turned
    LF into CRLF does not look like a changed migration."""
    return hashlib.sha256(sql.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Every `NNNN_name.sql` file in `directory` (default: `migrations_dir()`), by version."""
    folder = directory if directory is not None else migrations_dir()
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"migration file {path.name!r} is not named NNNN_lower_case_name.sql"
            )
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"migrations {found[version].name} and {path.name} have the same version"
            )
        sql = path.read_text(encoding="utf-8")
        found[version] = Migration(version, path.name, sql, checksum(sql))
    return [found[version] for version in sorted(found)]


def migrate(url: str, *, directory: Path | None = None) -> list[str]:
    """Apply the pending migrations to the store at `url`; return the names applied, in order.

    `directory` replaces the shipped migrations (for tests and for a DBA's own additions).
    """
    settings = parse_store_url(url)
    if settings.kind != "postgresql":
        return []
    migrations = load_migrations(directory)

    import psycopg
    from psycopg import sql

    schema = settings.env.get("POSTGRES_SCHEMA", DEFAULT_SCHEMA)
    with _connect(settings) as connection:
        # What a migration says (RAISE NOTICE: 0012 when the citus extension is missing) is
        # logged, not lost.
        connection.add_notice_handler(lambda notice: logger.warning("%s", notice.message_primary))
        connection.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            if "POSTGRES_SCHEMA" in settings.env:
                # Only a named schema: CREATE SCHEMA IF NOT EXISTS checks the CREATE privilege
                # on the database before it looks, so it would fail for `public` without it.
                connection.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
            connection.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            connection.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " version integer PRIMARY KEY,"
                    " name text NOT NULL,"
                    " checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                ).format(sql.Identifier(MIGRATIONS_TABLE))
            )
            # Read the history only now, under the lock: a migrator that waited for it sees
            # what the one before it applied.
            rows = connection.execute(
                sql.SQL("SELECT version, name, checksum FROM {} ORDER BY version").format(
                    sql.Identifier(MIGRATIONS_TABLE)
                )
            ).fetchall()
            pending = _pending(migrations, rows, settings)
            applied: list[str] = []
            for migration in pending:
                try:
                    with connection.transaction():
                        # Bytes, not str: the file is data, not a literal (psycopg's typing),
                        # and without parameters psycopg sends it as one multi-statement query.
                        connection.execute(migration.sql.encode("utf-8"))
                        connection.execute(
                            sql.SQL(
                                "INSERT INTO {} (version, name, checksum) VALUES (%s, %s, %s)"
                            ).format(sql.Identifier(MIGRATIONS_TABLE)),
                            (migration.version, migration.name, migration.checksum),
                        )
                except psycopg.Error as error:
                    error.add_note(
                        f"while applying migration {migration.name} to schema {schema!r} "
                        f"of {settings.redacted_url} (rolled back; earlier ones stay applied)"
                    )
                    raise
                applied.append(migration.name)
            return applied
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))


def _pending(
    migrations: Sequence[Migration], rows: Sequence[tuple[Any, ...]], settings: StoreSettings
) -> list[Migration]:
    """The migrations still to apply, after checking the recorded history against the files."""
    by_version = {migration.version: migration for migration in migrations}
    done: set[int] = set()
    for version, name, recorded in rows:
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"{settings.redacted_url} has migration {name} (version {version}) applied, "
                "which this version of loanledger does not ship: upgrade loanledger"
            )
        if migration.checksum != recorded:
            raise MigrationError(
                f"migration {migration.name} was applied with checksum {recorded} but the file "
                f"now has checksum {migration.checksum}: an applied migration must never "
                "change; restore it and put the change in a new migration"
            )
        done.add(version)
    newest = max(done, default=0)
    pending = [migration for migration in migrations if migration.version not in done]
    late = [migration.name for migration in pending if migration.version < newest]
    if late:
        raise MigrationError(
            f"migration(s) {', '.join(late)} are older than the newest applied migration "
            f"(version {newest}); give them a higher version so every database applies "
            "migrations in the same order"
        )
    return pending


def _connect(settings: StoreSettings) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection with the store's credentials: each migration opens its own
    transaction explicitly, and the advisory lock and search_path span them all."""
    import psycopg

    return psycopg.connect(**settings.postgres_connection(), autocommit=True)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m loanledger.persistence.migrate URL`: apply, and print what was applied."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m loanledger.persistence.migrate STORE_URL", file=sys.stderr)
        return 2
    try:
        applied = migrate(args[0])
    except MigrationError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    for name in applied:
        print(f"applied {name}")
    if not applied:
        print("nothing to apply")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
