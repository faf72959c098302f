-- Snapshots of long loans' decoded history (persistence/snapshots.py): one row per loan, the
-- newest, replaced as the loan grows. Derived data like the read models: rebuild() deletes every
-- row, and a row is used only when its `link` is still the stored chain link of event `version`
-- and `digest` is the SHA-256 of `body`; verify() rebuilds each body from the events and
-- compares. Personal fields stay sealed in `body` exactly as in the events.

-- name: create
CREATE TABLE IF NOT EXISTS loanledger_snapshots (
    loan_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    link TEXT NOT NULL,
    format TEXT NOT NULL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL,
    taken_at TEXT NOT NULL
)

-- name: latest
SELECT version, link, format, digest, body FROM loanledger_snapshots WHERE loan_id = ?

-- name: version
SELECT version, format FROM loanledger_snapshots WHERE loan_id = ?

-- name: upsert
INSERT INTO loanledger_snapshots (loan_id, version, link, format, digest, body, taken_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (loan_id) DO UPDATE SET
    version = excluded.version,
    link = excluded.link,
    format = excluded.format,
    digest = excluded.digest,
    body = excluded.body,
    taken_at = excluded.taken_at
WHERE excluded.version > loanledger_snapshots.version
    OR excluded.format <> loanledger_snapshots.format

-- name: discard
DELETE FROM loanledger_snapshots WHERE loan_id = ? AND version = ? AND digest = ?

-- name: loans
SELECT loan_id FROM loanledger_snapshots ORDER BY loan_id

-- name: clear
DELETE FROM loanledger_snapshots

-- name: held [sqlite]
-- `latest` of each of a batch's loans (a JSON array of loan ids) that has a snapshot.
SELECT loan_id, version, link, format, digest, body FROM loanledger_snapshots
WHERE loan_id IN (SELECT value FROM json_each(?))

-- name: held [postgresql]
SELECT loan_id, version, link, format, digest, body FROM loanledger_snapshots
WHERE loan_id IN (SELECT jsonb_array_elements_text(?::jsonb))
