-- 0007 the notices read model (projections/notices.sql, the source of truth): every notice close
-- of day issued and every receipt, with effective date and recorded time, for the `notices`
-- report as of any date as known at any moment. Copied from the `-- name: create*` blocks there;
-- the integration tests compare the result with what the library creates.
--
-- Runs with search_path set to the target schema.

CREATE TABLE IF NOT EXISTS loanledger_notices (
    notice_id TEXT PRIMARY KEY,
    loan_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    due_date TEXT,
    recorded_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS loanledger_notices_issued
    ON loanledger_notices (issued_on, recorded_at);

CREATE TABLE IF NOT EXISTS loanledger_notice_receipts (
    loan_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    notice_id TEXT NOT NULL,
    acknowledged_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (loan_id, version)
);

CREATE INDEX IF NOT EXISTS loanledger_notice_receipts_notice
    ON loanledger_notice_receipts (notice_id, acknowledged_on);

GRANT SELECT, INSERT, UPDATE, DELETE
    ON loanledger_notices, loanledger_notice_receipts
    TO loanledger_writer;

GRANT SELECT ON loanledger_notices, loanledger_notice_receipts TO loanledger_reader;
