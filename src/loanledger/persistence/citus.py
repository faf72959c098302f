"""The events table laid out by loan: Citus where it is installed, native hash partitions as the
plain-PostgreSQL stand-in.

Citus distributes `loanledger_events` by its aggregate id (migration `0012_citus.sql`). Nothing
here can run Citus, so the same layout is tested on plain PostgreSQL with native
`PARTITION BY HASH (originator_id)`: the table is partitioned on the distribution column, its
primary key (originator_id, originator_version) includes it, and its log-order index on
notification_id is not unique (a partitioned table, like a distributed one, keeps only unique
indexes that include the partition column; the sequence still gives every event its own id).

PostgreSQL refuses eventsourcing's `CREATE UNIQUE INDEX IF NOT EXISTS` on such a table even
when the name is taken, so a store laid out this way is a DBA-managed one, as a Citus store is:
`hash_partitioned_events(url, partitions)` applies the migrations to the URL's schema, then
replaces its (empty) events table by the partitioned one, with the append-only triggers of
migration 0003 and the grants of 0004 and 0011; the ledger then opens it with
`?create_tables=false`. `docs/scaling.md` says what changes on Citus.
"""

from __future__ import annotations

from psycopg import sql

from loanledger.persistence.urls import parse_store_url

EVENTS_TABLE = "loanledger_events"


def hash_partitioned_events_statements(schema: str, partitions: int) -> list[sql.Composed]:
    """The statements creating `loanledger_events` hash-partitioned by originator_id."""
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    table = sql.Identifier(schema, EVENTS_TABLE)
    statements = [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)),
        sql.SQL(
            "CREATE TABLE {} ("
            " originator_id uuid NOT NULL,"
            " originator_version bigint NOT NULL,"
            " topic text,"
            " state bytea,"
            " notification_id bigserial,"
            " PRIMARY KEY (originator_id, originator_version)"
            ") PARTITION BY HASH (originator_id)"
        ).format(table),
        sql.SQL("CREATE INDEX {} ON {} (notification_id ASC)").format(
            sql.Identifier(f"{EVENTS_TABLE}_notification_id_idx"), table
        ),
    ]
    for remainder in range(partitions):
        statements.append(
            sql.SQL(
                "CREATE TABLE {} PARTITION OF {} FOR VALUES WITH (MODULUS {}, REMAINDER {})"
            ).format(
                sql.Identifier(schema, f"{EVENTS_TABLE}_p{remainder}"),
                table,
                sql.Literal(partitions),
                sql.Literal(remainder),
            )
        )
    return statements


def hash_partitioned_events(url: str, partitions: int) -> None:
    """Migrate the PostgreSQL `url`'s schema and lay its empty events table out in `partitions`
    hash partitions by originator_id (module docstring)."""
    import psycopg

    from loanledger.persistence.migrate import migrate

    settings = parse_store_url(url)
    if settings.kind != "postgresql":
        raise ValueError("hash partitions are a PostgreSQL layout")
    migrate(url)
    schema = settings.env.get("POSTGRES_SCHEMA", "public")
    table = sql.Identifier(schema, EVENTS_TABLE)
    with psycopg.connect(**settings.postgres_connection()) as connection, connection.transaction():
        found = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
        if found is None or found[0]:
            raise ValueError(f"{schema}.{EVENTS_TABLE} holds events: lay it out before loading")
        connection.execute(sql.SQL("DROP TABLE {}").format(table))
        for statement in hash_partitioned_events_statements(schema, partitions)[1:]:
            connection.execute(statement)
        connection.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        for text in _TRIGGERS_AND_GRANTS:
            connection.execute(text.encode("utf-8"))


_TRIGGERS_AND_GRANTS = (
    "CREATE TRIGGER loanledger_events_refuse_update_delete BEFORE UPDATE OR DELETE ON "
    "loanledger_events FOR EACH STATEMENT EXECUTE FUNCTION loanledger_events_refuse_change()",
    "CREATE TRIGGER loanledger_events_refuse_truncate BEFORE TRUNCATE ON loanledger_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION loanledger_events_refuse_change()",
    "GRANT SELECT, INSERT, TRUNCATE ON loanledger_events TO loanledger_writer",
    "GRANT USAGE, SELECT ON SEQUENCE loanledger_events_notification_id_seq TO loanledger_writer",
    "GRANT SELECT ON loanledger_events TO loanledger_auditor",
)
"""What migrations 0003, 0004 and 0011 give the events table (the table was replaced)."""
