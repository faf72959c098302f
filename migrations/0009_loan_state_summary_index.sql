-- 0009 the loan_state summary index (projections/loan_state.sql, `create_summary_index`, the
-- source of truth): a report as of a date finds each loan's segment through it, and the
-- portfolio summaries read every column they need from it alone (INCLUDE), never visiting the
-- table and its per-segment JSON. It replaces `loanledger_loan_state_as_of` of 0006, whose
-- (valid_to, valid_from, ...) order it supersedes. Building it reads the whole table once.
--
-- Runs with search_path set to the target schema.

DROP INDEX IF EXISTS loanledger_loan_state_as_of;

CREATE INDEX IF NOT EXISTS loanledger_loan_state_summary
    ON loanledger_loan_state (recorded_to, valid_to, valid_from, recorded_from)
    INCLUDE (
        loan_id, borrower_id, status, classification, contagion_classification, ifrs9_stage,
        bucket, disbursed, principal_outstanding, overdue_principal, overdue_interest
    );
