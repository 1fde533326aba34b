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

-- The small tables every licence query joins (a few rows each) never reach autovacuum's
-- default analyze threshold (50 changed rows), and without statistics the planner guessed
-- one approved source matches a handful of accounts: the Reclaim page's first 500 rows took
-- 2 s instead of 9 ms (BENCHMARKS.md). Analyze them after any few changes. (PostgreSQL
-- only: SQLite runs without statistics on purpose, see `store::bulk`.)
ALTER TABLE sources SET (autovacuum_analyze_threshold = 5, autovacuum_analyze_scale_factor = 0);
ALTER TABLE organisations SET (autovacuum_analyze_threshold = 5, autovacuum_analyze_scale_factor = 0);
ALTER TABLE licence_pools SET (autovacuum_analyze_threshold = 5, autovacuum_analyze_scale_factor = 0);
ALTER TABLE prices SET (autovacuum_analyze_threshold = 5, autovacuum_analyze_scale_factor = 0);
