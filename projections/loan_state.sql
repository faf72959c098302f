-- The bitemporal loan state: each loan's report row as segments of effective time
-- [valid_from, valid_to) × recorded time [recorded_from, recorded_to).
--
-- Within a segment only days past due (counted from overdue_since) and penalty (each
-- installment's exact accrual plus its daily amount, in `detail`) move, and they move linearly;
-- everything else in the row is constant (see loanledger/projection/segments.py for where the
-- boundaries fall). A report as of D known at T reads, for each loan, the one segment with
-- valid_from <= D < valid_to and recorded_from <= T < recorded_to. Dates are ISO text and
-- recorded times are UTC ISO text of fixed width, so text order is time order; open ends are
-- '9999-12-31' and '9999-12-31T23:59:59.999999'.
--
-- A new fact recorded at T and effective from E closes (recorded_to = T) the open segments that
-- end after E and writes the loan's segments from E under recorded_from = T: nothing recorded is
-- ever rewritten, so every earlier answer can be given again. Segments are written up to the
-- business horizon (the latest effective date seen); a report beyond a loan's coverage replays
-- that loan instead.

-- name: create
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
)

-- name: create_as_of_index
CREATE INDEX IF NOT EXISTS loanledger_loan_state_as_of
    ON loanledger_loan_state (valid_to, valid_from, recorded_to, recorded_from)

-- name: create_current_index [sqlite]
-- The segments as known now (recorded_to open), with every column the portfolio summaries
-- read: a report as known now finds each loan's segment here and reads the summary from the
-- index alone, never visiting the table, whose rows carry each segment's `detail` JSON (~800
-- bytes: gigabytes on a 100,000-loan book). Partial, so it costs a write only for segments
-- still open: a rebuild writes most segments already superseded, and they never enter it.
-- Reports as known at an earlier moment use the as-of index and the table. (recorded_to, the
-- same in every entry, is a column too: without it SQLite visits the table to test it.)
CREATE INDEX IF NOT EXISTS loanledger_loan_state_current
    ON loanledger_loan_state (
        valid_to, valid_from, loan_id, borrower_id, status, classification,
        contagion_classification, ifrs9_stage, bucket, disbursed, principal_outstanding,
        overdue_principal, overdue_interest, recorded_to
    )
    WHERE recorded_to = '9999-12-31T23:59:59.999999'

-- name: create_current_index [postgresql]
CREATE INDEX IF NOT EXISTS loanledger_loan_state_current
    ON loanledger_loan_state (valid_to, valid_from)
    INCLUDE (
        loan_id, borrower_id, status, classification, contagion_classification, ifrs9_stage,
        bucket, disbursed, principal_outstanding, overdue_principal, overdue_interest
    )
    WHERE recorded_to = '9999-12-31T23:59:59.999999'

-- name: create_open_index
CREATE INDEX IF NOT EXISTS loanledger_loan_state_open
    ON loanledger_loan_state (loan_id, recorded_to, valid_to)

-- name: create_cover
CREATE TABLE IF NOT EXISTS loanledger_loan_state_cover (
    loan_id TEXT PRIMARY KEY,
    known_from TEXT NOT NULL,
    recorded_from TEXT NOT NULL,
    covered_to TEXT NOT NULL
)

-- name: create_cover_index
CREATE INDEX IF NOT EXISTS loanledger_loan_state_cover_to
    ON loanledger_loan_state_cover (covered_to)

-- name: create_horizon
CREATE TABLE IF NOT EXISTS loanledger_loan_state_horizon (
    id INTEGER PRIMARY KEY,
    business_date TEXT NOT NULL
)

-- name: drop
DROP TABLE IF EXISTS loanledger_loan_state

-- name: drop_cover
DROP TABLE IF EXISTS loanledger_loan_state_cover

-- name: drop_horizon
DROP TABLE IF EXISTS loanledger_loan_state_horizon

-- name: clear
DELETE FROM loanledger_loan_state

-- name: clear_cover
DELETE FROM loanledger_loan_state_cover

-- name: clear_horizon
DELETE FROM loanledger_loan_state_horizon

-- name: insert
INSERT INTO loanledger_loan_state (
    loan_id, recorded_from, valid_from, valid_to, recorded_to, borrower_id, status,
    classification, contagion_classification, ifrs9_stage, bucket, disbursed,
    principal_outstanding, overdue_principal, overdue_interest, overdue_since, detail
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: insert_json [postgresql]
-- `insert` of a whole batch in one statement: a JSON array of rows, each an array of the
-- columns in `insert`'s order (one round trip instead of one a row).
INSERT INTO loanledger_loan_state (
    loan_id, recorded_from, valid_from, valid_to, recorded_to, borrower_id, status,
    classification, contagion_classification, ifrs9_stage, bucket, disbursed,
    principal_outstanding, overdue_principal, overdue_interest, overdue_since, detail
)
SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, (r->>9)::integer, r->>10,
       (r->>11)::integer, r->>12, r->>13, r->>14, r->>15, r->>16
FROM jsonb_array_elements(?::jsonb) AS r

-- name: open_after [sqlite]
-- The open segments of a batch's loans that end after a date given for each loan (a JSON
-- array of [loan_id, date] pairs), as `insert` parameters: the projection supersedes them in
-- memory while it writes the batch.
SELECT s.loan_id, s.recorded_from, s.valid_from, s.valid_to, s.recorded_to, s.borrower_id,
       s.status, s.classification, s.contagion_classification, s.ifrs9_stage, s.bucket,
       s.disbursed, s.principal_outstanding, s.overdue_principal, s.overdue_interest,
       s.overdue_since, s.detail
FROM json_each(?) AS b
JOIN loanledger_loan_state s
  ON s.loan_id = json_extract(b.value, '$[0]') AND s.recorded_to = ?
 AND s.valid_to > json_extract(b.value, '$[1]')

-- name: open_after [postgresql]
SELECT s.loan_id, s.recorded_from, s.valid_from, s.valid_to, s.recorded_to, s.borrower_id,
       s.status, s.classification, s.contagion_classification, s.ifrs9_stage, s.bucket,
       s.disbursed, s.principal_outstanding, s.overdue_principal, s.overdue_interest,
       s.overdue_since, s.detail
FROM jsonb_array_elements(?::jsonb) AS b
JOIN loanledger_loan_state s ON s.loan_id = b->>0 AND s.recorded_to = ? AND s.valid_to > b->>1

-- name: close_segment
-- A stored open segment superseded by a later fact (by key: the projection knows which).
UPDATE loanledger_loan_state SET recorded_to = ?
WHERE loan_id = ? AND recorded_from = ? AND valid_from = ?

-- name: close_segment_json [postgresql]
UPDATE loanledger_loan_state s SET recorded_to = u->>0
FROM jsonb_array_elements(?::jsonb) AS u
WHERE s.loan_id = u->>1 AND s.recorded_from = u->>2 AND s.valid_from = u->>3

-- name: covers [sqlite]
-- The cover rows of a batch's loans (a JSON array of loan ids).
SELECT loan_id, known_from, recorded_from, covered_to FROM loanledger_loan_state_cover
WHERE loan_id IN (SELECT value FROM json_each(?))

-- name: covers [postgresql]
SELECT loan_id, known_from, recorded_from, covered_to FROM loanledger_loan_state_cover
WHERE loan_id IN (SELECT jsonb_array_elements_text(?::jsonb))

-- name: upsert_cover
INSERT INTO loanledger_loan_state_cover (loan_id, known_from, recorded_from, covered_to)
VALUES (?, ?, ?, ?)
ON CONFLICT (loan_id) DO UPDATE
SET recorded_from = excluded.recorded_from, covered_to = excluded.covered_to

-- name: upsert_cover_json [postgresql]
INSERT INTO loanledger_loan_state_cover (loan_id, known_from, recorded_from, covered_to)
SELECT r->>0, r->>1, r->>2, r->>3 FROM jsonb_array_elements(?::jsonb) AS r
ON CONFLICT (loan_id) DO UPDATE
SET recorded_from = excluded.recorded_from, covered_to = excluded.covered_to

-- name: extend_cover
UPDATE loanledger_loan_state_cover SET covered_to = ? WHERE loan_id = ?

-- name: extend_cover_json [postgresql]
UPDATE loanledger_loan_state_cover c SET covered_to = u->>0
FROM jsonb_array_elements(?::jsonb) AS u
WHERE c.loan_id = u->>1

-- name: stale
SELECT loan_id, recorded_from, covered_to FROM loanledger_loan_state_cover
WHERE covered_to <= ? ORDER BY loan_id

-- name: horizon
SELECT business_date FROM loanledger_loan_state_horizon WHERE id = 1

-- name: upsert_horizon
INSERT INTO loanledger_loan_state_horizon (id, business_date) VALUES (1, ?)
ON CONFLICT (id) DO UPDATE SET business_date = excluded.business_date

-- name: horizon_of
-- Row 1 is the book's (above); a partitioned rebuild's partitions keep theirs in rows 2, 3, ...
-- until it finishes (loanledger/application/partitioned.py).
SELECT business_date FROM loanledger_loan_state_horizon WHERE id = ?

-- name: upsert_horizon_of
INSERT INTO loanledger_loan_state_horizon (id, business_date) VALUES (?, ?)
ON CONFLICT (id) DO UPDATE SET business_date = excluded.business_date

-- name: partition_horizons
SELECT id, business_date FROM loanledger_loan_state_horizon WHERE id <> 1 ORDER BY id

-- name: delete_partition_horizons
DELETE FROM loanledger_loan_state_horizon WHERE id <> 1

-- name: known_loans
-- Loans applied on or before the date and known at the moment: those a report must list.
SELECT i.loan_id, i.borrower_id FROM loanledger_loan_index i
JOIN loanledger_loan_state_cover c ON c.loan_id = i.loan_id
WHERE i.applied_on <= ? AND c.known_from <= ?
ORDER BY i.loan_id

-- name: known_loans_count
-- How many loans `known_loans` lists. A report whose rows cover that many loans covers them
-- all (a loan's segments start at its application and are recorded once it is known, so every
-- loan with a row is a known one) and need not fetch the list: 100,000 rows fetched to find
-- none missing.
SELECT COUNT(*) FROM loanledger_loan_index i
JOIN loanledger_loan_state_cover c ON c.loan_id = i.loan_id
WHERE i.applied_on <= ? AND c.known_from <= ?

-- name: summary_at
-- What the portfolio summaries (five_category, aging, ifrs9_stages) need of each loan as known
-- at a moment, in no particular order (they add up groups).
SELECT loan_id, borrower_id, status, classification, contagion_classification, ifrs9_stage,
       bucket, disbursed, principal_outstanding, overdue_principal, overdue_interest
FROM loanledger_loan_state
WHERE valid_to > ? AND valid_from <= ? AND recorded_to > ? AND recorded_from <= ?

-- name: summary_now
-- `summary_at` as known now, from the current index alone (its condition is spelled exactly as
-- the index's, so that the planner may use it; sorting by loan would take the table's primary
-- key order and visit every row of the table instead).
SELECT loan_id, borrower_id, status, classification, contagion_classification, ifrs9_stage,
       bucket, disbursed, principal_outstanding, overdue_principal, overdue_interest
FROM loanledger_loan_state
WHERE valid_to > ? AND valid_from <= ? AND recorded_to = '9999-12-31T23:59:59.999999'

-- name: grades_at
-- What a provision by grade needs of each loan as known at a moment (`summary_at`'s columns but
-- the bucket and overdue amounts: `provisions` reads two dates of a 100,000-loan book).
SELECT loan_id, borrower_id, status, classification, contagion_classification, ifrs9_stage,
       disbursed, principal_outstanding
FROM loanledger_loan_state
WHERE valid_to > ? AND valid_from <= ? AND recorded_to > ? AND recorded_from <= ?

-- name: grades_now
-- `grades_at` as known now, from the current index alone (as `summary_now`).
SELECT loan_id, borrower_id, status, classification, contagion_classification, ifrs9_stage,
       disbursed, principal_outstanding
FROM loanledger_loan_state
WHERE valid_to > ? AND valid_from <= ? AND recorded_to = '9999-12-31T23:59:59.999999'

-- name: rows_at
-- The loan_ledger rows: the summary columns plus the row at the segment's start, in no
-- particular order (the report sorts them with the loans it replays).
SELECT loan_id, borrower_id, status, classification, contagion_classification, ifrs9_stage,
       bucket, disbursed, principal_outstanding, overdue_principal, overdue_interest,
       valid_from, valid_to, overdue_since, detail
FROM loanledger_loan_state
WHERE valid_to > ? AND valid_from <= ? AND recorded_to > ? AND recorded_from <= ?

-- name: rows_now
-- `rows_at` as known now, finding the segments through the current index.
SELECT loan_id, borrower_id, status, classification, contagion_classification, ifrs9_stage,
       bucket, disbursed, principal_outstanding, overdue_principal, overdue_interest,
       valid_from, valid_to, overdue_since, detail
FROM loanledger_loan_state
WHERE valid_to > ? AND valid_from <= ? AND recorded_to = '9999-12-31T23:59:59.999999'
