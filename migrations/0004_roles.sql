-- 0004 roles and grants: two NOLOGIN group roles. Grant them to login roles, e.g.
--     CREATE ROLE ledger_app LOGIN PASSWORD '...' IN ROLE loanledger_writer;
--
--   loanledger_writer  appends events and keeps the read models (what the ledger process needs)
--   loanledger_reader  reads the read models only (reporting tools); never the raw events
--
-- Roles are cluster-wide while grants are per database and schema, so the roles are created only
-- if missing (a second schema or database reuses them; an existing role is left as the DBA
-- configured it) and the grants are made on this schema's objects every time. Creating them
-- needs CREATEROLE; once they exist, a migrator without it still succeeds.
--
-- Runs with search_path set to the target schema; current_schema() names it.

DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['loanledger_writer', 'loanledger_reader'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                -- A migrator of another database created it between our check and CREATE
                -- (the advisory lock is per database, roles are not).
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;

DO $$
BEGIN
    EXECUTE format(
        'GRANT USAGE ON SCHEMA %I TO loanledger_writer, loanledger_reader', current_schema()
    );
END
$$;

-- Events: read and append. No UPDATE or DELETE: a writer gets "permission denied".
--
-- TRUNCATE is granted for one reason: eventsourcing's recorder takes
-- LOCK TABLE loanledger_events IN EXCLUSIVE MODE before each insert (so notification ids commit
-- in order), and PostgreSQL allows a non-owner that lock only with UPDATE, DELETE or TRUNCATE
-- privilege. TRUNCATE is the one of the three that 0003's trigger refuses outright for every
-- role, so it lets the writer lock without letting it remove anything.
GRANT SELECT, INSERT, TRUNCATE ON loanledger_events TO loanledger_writer;

-- nextval() for notification_id needs USAGE; SELECT lets currval/last_value be read.
GRANT USAGE, SELECT ON SEQUENCE loanledger_events_notification_id_seq TO loanledger_writer;

-- Read models and tracking: projections upsert rows and tracking positions, close of day
-- updates loans' next action dates, a projection whose version changed deletes its tracking row.
GRANT SELECT, INSERT, UPDATE, DELETE
    ON loanledger_tracking, loanledger_loan_index, loanledger_closed_days
    TO loanledger_writer;

-- Readers see the read models, and the tracking positions so they can tell how fresh they are.
GRANT SELECT
    ON loanledger_tracking, loanledger_loan_index, loanledger_closed_days
    TO loanledger_reader;
