-- The loan index: one row per loan, for listing a book and for close of day.
--
-- last_version is the newest event seen for the loan. Close of day looks at a loan when it has
-- events it has not yet processed (processed_version < last_version) or when its next action
-- date has come (next_action_on <= the day), so that closing a day costs what the day's work
-- costs, not what the book's size costs. Dates are ISO text, which sorts chronologically.

-- name: create
CREATE TABLE IF NOT EXISTS loanledger_loan_index (
    loan_id TEXT PRIMARY KEY,
    aggregate_id TEXT NOT NULL,
    borrower_id TEXT NOT NULL,
    applied_on TEXT NOT NULL,
    last_version BIGINT NOT NULL,
    processed_version BIGINT NOT NULL DEFAULT 0,
    next_action_on TEXT
)

-- name: create_due_index
CREATE INDEX IF NOT EXISTS loanledger_loan_index_next_action
    ON loanledger_loan_index (next_action_on)

-- name: create_borrower_index
CREATE INDEX IF NOT EXISTS loanledger_loan_index_borrower
    ON loanledger_loan_index (borrower_id)

-- name: drop
DROP TABLE IF EXISTS loanledger_loan_index

-- name: clear
DELETE FROM loanledger_loan_index

-- name: insert_applied
INSERT INTO loanledger_loan_index (loan_id, aggregate_id, borrower_id, applied_on, last_version)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (loan_id) DO UPDATE SET last_version = excluded.last_version

-- name: touch
UPDATE loanledger_loan_index SET last_version = ?
WHERE loan_id = ? AND last_version < ?

-- name: insert_applied_rows [postgresql]
-- insert_applied for a whole batch in one statement (each column an array, one element a loan):
-- one round trip instead of one per loan.
INSERT INTO loanledger_loan_index (loan_id, aggregate_id, borrower_id, applied_on, last_version)
SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[])
ON CONFLICT (loan_id) DO UPDATE SET last_version = excluded.last_version

-- name: touch_rows [postgresql]
-- touch for a whole batch in one statement (loan ids and versions as two arrays).
UPDATE loanledger_loan_index AS i SET last_version = t.last_version
FROM unnest(?::text[], ?::bigint[]) AS t (loan_id, last_version)
WHERE i.loan_id = t.loan_id AND i.last_version < t.last_version

-- name: due
SELECT loan_id FROM loanledger_loan_index
WHERE processed_version < last_version OR next_action_on <= ?
ORDER BY loan_id

-- name: processed
UPDATE loanledger_loan_index SET processed_version = ?, next_action_on = ?
WHERE loan_id = ?

-- name: all_loans
SELECT loan_id FROM loanledger_loan_index ORDER BY loan_id

-- name: loan_count
SELECT COUNT(*) FROM loanledger_loan_index

-- name: loans_of_borrower
SELECT loan_id FROM loanledger_loan_index WHERE borrower_id = ? ORDER BY loan_id

-- name: borrowers_with_several_loans
-- The only borrowers whose loans are graded together (contagion), with their loans: few in a
-- book, so a process keeps them in memory instead of a map of every borrower.
SELECT borrower_id, loan_id FROM loanledger_loan_index
WHERE borrower_id IN (
    SELECT borrower_id FROM loanledger_loan_index GROUP BY borrower_id HAVING COUNT(*) > 1
)
ORDER BY borrower_id, loan_id

-- name: earliest_applied
SELECT MIN(applied_on) FROM loanledger_loan_index
