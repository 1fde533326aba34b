-- Single sign-on (OpenID Connect).

-- Sign-ins started and not yet finished: one row per authorization request, taken (deleted)
-- by the callback, so a `state` works once and only in the browser that started it.
CREATE TABLE oidc_logins (
    state_hash   TEXT PRIMARY KEY,             -- SHA-256 hex of the `state` parameter
    binding_hash TEXT NOT NULL,                -- SHA-256 hex of the browser's sign-in cookie
    nonce        TEXT NOT NULL,
    verifier     TEXT NOT NULL,                -- PKCE code verifier
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX oidc_logins_expires ON oidc_logins (expires_at);

-- The provider's account behind a console user (first sign-in creates the user).
CREATE TABLE user_identities (
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,               -- the ID token's `sub`
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TEXT NOT NULL,
    last_login_at TEXT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);
