-- 0009 the loan_state current index (projections/loan_state.sql, `create_current_index`, the
-- source of truth): the segments as known now (recorded_to open), found by effective date, with
-- every column the portfolio summaries read (INCLUDE), so that a report as known now reads the
-- summary from the index alone, never the table and its per-segment JSON. Partial, so only
-- segments still open cost a write. Building it reads the whole table once.
--
-- Runs with search_path set to the target schema.

CREATE INDEX IF NOT EXISTS loanledger_loan_state_current
    ON loanledger_loan_state (valid_to, valid_from)
    INCLUDE (
        loan_id, borrower_id, status, classification, contagion_classification, ifrs9_stage,
        bucket, disbursed, principal_outstanding, overdue_principal, overdue_interest
    )
    WHERE recorded_to = '9999-12-31T23:59:59.999999';
