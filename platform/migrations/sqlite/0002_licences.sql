-- Application licences (schema-2 snapshots of `entra_id` and `seat_list` sources), the
-- organisations that join them to HR people, exclusion rules and prices. Keep in step with
-- the other backend's 0002_licences.sql: the same tables, columns and meanings.

-- An organisation: one HR source (Humaans) plus the application sources whose accounts
-- belong to its people. `hr_source_id` is NULL until an HR source is approved into it.
CREATE TABLE organisations (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    hr_source_id TEXT UNIQUE REFERENCES sources (id),
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL
);

-- Which organisation a source belongs to (HR and application sources alike), and what the
-- newest licence snapshot of an application source said about itself.
ALTER TABLE sources ADD COLUMN organisation_id TEXT REFERENCES organisations (id);
ALTER TABLE sources ADD COLUMN licence_as_of TEXT;
ALTER TABLE sources ADD COLUMN activity_available INTEGER;
ALTER TABLE sources ADD COLUMN accounts_total INTEGER;
ALTER TABLE sources ADD COLUMN unparsable_records INTEGER;

-- Every HR source approved before organisations existed gets one of its own.
INSERT INTO organisations (id, name, hr_source_id, created_at, created_by)
    SELECT 'org-' || id, name, id, created_at, created_by FROM sources WHERE kind = 'humaans';
UPDATE sources SET organisation_id = 'org-' || id WHERE kind = 'humaans';

-- Each application account of the newest snapshot, and the HR person it matched (the join
-- fills person_id / matched_by / matched_address; NULL: nobody matched).
CREATE TABLE app_accounts (
    source_id       TEXT NOT NULL REFERENCES sources (id),
    account_id      TEXT NOT NULL,
    login           TEXT,
    email           TEXT,
    aliases         TEXT NOT NULL DEFAULT '',  -- newline-separated, in the source's order
    enabled         INTEGER NOT NULL,
    account_type    TEXT NOT NULL,
    created         TEXT,
    last_activity   TEXT,
    person_id       TEXT,                      -- of the organisation's HR source
    matched_by      TEXT,                      -- 'email' | 'login' | 'alias'
    matched_address TEXT,
    first_seen      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (source_id, account_id)
);
CREATE INDEX app_accounts_person ON app_accounts (person_id);

-- The licence pools of the newest snapshot (SKUs, seat types).
CREATE TABLE licence_pools (
    source_id   TEXT NOT NULL REFERENCES sources (id),
    pool_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    application TEXT,
    purchased   INTEGER,
    assigned    INTEGER NOT NULL,
    unassigned  INTEGER,
    PRIMARY KEY (source_id, pool_id)
);

-- Each licence held (account x pool): the agent's activity state and the state after the
-- join with HR (excluded, orphaned, disabled_holding, unidentified, pre_hire, or the
-- activity state), with a reason code and since-day.
CREATE TABLE licences_current (
    source_id       TEXT NOT NULL REFERENCES sources (id),
    account_id      TEXT NOT NULL,
    pool_id         TEXT NOT NULL,
    assigned        TEXT,
    activity_state  TEXT NOT NULL,
    activity_reason TEXT,
    activity_since  TEXT,
    state           TEXT NOT NULL,
    reason          TEXT,
    since           TEXT,
    first_seen      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (source_id, account_id, pool_id)
);
CREATE INDEX licences_current_state ON licences_current (source_id, state);

-- A row per (licence, joined state, reason) period, written only when it changes (an
-- upload of either side of the join); valid_to NULL = current. A licence that disappears
-- has its row closed: closed rows with no successor are reclaimed (or lost) seats.
CREATE TABLE licence_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id   TEXT NOT NULL REFERENCES sources (id),
    account_id  TEXT NOT NULL,
    pool_id     TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT,
    valid_from  TEXT NOT NULL,
    valid_to    TEXT,
    snapshot_id TEXT NOT NULL
);
CREATE INDEX licence_history_licence ON licence_history (source_id, account_id, pool_id, valid_to);
CREATE INDEX licence_history_from ON licence_history (source_id, valid_from);

-- Admin rules that mark accounts `excluded`: an account type ('guest'), a login/UPN glob
-- pattern ('svc-*@*'), or one account (its id, login or email).
CREATE TABLE exclusion_rules (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('account_type', 'login_pattern', 'account')),
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (kind, value)
);
INSERT INTO exclusion_rules (id, kind, value, created_at, created_by)
    VALUES ('default-guest', 'account_type', 'guest', '1970-01-01T00:00:00.000000Z', 'system');

-- Prices an administrator set: per pool, or for every pool of an application source
-- (pool_id ''). Amounts are integer hundredths of the currency unit; never floats.
CREATE TABLE prices (
    source_id    TEXT NOT NULL REFERENCES sources (id),
    pool_id      TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    period       TEXT NOT NULL CHECK (period IN ('month', 'year')),
    set_at       TEXT NOT NULL,
    set_by       TEXT NOT NULL,
    PRIMARY KEY (source_id, pool_id)
);
