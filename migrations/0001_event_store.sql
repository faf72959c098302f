-- 0001 event store: the objects eventsourcing 9.5's PostgresApplicationRecorder creates for the
-- application named "LoanLedger" (events table "loanledger_events", originator ids of type uuid),
-- so that the library runs with `?create_tables=false` (eventsourcing CREATE_TABLE=n) against a
-- schema a DBA owns. Every name, column, type, key, index and storage parameter below is the one
-- eventsourcing's own CREATE statements use: the recorder finds them by name, and the
-- integration tests compare this schema with one the library created itself.
--
-- Runs with search_path set to the target schema (the store URL's ?schema=, else public), so no
-- object is schema-qualified here. Safe on a schema the library already created (adoption):
-- everything is IF NOT EXISTS, so an existing store is left exactly as it is.
--
-- Not created: eventsourcing's es_insert_events_uuid() function. It is used only with
-- POSTGRES_ENABLE_DB_FUNCTIONS, which loanledger never enables (it drops tracking records,
-- DESIGN §4), and its body bakes in the lock timeout and NOTIFY channel of one deployment.

-- The composite type the recorder binds a batch of events to (INSERT ... FROM
-- unnest(%s::stored_event_uuid[])). The recorder looks it up when it starts, so it must exist
-- before the ledger opens. CREATE TYPE has no IF NOT EXISTS, hence the catalog check.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1
        FROM pg_catalog.pg_type AS t
        JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
        WHERE n.nspname = current_schema() AND t.typname = 'stored_event_uuid'
    ) THEN
        CREATE TYPE stored_event_uuid AS (
            originator_id uuid,
            originator_version bigint,
            topic text,
            state bytea
        );
    END IF;
END
$$;

-- The event store. (originator_id, originator_version) is the optimistic-concurrency key: a
-- second writer of the same version of a loan fails on it. notification_id (bigserial: the
-- sequence loanledger_events_notification_id_seq, owned by the column) orders the notification
-- log that projections and verify() read. The storage parameters are eventsourcing's: an
-- append-only table needs vacuum rarely but fresh statistics often.
CREATE TABLE IF NOT EXISTS loanledger_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
) WITH (
    autovacuum_enabled = true,
    autovacuum_vacuum_threshold = 100000000,
    autovacuum_vacuum_scale_factor = 0.5,
    autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.01
);

-- Reading the notification log a page at a time (WHERE notification_id >= ? ORDER BY ...) and
-- MAX(notification_id) both use this index.
CREATE UNIQUE INDEX IF NOT EXISTS loanledger_events_notification_id_idx
    ON loanledger_events (notification_id ASC);
