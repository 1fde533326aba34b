//! Single sign-on's records: sign-ins in progress (`oidc_logins`, each taken once) and the
//! provider accounts behind console users (`user_identities`). Every sign-in, first
//! sign-in, role change and refusal of a known identity is audited in the transaction that
//! decides it.

use chrono::Duration;
use sqlx::Row;

use super::{Store, StoreError, audit, new_id, parse_ts, ts};
use crate::auth::Role;

/// The password hash of a user created by single sign-on: not a PHC string, so no password
/// ever matches it (login treats it as "no password").
pub(crate) const NO_PASSWORD: &str = "!sso";

/// What the callback found for its `state`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PendingLogin {
    /// Started by this browser and still valid: the nonce and PKCE verifier to use.
    Found { nonce: String, verifier: String },
    /// No such sign-in: never started, or already finished (a replayed `state`).
    Unknown,
    /// Started by another browser (the sign-in cookie does not match).
    OtherBrowser,
    /// Started too long ago.
    Expired,
}

/// The outcome of a verified sign-in.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SsoOutcome {
    SignedIn {
        user_id: String,
        username: String,
        role: Role,
        created: bool,
    },
    /// The console user linked to this account is disabled.
    Disabled { username: String },
    /// A console user of that name exists and is not linked to this account.
    NameTaken,
}

impl Store {
    /// Records a sign-in in progress, and forgets those that expired.
    pub(crate) async fn create_oidc_login(
        &self,
        state_hash: &str,
        binding_hash: &str,
        nonce: &str,
        verifier: &str,
        lifetime: Duration,
    ) -> Result<(), StoreError> {
        let now = self.now();
        sqlx::query("DELETE FROM oidc_logins WHERE expires_at < $1")
            .bind(ts(now))
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO oidc_logins (state_hash, binding_hash, nonce, verifier, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(state_hash)
        .bind(binding_hash)
        .bind(nonce)
        .bind(verifier)
        .bind(ts(now))
        .bind(ts(now + lifetime))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes the sign-in of `state_hash`: it is deleted whatever the outcome, in one
    /// statement, so a `state` is used at most once across every platform process.
    pub(crate) async fn take_oidc_login(
        &self,
        state_hash: &str,
        binding_hash: &str,
    ) -> Result<PendingLogin, StoreError> {
        let row = sqlx::query(
            "DELETE FROM oidc_logins WHERE state_hash = $1 \
             RETURNING binding_hash, nonce, verifier, expires_at",
        )
        .bind(state_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(PendingLogin::Unknown);
        };
        let stored: String = row.try_get("binding_hash")?;
        if !crate::auth::constant_time_eq(stored.as_bytes(), binding_hash.as_bytes()) {
            return Ok(PendingLogin::OtherBrowser);
        }
        if parse_ts(&row.try_get::<String, _>("expires_at")?)? < self.now() {
            return Ok(PendingLogin::Expired);
        }
        Ok(PendingLogin::Found {
            nonce: row.try_get("nonce")?,
            verifier: row.try_get("verifier")?,
        })
    }

    /// Signs in the provider account `(issuer, subject)` with the role its claims map to:
    /// the linked user (its role updated to the provider's word), or, at the first sign-in,
    /// a new user named `username`, unless a user of that name exists already.
    pub(crate) async fn sso_sign_in(
        &self,
        issuer: &str,
        subject: &str,
        username: &str,
        role: Role,
    ) -> Result<SsoOutcome, StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let linked = sqlx::query(
            "SELECT u.id, u.username, u.role, u.disabled FROM user_identities i \
             JOIN users u ON u.id = i.user_id WHERE i.issuer = $1 AND i.subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&mut *tx)
        .await?;
        let detail =
            serde_json::json!({"issuer": issuer, "subject": subject, "role": role.as_str()});
        let (user_id, name, created) = match linked {
            Some(row) => {
                let id: String = row.try_get("id")?;
                let name: String = row.try_get("username")?;
                if row.try_get::<i64, _>("disabled")? != 0 {
                    audit::write(
                        &mut tx,
                        now,
                        &name,
                        "user.sso_refused",
                        &name,
                        &serde_json::json!({"issuer": issuer, "subject": subject, "reason": "disabled"}),
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(SsoOutcome::Disabled { username: name });
                }
                let old: String = row.try_get("role")?;
                if old != role.as_str() {
                    sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                        .bind(role.as_str())
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                    audit::write(
                        &mut tx,
                        now,
                        &name,
                        "user.sso_role_change",
                        &name,
                        &serde_json::json!({"from": old, "to": role.as_str()}),
                    )
                    .await?;
                }
                sqlx::query(
                    "UPDATE user_identities SET last_login_at = $1 WHERE issuer = $2 AND subject = $3",
                )
                .bind(ts(now))
                .bind(issuer)
                .bind(subject)
                .execute(&mut *tx)
                .await?;
                (id, name, false)
            }
            None => {
                let taken = sqlx::query("SELECT id FROM users WHERE username = $1")
                    .bind(username)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                if taken {
                    audit::write(
                        &mut tx,
                        now,
                        username,
                        "user.sso_refused",
                        username,
                        &serde_json::json!({"issuer": issuer, "subject": subject, "reason": "username_taken"}),
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(SsoOutcome::NameTaken);
                }
                let id = new_id();
                sqlx::query(
                    "INSERT INTO users (id, username, password_hash, role, created_at, disabled) \
                     VALUES ($1, $2, $3, $4, $5, 0)",
                )
                .bind(&id)
                .bind(username)
                .bind(NO_PASSWORD)
                .bind(role.as_str())
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO user_identities (issuer, subject, user_id, created_at, last_login_at) \
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(issuer)
                .bind(subject)
                .bind(&id)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
                audit::write(&mut tx, now, username, "user.sso_create", username, &detail).await?;
                (id, username.to_owned(), true)
            }
        };
        audit::write(&mut tx, now, &name, "user.sso_login", &name, &detail).await?;
        tx.commit().await?;
        Ok(SsoOutcome::SignedIn {
            user_id,
            username: name,
            role,
            created,
        })
    }

    /// Writes one audit row on its own (events that change nothing else: a refused
    /// sign-in, a break-glass login).
    pub(crate) async fn audit_event(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        audit::write(&mut tx, now, actor, action, target, detail).await?;
        tx.commit().await?;
        Ok(())
    }
}
