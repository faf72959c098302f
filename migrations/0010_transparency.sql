-- 0010 the transparency log (projections/transparency.sql, the source of truth): the Merkle
-- tree over every stored event (leaves and complete nodes, derived data rebuildable from the
-- events) and the checkpoints (signed tree heads) taken of it. Copied from the `create` blocks
-- there; the integration tests compare the result with what the library creates.
-- Grants follow 0004: the writer appends leaves, nodes and checkpoints and never changes one
-- (no UPDATE or DELETE: a checkpoint, once recorded, is what an auditor may have been given);
-- the reader may read the checkpoints (tree sizes and roots reveal no loan's facts).
--
-- Runs with search_path set to the target schema.

CREATE TABLE IF NOT EXISTS loanledger_merkle_leaves (
    position BIGINT PRIMARY KEY,
    notification_id BIGINT NOT NULL,
    originator_id TEXT NOT NULL,
    originator_version BIGINT NOT NULL,
    leaf TEXT NOT NULL,
    loan_id TEXT
);

CREATE INDEX IF NOT EXISTS loanledger_merkle_leaves_event
    ON loanledger_merkle_leaves (originator_id, originator_version);

CREATE TABLE IF NOT EXISTS loanledger_merkle_nodes (
    level INTEGER NOT NULL,
    position BIGINT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (level, position)
);

CREATE TABLE IF NOT EXISTS loanledger_checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    signature TEXT,
    key_id TEXT,
    public_key TEXT
);

GRANT SELECT, INSERT
    ON loanledger_merkle_leaves, loanledger_merkle_nodes, loanledger_checkpoints
    TO loanledger_writer;

GRANT SELECT ON loanledger_checkpoints TO loanledger_reader;
