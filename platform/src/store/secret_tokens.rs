//! What enrollment tokens (`tokens.rs`) and report tokens (`report_tokens.rs`) share: a
//! secret with a prefix of its kind, shown once and stored as its SHA-256; an optional
//! expiry; a revocation that records who and when; an audit row for both; listings newest
//! first; and the two rules of their state, "revoked wins over expired" and "a token has
//! expired at the instant of its expiry".
//!
//! Each kind implements [`SecretToken`] on its record (its table, its columns, its prefix,
//! its audit actions) and keeps what only it has: a use limit for enrollment tokens, the last
//! use for report tokens. The kinds share this code, never a table.

use chrono::{DateTime, Utc};
use seatbroker_protocol::Secret;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, audit, new_id, parse_opt_ts, parse_ts, ts};
use crate::auth::{random_token, sha256_hex};

/// A kind of secret token, implemented by its record type.
pub(super) trait SecretToken: Sized {
    /// Its table, with the shared columns `id`, `token_hash`, `created_at`, `created_by`,
    /// `expires_at`, `revoked_at` and `revoked_by`.
    const TABLE: &'static str;
    /// The columns [`SecretToken::from_row`] reads.
    const COLUMNS: &'static str;
    /// Prefix of every secret of the kind, so a leaked one is recognisable.
    const PREFIX: &'static str;
    /// What a [`StoreError::NotFound`] calls it, e.g. `report token`.
    const WHAT: &'static str;
    /// The audit action of a creation, e.g. `report_token.create`.
    const AUDIT_CREATE: &'static str;
    /// The audit action of a revocation, e.g. `report_token.revoke`.
    const AUDIT_REVOKE: &'static str;

    /// The record in `row` (selected with [`SecretToken::COLUMNS`]), its state as of `now`.
    fn from_row(row: &AnyRow, now: DateTime<Utc>) -> Result<Self, StoreError>;
}

/// Where a token stands on the rules every kind shares. A kind maps it to its own state,
/// adding its own rules to `Live` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    Live,
    Expired,
    Revoked,
}

/// Revoked wins over expired; a token has expired at the very instant of `expires_at`.
pub(super) fn standing(
    now: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
) -> Standing {
    if revoked {
        Standing::Revoked
    } else if expires_at.is_some_and(|at| at <= now) {
        Standing::Expired
    } else {
        Standing::Live
    }
}

/// The columns every kind has, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Shared {
    pub(super) id: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) created_by: String,
    pub(super) expires_at: Option<DateTime<Utc>>,
    pub(super) revoked_at: Option<DateTime<Utc>>,
    pub(super) revoked_by: Option<String>,
}

impl Shared {
    /// The shared columns of `row`.
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.try_get("id")?,
            created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
            created_by: row.try_get("created_by")?,
            expires_at: parse_opt_ts(row.try_get("expires_at")?)?,
            revoked_at: parse_opt_ts(row.try_get("revoked_at")?)?,
            revoked_by: row.try_get("revoked_by")?,
        })
    }

    /// Where the token stands at `now`.
    pub(super) fn standing(&self, now: DateTime<Utc>) -> Standing {
        standing(now, self.expires_at, self.revoked_at.is_some())
    }
}

/// The value of one of a kind's own columns, for [`Store::create_secret_token`].
pub(super) enum Own<'a> {
    Text(&'a str),
    Int(Option<i64>),
}

impl Store {
    /// Creates a token of kind `T` for `actor` at `now` in one transaction: its row (the
    /// shared columns and the kind's `own` ones) and the audit row `T::AUDIT_CREATE` with
    /// `detail`. Returns the shared columns as written and the only copy of the secret
    /// (`T::PREFIX` and 43 random characters); the table keeps only its SHA-256.
    pub(super) async fn create_secret_token<T: SecretToken>(
        &self,
        actor: &str,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
        own: &[(&str, Own<'_>)],
        detail: &serde_json::Value,
    ) -> Result<(Shared, Secret), StoreError> {
        let id = new_id();
        let token = Secret::new(format!("{}{}", T::PREFIX, random_token(32)));
        let mut columns = String::from("id, token_hash, created_at, created_by, expires_at");
        let mut placeholders = String::from("$1, $2, $3, $4, $5");
        for (n, (column, _)) in own.iter().enumerate() {
            columns.push_str(&format!(", {column}"));
            placeholders.push_str(&format!(", ${}", n + 6));
        }
        let sql = format!(
            "INSERT INTO {} ({columns}) VALUES ({placeholders})",
            T::TABLE
        );
        let mut insert = sqlx::query(&sql)
            .bind(&id)
            .bind(sha256_hex(token.expose()))
            .bind(ts(now))
            .bind(actor)
            .bind(expires_at.map(ts));
        for (_, value) in own {
            insert = match value {
                Own::Text(text) => insert.bind(*text),
                Own::Int(int) => insert.bind(*int),
            };
        }
        let mut tx = self.begin_write().await?;
        insert.execute(&mut *tx).await?;
        audit::write(&mut tx, now, actor, T::AUDIT_CREATE, &id, detail).await?;
        tx.commit().await?;
        let shared = Shared {
            id,
            created_at: now,
            created_by: actor.to_owned(),
            expires_at,
            revoked_at: None,
            revoked_by: None,
        };
        Ok((shared, token))
    }

    /// Revokes the token `id` of kind `T` for `actor`, with the audit row `T::AUDIT_REVOKE`.
    /// Revoking twice is harmless (and audited once); an unknown id is `NotFound`.
    pub(super) async fn revoke_secret_token<T: SecretToken>(
        &self,
        actor: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT revoked_at FROM {} WHERE id = $1",
            T::TABLE
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::not_found(T::WHAT, id));
        };
        let revoked_at: Option<String> = row.try_get("revoked_at")?;
        if revoked_at.is_none() {
            sqlx::query(&format!(
                "UPDATE {} SET revoked_at = $1, revoked_by = $2 WHERE id = $3",
                T::TABLE
            ))
            .bind(ts(now))
            .bind(actor)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit::write(
                &mut tx,
                now,
                actor,
                T::AUDIT_REVOKE,
                id,
                &serde_json::json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every token of kind `T`, newest first, with its state as of now.
    pub(super) async fn list_secret_tokens<T: SecretToken>(&self) -> Result<Vec<T>, StoreError> {
        let now = self.now();
        let rows = sqlx::query(&format!(
            "SELECT {} FROM {} ORDER BY created_at DESC, id",
            T::COLUMNS,
            T::TABLE
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|row| T::from_row(row, now)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_wins_over_expired_and_expiry_is_inclusive() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let second = chrono::Duration::seconds(1);
        let check = |expires_at: Option<DateTime<Utc>>, revoked, expected| {
            assert_eq!(
                standing(now, expires_at, revoked),
                expected,
                "expires_at {expires_at:?}, revoked {revoked}"
            );
        };
        check(None, false, Standing::Live);
        check(Some(now + second), false, Standing::Live);
        check(Some(now), false, Standing::Expired);
        check(Some(now - second), false, Standing::Expired);
        check(None, true, Standing::Revoked);
        check(Some(now + second), true, Standing::Revoked);
        check(Some(now), true, Standing::Revoked);
        check(Some(now - second), true, Standing::Revoked);
    }
}
