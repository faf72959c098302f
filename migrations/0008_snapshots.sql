-- 0008 loan snapshots (projections/snapshots.sql, the source of truth): one row per long loan,
-- its decoded history up to a version, used by loads only while it matches the events (chain
-- link of that version, digest) and checked by verify(). Derived data: rebuild() deletes the
-- rows. Copied from the `-- name: create` block there; the integration tests compare the result
-- with what the library creates. Grants follow 0004: the writer takes and replaces snapshots;
-- the reader gets nothing (bodies hold the loans' facts, like the events it may not read).
--
-- Runs with search_path set to the target schema.

CREATE TABLE IF NOT EXISTS loanledger_snapshots (
    loan_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    link TEXT NOT NULL,
    format TEXT NOT NULL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    taken_at TEXT NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON loanledger_snapshots TO loanledger_writer;
