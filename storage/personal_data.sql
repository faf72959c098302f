-- Personal data protection: each data subject's (borrower's, guarantor's) data key, wrapped under
-- the master key, and the log of what was done with personal data (forgetting, unmasked exports,
-- master-key rotations). Neither is a projection of events, so rebuild() keeps both.
--
-- Destroying a subject's row in loanledger_data_keys is the crypto-shredding: the events keep
-- their ciphertext (they are immutable and hash-chained), and without the data key it can never
-- be read again. `wrapped` is base64 text (nonce | AES-GCM ciphertext of the data key), portable
-- between SQLite and PostgreSQL; `master_key_id` names the master key it is wrapped under, so a
-- rotation re-wraps rows without touching any event.

-- name: create_keys
CREATE TABLE IF NOT EXISTS loanledger_data_keys (
    subject TEXT PRIMARY KEY,
    data_key_id TEXT NOT NULL UNIQUE,
    master_key_id TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    created_at TEXT NOT NULL
)

-- name: create_log
CREATE TABLE IF NOT EXISTS loanledger_personal_data_log (
    recorded_at TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL
)

-- name: create_log_index
CREATE INDEX IF NOT EXISTS loanledger_personal_data_log_subject
    ON loanledger_personal_data_log (subject, action)

-- name: key_of_subject
SELECT data_key_id, master_key_id, wrapped FROM loanledger_data_keys WHERE subject = ?

-- name: keys_of_subjects
-- Many subjects' keys in one query (a bulk load's new borrowers): the parameter is a JSON array
-- of subjects.
SELECT subject, data_key_id, master_key_id, wrapped FROM loanledger_data_keys
WHERE subject IN (SELECT value FROM json_each(?))

-- name: keys_of_subjects [postgresql]
SELECT subject, data_key_id, master_key_id, wrapped FROM loanledger_data_keys
WHERE subject IN (SELECT jsonb_array_elements_text(?::jsonb))

-- name: any_master_key
-- The master key some data key is wrapped under (none: the store holds no personal data yet).
SELECT master_key_id FROM loanledger_data_keys LIMIT 1

-- name: key_by_id
SELECT subject, master_key_id, wrapped FROM loanledger_data_keys WHERE data_key_id = ?

-- name: keys_by_ids
-- Many data keys by id in one query (a page of events to decode): a JSON array of ids.
SELECT subject, data_key_id, master_key_id, wrapped FROM loanledger_data_keys
WHERE data_key_id IN (SELECT value FROM json_each(?))

-- name: keys_by_ids [postgresql]
SELECT subject, data_key_id, master_key_id, wrapped FROM loanledger_data_keys
WHERE data_key_id IN (SELECT jsonb_array_elements_text(?::jsonb))

-- name: insert_key
INSERT INTO loanledger_data_keys (subject, data_key_id, master_key_id, wrapped, created_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (subject) DO NOTHING

-- name: delete_key
DELETE FROM loanledger_data_keys WHERE subject = ?

-- name: keys_not_under
SELECT subject, data_key_id, master_key_id, wrapped FROM loanledger_data_keys
WHERE master_key_id <> ? ORDER BY subject LIMIT ?

-- name: rewrap
UPDATE loanledger_data_keys SET master_key_id = ?, wrapped = ?
WHERE subject = ? AND data_key_id = ?

-- name: insert_log
INSERT INTO loanledger_personal_data_log (recorded_at, action, subject, actor, detail)
VALUES (?, ?, ?, ?, ?)

-- name: forgotten
SELECT MIN(recorded_at) FROM loanledger_personal_data_log WHERE subject = ? AND action = 'forget'

-- name: log
SELECT recorded_at, action, subject, actor, detail FROM loanledger_personal_data_log
ORDER BY recorded_at, action, subject
