//! Report tokens: named, read-only bearer tokens for the report API (`/api/v1/reports/*`).
//! Created by an administrator, shown once, stored as a SHA-256 hash, with an expiry,
//! revocable, and the time of last use kept. Not enrollment tokens (`tokens.rs`): those
//! enroll agents and read nothing; these read reports and do nothing else.
//!
//! API:
//! - `Store::create_report_token(&self, actor, name, expires_at) -> Result<CreatedReportToken, StoreError>`
//!   the token (`sbr_<43 chars>`) is in `CreatedReportToken::token`, once.
//! - `Store::revoke_report_token(&self, actor, id) -> Result<(), StoreError>`
//! - `Store::list_report_tokens(&self) -> Result<Vec<ReportTokenRecord>, StoreError>`
//! - `Store::use_report_token(&self, token) -> Result<Option<ReportTokenRecord>, StoreError>`
//!   the usable token with that value, its last use recorded (at most once a minute).

use chrono::{DateTime, Utc};
use seatbroker_protocol::Secret;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, audit, new_id, parse_opt_ts, parse_ts, ts};
use crate::auth::{random_token, sha256_hex};

/// Prefix of every report token, so a leaked one is recognisable (enrollment tokens: `sbe_`).
pub(crate) const REPORT_TOKEN_PREFIX: &str = "sbr_";

/// The last use is written at most this often per token, so reading reports does not turn
/// into a write per request.
const LAST_USED_RESOLUTION: chrono::Duration = chrono::Duration::minutes(1);

/// Whether a report token can read reports now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportTokenState {
    Usable,
    Expired,
    Revoked,
}

impl ReportTokenState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usable => "usable",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// A report token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTokenRecord {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// State at the time it was read.
    pub state: ReportTokenState,
}

/// A new report token and the only copy of its secret.
#[derive(Debug, Clone)]
pub struct CreatedReportToken {
    pub record: ReportTokenRecord,
    pub token: Secret,
}

fn state_at(
    now: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked: bool,
) -> ReportTokenState {
    if revoked {
        ReportTokenState::Revoked
    } else if expires_at.is_some_and(|at| at <= now) {
        ReportTokenState::Expired
    } else {
        ReportTokenState::Usable
    }
}

const COLUMNS: &str =
    "id, name, created_at, created_by, expires_at, revoked_at, revoked_by, last_used_at";

fn from_row(row: &AnyRow, now: DateTime<Utc>) -> Result<ReportTokenRecord, StoreError> {
    let expires_at = parse_opt_ts(row.try_get("expires_at")?)?;
    let revoked_at = parse_opt_ts(row.try_get("revoked_at")?)?;
    Ok(ReportTokenRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        created_by: row.try_get("created_by")?,
        expires_at,
        revoked_at,
        revoked_by: row.try_get("revoked_by")?,
        last_used_at: parse_opt_ts(row.try_get("last_used_at")?)?,
        state: state_at(now, expires_at, revoked_at.is_some()),
    })
}

impl Store {
    /// Creates a report token named `name` (1 to 200 characters).
    pub async fn create_report_token(
        &self,
        actor: &str,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<CreatedReportToken, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(StoreError::InvalidState(
                "a report token needs a name of 1 to 200 characters, e.g. the BI tool that uses it"
                    .to_owned(),
            ));
        }
        let now = self.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(StoreError::InvalidState(
                "a report token must expire in the future".to_owned(),
            ));
        }
        let id = new_id();
        let token = Secret::new(format!("{REPORT_TOKEN_PREFIX}{}", random_token(32)));
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO report_tokens (id, token_hash, name, created_at, created_by, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(sha256_hex(token.expose()))
        .bind(name)
        .bind(ts(now))
        .bind(actor)
        .bind(expires_at.map(ts))
        .execute(&mut *tx)
        .await?;
        audit::write(
            &mut tx,
            now,
            actor,
            "report_token.create",
            &id,
            &serde_json::json!({ "name": name, "expires_at": expires_at.map(ts) }),
        )
        .await?;
        tx.commit().await?;
        let record = ReportTokenRecord {
            id,
            name: name.to_owned(),
            created_at: now,
            created_by: actor.to_owned(),
            expires_at,
            revoked_at: None,
            revoked_by: None,
            last_used_at: None,
            state: state_at(now, expires_at, false),
        };
        Ok(CreatedReportToken { record, token })
    }

    /// Revokes a report token: from now on it reads nothing. Revoking twice is harmless.
    pub async fn revoke_report_token(&self, actor: &str, id: &str) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT revoked_at FROM report_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::not_found("report token", id));
        };
        let revoked_at: Option<String> = row.try_get("revoked_at")?;
        if revoked_at.is_none() {
            sqlx::query("UPDATE report_tokens SET revoked_at = $1, revoked_by = $2 WHERE id = $3")
                .bind(ts(now))
                .bind(actor)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit::write(
                &mut tx,
                now,
                actor,
                "report_token.revoke",
                id,
                &serde_json::json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every report token, newest first.
    pub async fn list_report_tokens(&self) -> Result<Vec<ReportTokenRecord>, StoreError> {
        let now = self.now();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM report_tokens ORDER BY created_at DESC, id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|row| from_row(row, now)).collect()
    }

    /// The usable report token whose value is `token`, or `None` (unknown, expired or
    /// revoked). Records the use, at most once a minute per token.
    pub async fn use_report_token(
        &self,
        token: &str,
    ) -> Result<Option<ReportTokenRecord>, StoreError> {
        if !token.starts_with(REPORT_TOKEN_PREFIX) {
            return Ok(None);
        }
        let now = self.now();
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM report_tokens WHERE token_hash = $1"
        ))
        .bind(sha256_hex(token))
        .fetch_optional(self.pool())
        .await?;
        let Some(mut record) = row.map(|row| from_row(&row, now)).transpose()? else {
            return Ok(None);
        };
        if record.state != ReportTokenState::Usable {
            return Ok(None);
        }
        if record
            .last_used_at
            .is_none_or(|at| at <= now - LAST_USED_RESOLUTION)
        {
            sqlx::query(
                "UPDATE report_tokens SET last_used_at = $1 \
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
            )
            .bind(ts(now))
            .bind(&record.id)
            .bind(ts(now - LAST_USED_RESOLUTION))
            .execute(self.pool())
            .await?;
            record.last_used_at = Some(now);
        }
        Ok(Some(record))
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
        let check = |expires: Option<DateTime<Utc>>, revoked, expected| {
            assert_eq!(state_at(now, expires, revoked), expected);
        };
        check(None, false, ReportTokenState::Usable);
        check(Some(now), false, ReportTokenState::Expired);
        check(
            Some(now + chrono::Duration::seconds(1)),
            false,
            ReportTokenState::Usable,
        );
        check(Some(now), true, ReportTokenState::Revoked);
    }
}
