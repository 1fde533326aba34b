-- Report tokens: named, read-only bearer tokens an administrator creates for the report API
-- (`/api/v1/reports/*`). Shown once; only the SHA-256 is kept. Separate from enrollment
-- tokens, which enroll agents and never read reports. Keep in step with
-- ../sqlite/0013_report_tokens.sql.
CREATE TABLE report_tokens (
    id            TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    expires_at    TEXT,                 -- NULL: never expires
    revoked_at    TEXT,
    revoked_by    TEXT,
    last_used_at  TEXT                  -- updated at most once a minute
);
