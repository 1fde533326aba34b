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
//!
//! What report tokens share with enrollment tokens (the secret and its hash, revocation,
//! listing, "revoked wins over expired") is in `secret_tokens.rs`.

use chrono::{DateTime, Utc};
use seatbroker_protocol::Secret;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::secret_tokens::{Own, SecretToken, Shared, Standing};
use super::{Store, StoreError, parse_opt_ts, ts};
use crate::auth::sha256_hex;

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

fn state_at(standing: Standing) -> ReportTokenState {
    match standing {
        Standing::Revoked => ReportTokenState::Revoked,
        Standing::Expired => ReportTokenState::Expired,
        Standing::Live => ReportTokenState::Usable,
    }
}

impl ReportTokenRecord {
    /// The record of `shared` and the report token's own columns, its state as of `now`.
    fn new(
        shared: Shared,
        name: String,
        last_used_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            state: state_at(shared.standing(now)),
            id: shared.id,
            name,
            created_at: shared.created_at,
            created_by: shared.created_by,
            expires_at: shared.expires_at,
            revoked_at: shared.revoked_at,
            revoked_by: shared.revoked_by,
            last_used_at,
        }
    }
}

impl SecretToken for ReportTokenRecord {
    const TABLE: &'static str = "report_tokens";
    const COLUMNS: &'static str =
        "id, name, created_at, created_by, expires_at, revoked_at, revoked_by, last_used_at";
    const PREFIX: &'static str = REPORT_TOKEN_PREFIX;
    const WHAT: &'static str = "report token";
    const AUDIT_CREATE: &'static str = "report_token.create";
    const AUDIT_REVOKE: &'static str = "report_token.revoke";

    fn from_row(row: &AnyRow, now: DateTime<Utc>) -> Result<Self, StoreError> {
        Ok(Self::new(
            Shared::from_row(row)?,
            row.try_get("name")?,
            parse_opt_ts(row.try_get("last_used_at")?)?,
            now,
        ))
    }
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
        let (shared, token) = self
            .create_secret_token::<ReportTokenRecord>(
                actor,
                now,
                expires_at,
                &[("name", Own::Text(name))],
                &serde_json::json!({ "name": name, "expires_at": expires_at.map(ts) }),
            )
            .await?;
        let record = ReportTokenRecord::new(shared, name.to_owned(), None, now);
        Ok(CreatedReportToken { record, token })
    }

    /// Revokes a report token: from now on it reads nothing. Revoking twice is harmless.
    pub async fn revoke_report_token(&self, actor: &str, id: &str) -> Result<(), StoreError> {
        self.revoke_secret_token::<ReportTokenRecord>(actor, id)
            .await
    }

    /// Every report token, newest first.
    pub async fn list_report_tokens(&self) -> Result<Vec<ReportTokenRecord>, StoreError> {
        self.list_secret_tokens().await
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
            "SELECT {} FROM report_tokens WHERE token_hash = $1",
            ReportTokenRecord::COLUMNS
        ))
        .bind(sha256_hex(token))
        .fetch_optional(self.pool())
        .await?;
        let Some(mut record) = row
            .map(|row| ReportTokenRecord::from_row(&row, now))
            .transpose()?
        else {
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

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_record_takes_its_columns_and_state_from_the_shared_part() {
        let now = at("2026-01-01T00:00:00Z");
        let last_used_at = Some(at("2025-12-24T00:00:00Z"));
        let check = |expires_at, revoked_at: Option<DateTime<Utc>>, state| {
            let shared = Shared {
                id: "t1".to_owned(),
                created_at: at("2025-12-01T00:00:00Z"),
                created_by: "alice".to_owned(),
                expires_at,
                revoked_at,
                revoked_by: revoked_at.map(|_| "bob".to_owned()),
            };
            let expected = ReportTokenRecord {
                id: "t1".to_owned(),
                name: "BI".to_owned(),
                created_at: shared.created_at,
                created_by: "alice".to_owned(),
                expires_at,
                revoked_at,
                revoked_by: shared.revoked_by.clone(),
                last_used_at,
                state,
            };
            let record = ReportTokenRecord::new(shared, "BI".to_owned(), last_used_at, now);
            assert_eq!(record, expected);
        };
        let second = chrono::Duration::seconds(1);
        check(None, None, ReportTokenState::Usable);
        check(Some(now + second), None, ReportTokenState::Usable);
        check(Some(now), None, ReportTokenState::Expired);
        check(Some(now), Some(now - second), ReportTokenState::Revoked);
        check(None, Some(now - second), ReportTokenState::Revoked);
    }
}
