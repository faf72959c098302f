-- Business days closed by close_day. Not a projection of events (it is the batch's own journal),
-- so rebuild() keeps it.

-- name: create
CREATE TABLE IF NOT EXISTS loanledger_closed_days (
    business_date TEXT PRIMARY KEY,
    closed_at TEXT NOT NULL,
    loans_processed BIGINT NOT NULL,
    events_recorded BIGINT NOT NULL
)

-- name: insert
INSERT INTO loanledger_closed_days (business_date, closed_at, loans_processed, events_recorded)
VALUES (?, ?, ?, ?)
ON CONFLICT (business_date) DO NOTHING

-- name: last
SELECT MAX(business_date) FROM loanledger_closed_days

-- name: is_closed
SELECT 1 FROM loanledger_closed_days WHERE business_date = ?
