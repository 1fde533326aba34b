-- The open period of each licence's joined state lives on its `licences_current` row;
-- `licence_history` keeps only closed periods (issue 12, section 6; BENCHMARKS.md
-- "Platform: licences"). A first load then writes one row per licence instead of two, and a
-- state change appends one closed row instead of closing one and opening another.
-- `licence_periods` is the union readers use: every period, open ones with valid_to NULL.
-- Keep in step with the other backend's file.

ALTER TABLE licences_current ADD COLUMN state_from TEXT NOT NULL DEFAULT '';
ALTER TABLE licences_current ADD COLUMN state_cause TEXT NOT NULL DEFAULT '';

UPDATE licences_current SET
    state_from = COALESCE((SELECT MIN(h.valid_from) FROM licence_history h
        WHERE h.source_id = licences_current.source_id AND h.account_id = licences_current.account_id
          AND h.pool_id = licences_current.pool_id AND h.valid_to IS NULL), first_seen),
    state_cause = COALESCE((SELECT MIN(h.snapshot_id) FROM licence_history h
        WHERE h.source_id = licences_current.source_id AND h.account_id = licences_current.account_id
          AND h.pool_id = licences_current.pool_id AND h.valid_to IS NULL), '');

DELETE FROM licence_history WHERE valid_to IS NULL;

CREATE VIEW licence_periods AS
    SELECT source_id, account_id, pool_id, state, reason, valid_from, valid_to, snapshot_id
    FROM licence_history
    UNION ALL
    SELECT source_id, account_id, pool_id, state, reason, state_from, NULL, state_cause
    FROM licences_current;

-- What the agent last sent for each account and its licences, without the last activity
-- (`store::licences::sync::fingerprint`): an upload skips the accounts whose fingerprint
-- is unchanged. Empty for rows from before: they are compared in full once.
ALTER TABLE app_accounts ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';

-- (PostgreSQL's file also lowers the analyze thresholds of the small tables; SQLite runs
-- without statistics on purpose, see `store::bulk`.)
