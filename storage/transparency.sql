-- The transparency log (persistence/transparency.py): an RFC 9162 Merkle tree over every stored
-- event in notification-id order, and the checkpoints (signed tree heads) taken of it.
-- The leaves and nodes are derived data, rebuildable from the events; rebuild() keeps them (they
-- are not a projection) and verify() recomputes the tree from the events. The checkpoints are
-- facts: what an auditor was told the book was at a moment; rebuild() never touches them.
-- Hashes are lower-case hex; `loan_id` (the journal's) is kept on each loan's first leaf only, so
-- that a whole deleted loan can still be named.

-- name: create_leaves
CREATE TABLE IF NOT EXISTS loanledger_merkle_leaves (
    position BIGINT PRIMARY KEY,
    notification_id BIGINT NOT NULL,
    originator_id TEXT NOT NULL,
    originator_version BIGINT NOT NULL,
    leaf TEXT NOT NULL,
    loan_id TEXT
)

-- name: create_leaves_index
CREATE INDEX IF NOT EXISTS loanledger_merkle_leaves_event
    ON loanledger_merkle_leaves (originator_id, originator_version)

-- name: create_nodes
CREATE TABLE IF NOT EXISTS loanledger_merkle_nodes (
    level INTEGER NOT NULL,
    position BIGINT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (level, position)
)

-- name: create_checkpoints
CREATE TABLE IF NOT EXISTS loanledger_checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    signature TEXT,
    key_id TEXT,
    public_key TEXT
)

-- name: size
SELECT position, notification_id FROM loanledger_merkle_leaves ORDER BY position DESC LIMIT 1

-- name: insert_leaf
INSERT INTO loanledger_merkle_leaves
    (position, notification_id, originator_id, originator_version, leaf, loan_id)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (position) DO NOTHING

-- name: insert_node
INSERT INTO loanledger_merkle_nodes (level, position, hash) VALUES (?, ?, ?)
ON CONFLICT (level, position) DO NOTHING

-- name: leaf
SELECT leaf FROM loanledger_merkle_leaves WHERE position = ?

-- name: node
SELECT hash FROM loanledger_merkle_nodes WHERE level = ? AND position = ?

-- name: leaves
SELECT position, originator_id, originator_version, leaf FROM loanledger_merkle_leaves
WHERE position >= ? AND position < ? ORDER BY position

-- name: loan_of
SELECT loan_id FROM loanledger_merkle_leaves
WHERE originator_id = ? AND originator_version = 1

-- name: loan_leaves
SELECT position, originator_version FROM loanledger_merkle_leaves
WHERE originator_id = ? AND position < ? ORDER BY position

-- name: insert_checkpoint
INSERT INTO loanledger_checkpoints (tree_size, root, recorded_at, signature, key_id, public_key)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (tree_size) DO NOTHING

-- name: checkpoints
SELECT tree_size, root, recorded_at, signature, key_id, public_key
FROM loanledger_checkpoints ORDER BY tree_size

-- name: checkpoint
SELECT tree_size, root, recorded_at, signature, key_id, public_key
FROM loanledger_checkpoints WHERE tree_size = ?

-- name: latest_checkpoint
SELECT tree_size, root, recorded_at, signature, key_id, public_key
FROM loanledger_checkpoints ORDER BY tree_size DESC LIMIT 1
