-- 0012 Citus: the events table distributed by loan, where the citus extension is installed.
--
-- The distribution column is the aggregate id (originator_id: the uuid5 of the loan id), so every
-- event of a loan lives on one shard and a loan's optimistic-concurrency key (originator_id,
-- originator_version) and hash chain stay on one node. The notification id keeps coming from the
-- one sequence on the coordinator, so the log keeps one global order (docs/scaling.md).
--
-- Citus keeps a unique index only when it includes the distribution column, so the log-order
-- index becomes a plain index of the same name (the sequence alone gives each event its own id;
-- pages of the log are read through it as before).
--
-- Without citus this migration changes nothing and says so (a NOTICE, which the migration runner
-- logs as a warning). The work is a function, so that a DBA who installs citus later distributes
-- the table with `SELECT loanledger_distribute_events();` (an applied migration never runs again).
-- Written against Citus's documented create_distributed_table(); not run against a Citus cluster
-- here (docs/scaling.md, "What changes on Citus").

CREATE OR REPLACE FUNCTION loanledger_distribute_events() RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN 'the citus extension is not installed in this database: loanledger_events stays '
            'a table of this server, unchanged (to distribute it by loan: CREATE EXTENSION citus, '
            'then SELECT loanledger_distribute_events(); see docs/scaling.md)';
    END IF;
    IF EXISTS (
        SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'loanledger_events'::regclass
    ) THEN
        RETURN 'loanledger_events is distributed by originator_id already';
    END IF;
    DROP INDEX IF EXISTS loanledger_events_notification_id_idx;
    CREATE INDEX loanledger_events_notification_id_idx ON loanledger_events (notification_id);
    PERFORM create_distributed_table('loanledger_events', 'originator_id');
    RETURN 'loanledger_events distributed by originator_id (the loan''s aggregate id)';
END
$$;

DO $$
BEGIN
    RAISE NOTICE 'loanledger 0012_citus: %', loanledger_distribute_events();
END
$$;
