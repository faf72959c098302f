-- Where each projection has read the notification log up to. A projection's rows and its
-- position are written in one transaction, so after any stop it resumes exactly once.

-- name: create
CREATE TABLE IF NOT EXISTS loanledger_tracking (
    projection TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    version INTEGER NOT NULL
)

-- name: select
SELECT position, version FROM loanledger_tracking WHERE projection = ?

-- name: upsert
INSERT INTO loanledger_tracking (projection, position, version) VALUES (?, ?, ?)
ON CONFLICT (projection) DO UPDATE SET position = excluded.position, version = excluded.version

-- name: delete
DELETE FROM loanledger_tracking WHERE projection = ?

-- name: lock [postgresql]
-- Serialises catch-ups of one schema across processes (a follower and a querying application,
-- say): whoever holds it re-reads the positions inside its transaction, so no batch is
-- projected twice. SQLite needs nothing: BEGIN IMMEDIATE already admits one writer.
SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/loanledger_tracking'))

-- name: lock [sqlite]
SELECT 1

-- name: select_named
-- The rows of a partitioned rebuild's partitions (`loan_state@1/2`, ...): see
-- loanledger/application/partitioned.py.
SELECT projection, position, version FROM loanledger_tracking WHERE projection LIKE ?

-- name: delete_named
DELETE FROM loanledger_tracking WHERE projection LIKE ?

-- name: lock_named [postgresql]
-- A partition's own lock (its rows are its loans'; partitions write side by side).
SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/loanledger_tracking/' || ?))

-- name: lock_named [sqlite]
SELECT ?
