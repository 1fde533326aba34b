-- Incomplete snapshots are counted per agent (the pending cap) and expired by age: both
-- look snapshots up by agent and state.
CREATE INDEX IF NOT EXISTS snapshots_agent_state ON snapshots (agent_id, state);
