-- 0011 the auditor role: a NOLOGIN group role that reads what verify() and prove() read (the
-- events, the transparency log and its checkpoints, the snapshots verify() rebuilds, the read
-- models and their tracking positions) and writes nothing anywhere: no INSERT, UPDATE, DELETE
-- or TRUNCATE, and no data keys (proofs carry personal data still encrypted).
-- Grant it to a login role: CREATE ROLE audit_firm LOGIN PASSWORD '...' IN ROLE loanledger_auditor;
-- Created only if missing, like 0004's roles; the grants are made on this schema every time.
--
-- Runs with search_path set to the target schema; current_schema() names it.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'loanledger_auditor') THEN
        BEGIN
            CREATE ROLE loanledger_auditor NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO loanledger_auditor', current_schema());
END
$$;

GRANT SELECT ON
    loanledger_events,
    loanledger_merkle_leaves,
    loanledger_merkle_nodes,
    loanledger_checkpoints,
    loanledger_snapshots,
    loanledger_tracking,
    loanledger_loan_index,
    loanledger_closed_days,
    loanledger_loan_state,
    loanledger_loan_state_cover,
    loanledger_loan_state_horizon,
    loanledger_notices,
    loanledger_notice_receipts
    TO loanledger_auditor;
