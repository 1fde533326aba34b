-- Seatbroker platform schema (PostgreSQL). Keep in step with ../sqlite/0001_init.sql:
-- the same tables, columns and meanings; only the types differ.
--
-- Conventions (so the same SQL runs on both backends through sqlx's Any driver):
--   timestamps are TEXT, RFC 3339 UTC with microseconds and `Z` (fixed width, so they
--   compare as strings); days are TEXT `YYYY-MM-DD`; booleans are BIGINT 0/1; every
--   integer is a 64-bit BIGINT; JSON is TEXT.

-- Enrollment tokens an administrator creates; the token itself is shown once and only
-- its SHA-256 is kept.
CREATE TABLE enrollment_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    expires_at  TEXT,                          -- NULL: never expires
    max_uses    BIGINT,                       -- NULL: unlimited
    uses        BIGINT NOT NULL DEFAULT 0,
    revoked_at  TEXT,
    revoked_by  TEXT
);

-- One row per enrollment (a reinstall is a new agent).
CREATE TABLE agents (
    id                  TEXT PRIMARY KEY,
    install_id          TEXT NOT NULL,
    host_name           TEXT NOT NULL,
    agent_version       TEXT NOT NULL,
    os                  TEXT NOT NULL DEFAULT '',
    credential_hash     TEXT NOT NULL UNIQUE,  -- SHA-256 hex of the whole credential
    state               TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'revoked')),
    state_message       TEXT,                  -- shown to the agent (e.g. why it was revoked)
    enrolled_at         TEXT NOT NULL,
    enrolled_with_token TEXT REFERENCES enrollment_tokens (id),
    decided_by          TEXT,
    decided_at          TEXT,
    approved_at         TEXT,
    last_seen_at        TEXT,                  -- any authenticated request
    last_heartbeat_at   TEXT,
    spool_snapshots     BIGINT,
    spool_bytes         BIGINT,
    last_error          TEXT,
    heartbeat_json      TEXT                   -- the last Heartbeat as received
);
CREATE INDEX agents_state ON agents (state);
CREATE INDEX agents_install_id ON agents (install_id);

-- A data source as the platform knows it: one HR tenant whose history is kept. Created
-- when an administrator approves an agent's source as new (its id is that link's id).
CREATE TABLE sources (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    tenant_id         TEXT NOT NULL,
    tenant_name       TEXT NOT NULL DEFAULT '',
    name              TEXT NOT NULL,
    interval_secs     BIGINT NOT NULL DEFAULT 0,
    state             TEXT NOT NULL CHECK (state IN ('approved', 'revoked')),
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    last_upload_at    TEXT,                    -- when the last snapshot was applied
    last_snapshot_at  TEXT,                    -- collected_at of that snapshot
    last_snapshot_id  TEXT,
    people            BIGINT,                 -- seats in that snapshot
    private_access    BIGINT,                 -- 0/1: could the token see private data
    policy_json       TEXT                     -- the UsagePolicy of that snapshot
);
CREATE INDEX sources_tenant ON sources (kind, tenant_id);

-- One of an agent's configured sources and its approval. `id` is the source id the agent
-- is given at enrollment; once approved as new, the source has the same id; once merged,
-- `source_id` names the source it continues.
CREATE TABLE agent_sources (
    id                    TEXT PRIMARY KEY,
    agent_id              TEXT NOT NULL REFERENCES agents (id),
    local_name            TEXT NOT NULL,
    kind                  TEXT NOT NULL,
    tenant_id             TEXT NOT NULL,
    tenant_name           TEXT NOT NULL DEFAULT '',
    interval_secs         BIGINT NOT NULL DEFAULT 0,
    state                 TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'revoked', 'merged')),
    source_id             TEXT REFERENCES sources (id),
    last_applied_sequence BIGINT,
    created_at            TEXT NOT NULL,
    decided_by            TEXT,
    decided_at            TEXT,
    UNIQUE (agent_id, local_name)
);
CREATE INDEX agent_sources_state ON agent_sources (state);
CREATE INDEX agent_sources_source ON agent_sources (source_id);

-- A snapshot being received or already applied. Parts are deleted once it is applied;
-- the row stays so a retried upload is recognised.
CREATE TABLE snapshots (
    id                TEXT PRIMARY KEY,
    agent_id          TEXT NOT NULL REFERENCES agents (id),
    link_id           TEXT NOT NULL REFERENCES agent_sources (id),
    source_id         TEXT NOT NULL,           -- as named in the upload
    sequence          BIGINT NOT NULL,
    collected_at      TEXT NOT NULL,
    part_count        BIGINT NOT NULL,
    encoding          TEXT NOT NULL,
    snapshot_checksum TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('receiving', 'applying', 'applied')),
    received_at       TEXT NOT NULL,
    applied_at        TEXT,
    applied_to        TEXT REFERENCES sources (id),
    people            BIGINT,
    private_access    BIGINT
);
CREATE INDEX snapshots_link ON snapshots (link_id, sequence);

CREATE TABLE snapshot_parts (
    snapshot_id TEXT NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    part        BIGINT NOT NULL,
    checksum    TEXT NOT NULL,
    bytes       BYTEA NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, part)
);

-- Each person's current seat per source (the latest applied snapshot).
CREATE TABLE seats_current (
    source_id   TEXT NOT NULL REFERENCES sources (id),
    person_id   TEXT NOT NULL,
    name        TEXT,
    work_email  TEXT,
    status      TEXT NOT NULL,
    start_date  TEXT,
    end_date    TEXT,
    job_title   TEXT,
    department  TEXT,
    manager_id  TEXT,
    is_verified BIGINT,                       -- NULL unknown, 0/1
    state       TEXT NOT NULL,
    reason      TEXT,
    since       TEXT,
    first_seen  TEXT NOT NULL,                 -- collected_at of the first snapshot with them
    updated_at  TEXT NOT NULL,                 -- collected_at of the last snapshot that changed the row
    PRIMARY KEY (source_id, person_id)
);
CREATE INDEX seats_current_state ON seats_current (source_id, state);

-- A row per (person, state, reason) period: written only when the state or reason changes.
-- valid_to NULL = current. A person absent from a later snapshot has their open row closed
-- (and leaves seats_current); no row is written for the absence itself.
CREATE TABLE seat_history (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_id   TEXT NOT NULL REFERENCES sources (id),
    person_id   TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT,
    valid_from  TEXT NOT NULL,                 -- collected_at of the snapshot that saw the change
    valid_to    TEXT,
    snapshot_id TEXT NOT NULL
);
CREATE INDEX seat_history_person ON seat_history (source_id, person_id, valid_to);
CREATE INDEX seat_history_from ON seat_history (source_id, valid_from);

-- One row per source and day (the summary's as_of day); the last snapshot of the day wins.
CREATE TABLE daily_summaries (
    source_id              TEXT NOT NULL REFERENCES sources (id),
    day                    TEXT NOT NULL,
    snapshot_id            TEXT NOT NULL,
    collected_at           TEXT NOT NULL,
    people                 BIGINT NOT NULL,
    pre_hire               BIGINT NOT NULL,
    active                 BIGINT NOT NULL,
    leaving                BIGINT NOT NULL,
    inactive               BIGINT NOT NULL,
    offboarded             BIGINT NOT NULL,
    unknown                BIGINT NOT NULL,
    other_states           BIGINT NOT NULL,   -- states this platform does not know
    inactive_ended_not_offboarded BIGINT NOT NULL,
    inactive_never_verified       BIGINT NOT NULL,
    inactive_other                BIGINT NOT NULL,
    billable               BIGINT NOT NULL,
    in_use                 BIGINT NOT NULL,
    pre_hires_soon         BIGINT NOT NULL,
    recent_leavers         BIGINT NOT NULL,
    findings               BIGINT NOT NULL,
    private_access         BIGINT NOT NULL,
    summary_json           TEXT NOT NULL,      -- the agent's Summary, as received
    PRIMARY KEY (source_id, day)
);

-- Data-quality findings of the latest applied snapshot.
CREATE TABLE findings_current (
    source_id TEXT NOT NULL REFERENCES sources (id),
    person_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    detail    TEXT,
    PRIMARY KEY (source_id, person_id, kind)
);

-- Console users.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,               -- argon2id PHC string
    role          TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at    TEXT NOT NULL,
    disabled      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,             -- SHA-256 hex of the session cookie value
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Fixed-window login rate limiting shared by every platform process.
CREATE TABLE login_attempts (
    key          TEXT PRIMARY KEY,             -- e.g. 'user:alice' or 'ip:192.0.2.1'
    window_start BIGINT NOT NULL,             -- unix seconds
    count        BIGINT NOT NULL
);

-- Every administrative action.
CREATE TABLE audit_log (
    id     BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,                      -- user name, or 'system' / 'agent:<id>'
    action TEXT NOT NULL,                      -- e.g. 'agent.approve'
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'          -- JSON object
);
CREATE INDEX audit_log_at ON audit_log (at);
