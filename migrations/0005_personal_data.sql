-- 0005 personal data: each data subject's wrapped data key, and the log of what was done with
-- personal data (forgetting, unmasked exports, master-key rotations). Copied from the
-- `-- name: create*` blocks of projections/personal_data.sql (the source of truth for the
-- application); the integration tests compare these tables with the ones the library creates.
--
-- Runs with search_path set to the target schema. IF NOT EXISTS everywhere: safe on a schema the
-- ledger already created.

CREATE TABLE IF NOT EXISTS loanledger_data_keys (
    subject TEXT PRIMARY KEY,
    data_key_id TEXT NOT NULL UNIQUE,
    master_key_id TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS loanledger_personal_data_log (
    recorded_at TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS loanledger_personal_data_log_subject
    ON loanledger_personal_data_log (subject, action);

-- The writer creates data keys, re-wraps them (UPDATE, master-key rotation) and destroys them
-- (DELETE: crypto-shredding). It only appends to the log: no UPDATE or DELETE there, so a
-- forgetting or an unmasked export, once logged, stays logged.
GRANT SELECT, INSERT, UPDATE, DELETE ON loanledger_data_keys TO loanledger_writer;
GRANT SELECT, INSERT ON loanledger_personal_data_log TO loanledger_writer;

-- Readers (reporting tools) never see wrapped keys; auditors among them may read the log.
GRANT SELECT ON loanledger_personal_data_log TO loanledger_reader;
