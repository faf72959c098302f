-- 0003 immutable events: recorded history cannot be edited, not even by the table's owner.
-- A fact recorded wrongly is corrected by a new, compensating event (DESIGN §2), so the event
-- store only ever needs INSERT and SELECT. Privileges (0004) keep other roles from changing
-- events; these triggers also stop the owner and superusers, who bypass privileges.
--
-- Statement-level BEFORE triggers refuse the attempt itself, whether or not it would touch a
-- row (an UPDATE ... WHERE false is refused too), and cost nothing per row. TRUNCATE fires no
-- row triggers, so it needs its own statement trigger.
--
-- What this does not stop: the owner or a superuser can DROP or DISABLE the trigger (or set
-- session_replication_role = replica, superuser only) and then edit. That is visible in the
-- catalog and the server log, and verify() still detects any edit through the hash chain.
--
-- Ordered before the grants (0004) so that no grantee ever holds a privilege on the events table
-- without these triggers in place. Runs with search_path set to the target schema.

CREATE OR REPLACE FUNCTION loanledger_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING HINT = 'Record a new, compensating event instead of editing recorded ones.';
END
$$;

COMMENT ON FUNCTION loanledger_events_refuse_change() IS
    'Refuses UPDATE, DELETE and TRUNCATE on loanledger_events: recorded events are immutable.';

-- CREATE OR REPLACE TRIGGER (PostgreSQL 14+) keeps the migration safe to re-apply by hand.
CREATE OR REPLACE TRIGGER loanledger_events_refuse_update_delete
    BEFORE UPDATE OR DELETE ON loanledger_events
    FOR EACH STATEMENT EXECUTE FUNCTION loanledger_events_refuse_change();

CREATE OR REPLACE TRIGGER loanledger_events_refuse_truncate
    BEFORE TRUNCATE ON loanledger_events
    FOR EACH STATEMENT EXECUTE FUNCTION loanledger_events_refuse_change();
