-- Notices (提示还贷通知, 书面催收通知, 依法收贷) and their receipts (回执), each with the business date
-- it took effect and the moment the ledger recorded it, so that the `notices` report as of D
-- known at T is one indexed query: the notices issued on or before D and recorded by T, each
-- with the latest receipt effective on or before D and recorded by T. Recorded times are UTC
-- ISO text of fixed width, so text order is time order.

-- name: create
CREATE TABLE IF NOT EXISTS loanledger_notices (
    notice_id TEXT PRIMARY KEY,
    loan_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    due_date TEXT,
    recorded_at TEXT NOT NULL
)

-- name: create_issued_index
CREATE INDEX IF NOT EXISTS loanledger_notices_issued
    ON loanledger_notices (issued_on, recorded_at)

-- name: create_receipts
CREATE TABLE IF NOT EXISTS loanledger_notice_receipts (
    loan_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    notice_id TEXT NOT NULL,
    acknowledged_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (loan_id, version)
)

-- name: create_receipts_index
CREATE INDEX IF NOT EXISTS loanledger_notice_receipts_notice
    ON loanledger_notice_receipts (notice_id, acknowledged_on)

-- name: drop
DROP TABLE IF EXISTS loanledger_notices

-- name: drop_receipts
DROP TABLE IF EXISTS loanledger_notice_receipts

-- name: clear
DELETE FROM loanledger_notices

-- name: clear_receipts
DELETE FROM loanledger_notice_receipts

-- name: insert
INSERT INTO loanledger_notices (notice_id, loan_id, kind, issued_on, due_date, recorded_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (notice_id) DO NOTHING

-- name: insert_receipt
INSERT INTO loanledger_notice_receipts
    (loan_id, version, notice_id, acknowledged_on, recorded_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (loan_id, version) DO NOTHING

-- name: at
-- The `notices` report: ordered by loan, issue date and notice id, as the replay orders them.
SELECT n.notice_id, n.loan_id, n.kind, n.issued_on, n.due_date,
       (SELECT r.acknowledged_on FROM loanledger_notice_receipts r
        WHERE r.loan_id = n.loan_id AND r.notice_id = n.notice_id
          AND r.acknowledged_on <= ? AND r.recorded_at <= ?
        ORDER BY r.acknowledged_on DESC, r.version DESC
        LIMIT 1) AS acknowledged_on
FROM loanledger_notices n
WHERE n.issued_on <= ? AND n.recorded_at <= ?
ORDER BY n.loan_id, n.issued_on, n.notice_id
