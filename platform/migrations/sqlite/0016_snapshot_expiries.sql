-- What the expiry job dropped per agent: incomplete snapshots expired so far and when it
-- last dropped one, for Sources & agents.
CREATE TABLE IF NOT EXISTS snapshot_expiries (
    agent_id         TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
    expired          BIGINT NOT NULL,
    last_expired_at  TEXT NOT NULL
);
