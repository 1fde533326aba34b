//! Enrollment tokens: created by an administrator, shown once, stored hashed.
//!
//! API:
//! - `Store::create_enrollment_token(&self, actor: &str, label: &str, expires_at: Option<DateTime<Utc>>, max_uses: Option<i64>) -> Result<CreatedToken, StoreError>`
//!   The token (`sbe_<43 chars>`) is in `CreatedToken::token`; show it once, it cannot be
//!   read back.
//! - `Store::revoke_enrollment_token(&self, actor: &str, id: &str) -> Result<(), StoreError>`
//!   Agents already enrolled with it are not affected.
//! - `Store::list_enrollment_tokens(&self) -> Result<Vec<EnrollmentTokenRecord>, StoreError>`
//!   newest first, with the state as of now.
//!
//! Using a token (during enrollment) is in `agents.rs`.

use chrono::{DateTime, Utc};
use seatbroker_protocol::Secret;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, audit, new_id, parse_opt_ts, parse_ts, ts};
use crate::auth::{random_token, sha256_hex};

/// Prefix of every enrollment token, so a leaked one is recognisable.
pub(crate) const TOKEN_PREFIX: &str = "sbe_";

/// Whether a token can still enroll agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Usable,
    Expired,
    Exhausted,
    Revoked,
}

impl TokenState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usable => "usable",
            Self::Expired => "expired",
            Self::Exhausted => "exhausted",
            Self::Revoked => "revoked",
        }
    }
}

/// An enrollment token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentTokenRecord {
    pub id: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// `None`: unlimited.
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    /// State at the time it was read.
    pub state: TokenState,
}

/// A new token and the only copy of its secret.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub record: EnrollmentTokenRecord,
    pub token: Secret,
}

pub(crate) fn token_state(
    now: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    max_uses: Option<i64>,
    uses: i64,
    revoked: bool,
) -> TokenState {
    if revoked {
        TokenState::Revoked
    } else if expires_at.is_some_and(|at| at <= now) {
        TokenState::Expired
    } else if max_uses.is_some_and(|max| uses >= max) {
        TokenState::Exhausted
    } else {
        TokenState::Usable
    }
}

pub(crate) fn token_from_row(
    row: &AnyRow,
    now: DateTime<Utc>,
) -> Result<EnrollmentTokenRecord, StoreError> {
    let expires_at = parse_opt_ts(row.try_get("expires_at")?)?;
    let revoked_at = parse_opt_ts(row.try_get("revoked_at")?)?;
    let max_uses: Option<i64> = row.try_get("max_uses")?;
    let uses: i64 = row.try_get("uses")?;
    Ok(EnrollmentTokenRecord {
        id: row.try_get("id")?,
        label: row.try_get("label")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        created_by: row.try_get("created_by")?,
        expires_at,
        max_uses,
        uses,
        revoked_at,
        revoked_by: row.try_get("revoked_by")?,
        state: token_state(now, expires_at, max_uses, uses, revoked_at.is_some()),
    })
}

pub(crate) const TOKEN_COLUMNS: &str =
    "id, label, created_at, created_by, expires_at, max_uses, uses, revoked_at, revoked_by";

impl Store {
    /// Creates an enrollment token. `max_uses` below 1 is refused.
    pub async fn create_enrollment_token(
        &self,
        actor: &str,
        label: &str,
        expires_at: Option<DateTime<Utc>>,
        max_uses: Option<i64>,
    ) -> Result<CreatedToken, StoreError> {
        if max_uses.is_some_and(|max| max < 1) {
            return Err(StoreError::InvalidState(
                "an enrollment token must allow at least one use; leave the limit empty for unlimited"
                    .to_owned(),
            ));
        }
        let now = self.now();
        let id = new_id();
        let token = Secret::new(format!("{TOKEN_PREFIX}{}", random_token(32)));
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO enrollment_tokens (id, token_hash, label, created_at, created_by, expires_at, max_uses, uses) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
        )
        .bind(&id)
        .bind(sha256_hex(token.expose()))
        .bind(label)
        .bind(ts(now))
        .bind(actor)
        .bind(expires_at.map(ts))
        .bind(max_uses)
        .execute(&mut *tx)
        .await?;
        audit::write(
            &mut tx,
            now,
            actor,
            "token.create",
            &id,
            &serde_json::json!({
                "label": label,
                "expires_at": expires_at.map(ts),
                "max_uses": max_uses,
            }),
        )
        .await?;
        tx.commit().await?;
        let record = EnrollmentTokenRecord {
            id,
            label: label.to_owned(),
            created_at: now,
            created_by: actor.to_owned(),
            expires_at,
            max_uses,
            uses: 0,
            revoked_at: None,
            revoked_by: None,
            state: token_state(now, expires_at, max_uses, 0, false),
        };
        Ok(CreatedToken { record, token })
    }

    /// Revokes a token; it can enroll no more agents. Revoking twice is harmless.
    pub async fn revoke_enrollment_token(&self, actor: &str, id: &str) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT revoked_at FROM enrollment_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = exists else {
            return Err(StoreError::not_found("enrollment token", id));
        };
        let revoked_at: Option<String> = row.try_get("revoked_at")?;
        if revoked_at.is_none() {
            sqlx::query(
                "UPDATE enrollment_tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3",
            )
            .bind(ts(now))
            .bind(actor)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit::write(
                &mut tx,
                now,
                actor,
                "token.revoke",
                id,
                &serde_json::json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every token, newest first.
    pub async fn list_enrollment_tokens(&self) -> Result<Vec<EnrollmentTokenRecord>, StoreError> {
        let now = self.now();
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM enrollment_tokens ORDER BY created_at DESC, id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|row| token_from_row(row, now)).collect()
    }
}
