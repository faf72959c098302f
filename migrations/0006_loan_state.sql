-- 0006 the bitemporal loan_state read model (projections/loan_state.sql, the source of truth):
-- each loan's report row as segments of effective time x recorded time, the coverage of each
-- loan's segments, and the business horizon they are written up to. Copied from the
-- `-- name: create*` blocks there; the integration tests compare the result with what the
-- library creates. Grants follow 0004: the writer keeps the read model, the reader reads it.
--
-- Runs with search_path set to the target schema.

CREATE TABLE IF NOT EXISTS loanledger_loan_state (
    loan_id TEXT NOT NULL,
    recorded_from TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    recorded_to TEXT NOT NULL,
    borrower_id TEXT NOT NULL,
    status TEXT NOT NULL,
    classification TEXT NOT NULL,
    contagion_classification TEXT NOT NULL,
    ifrs9_stage INTEGER NOT NULL,
    bucket TEXT NOT NULL,
    disbursed INTEGER NOT NULL,
    principal_outstanding TEXT NOT NULL,
    overdue_principal TEXT NOT NULL,
    overdue_interest TEXT NOT NULL,
    overdue_since TEXT,
    detail TEXT NOT NULL,
    PRIMARY KEY (loan_id, recorded_from, valid_from)
);

CREATE INDEX IF NOT EXISTS loanledger_loan_state_as_of
    ON loanledger_loan_state (valid_to, valid_from, recorded_to, recorded_from);

CREATE INDEX IF NOT EXISTS loanledger_loan_state_open
    ON loanledger_loan_state (loan_id, recorded_to, valid_to);

CREATE TABLE IF NOT EXISTS loanledger_loan_state_cover (
    loan_id TEXT PRIMARY KEY,
    known_from TEXT NOT NULL,
    recorded_from TEXT NOT NULL,
    covered_to TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS loanledger_loan_state_cover_to
    ON loanledger_loan_state_cover (covered_to);

CREATE TABLE IF NOT EXISTS loanledger_loan_state_horizon (
    id INTEGER PRIMARY KEY,
    business_date TEXT NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE
    ON loanledger_loan_state, loanledger_loan_state_cover, loanledger_loan_state_horizon
    TO loanledger_writer;

GRANT SELECT
    ON loanledger_loan_state, loanledger_loan_state_cover, loanledger_loan_state_horizon
    TO loanledger_reader;
