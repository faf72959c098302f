-- 0002 read models: the tables the ledger creates itself (CREATE TABLE IF NOT EXISTS) when it
-- opens, mirrored here so a DBA can create and own them too. Each statement is copied from the
-- `-- name: create*` blocks of projections/<name>.sql (the source of truth for the application);
-- the integration tests compare the resulting columns and indexes with the ones the library
-- creates, so a change there without a new migration here fails CI.
--
-- Runs with search_path set to the target schema. IF NOT EXISTS everywhere: safe on a schema the
-- ledger already created.

-- projections/tracking.sql: how far each projection has read the notification log. Written in
-- the same transaction as the projection's rows, so projections resume exactly once.
CREATE TABLE IF NOT EXISTS loanledger_tracking (
    projection TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    version INTEGER NOT NULL
);

-- projections/loan_index.sql: one row per loan, for listing a book and for close of day.
CREATE TABLE IF NOT EXISTS loanledger_loan_index (
    loan_id TEXT PRIMARY KEY,
    aggregate_id TEXT NOT NULL,
    borrower_id TEXT NOT NULL,
    applied_on TEXT NOT NULL,
    last_version BIGINT NOT NULL,
    processed_version BIGINT NOT NULL DEFAULT 0,
    next_action_on TEXT
);

CREATE INDEX IF NOT EXISTS loanledger_loan_index_next_action
    ON loanledger_loan_index (next_action_on);

CREATE INDEX IF NOT EXISTS loanledger_loan_index_borrower
    ON loanledger_loan_index (borrower_id);

-- projections/closed_days.sql: the business days close_day has run (the batch's own journal,
-- not a projection of events, so rebuild() keeps it).
CREATE TABLE IF NOT EXISTS loanledger_closed_days (
    business_date TEXT PRIMARY KEY,
    closed_at TEXT NOT NULL,
    loans_processed BIGINT NOT NULL,
    events_recorded BIGINT NOT NULL
);
