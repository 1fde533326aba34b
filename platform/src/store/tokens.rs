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
//! Using a token (during enrollment) is in `agents.rs`. What enrollment tokens share with
//! report tokens (the secret and its hash, revocation, listing, "revoked wins over expired")
//! is in `secret_tokens.rs`.

use chrono::{DateTime, Utc};
use seatbroker_protocol::Secret;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::secret_tokens::{Own, SecretToken, Shared, Standing, standing};
use super::{Store, StoreError, ts};

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
    match standing(now, expires_at, revoked) {
        Standing::Revoked => TokenState::Revoked,
        Standing::Expired => TokenState::Expired,
        Standing::Live if max_uses.is_some_and(|max| uses >= max) => TokenState::Exhausted,
        Standing::Live => TokenState::Usable,
    }
}

impl EnrollmentTokenRecord {
    /// The record of `shared` and the enrollment token's own columns, its state as of `now`.
    fn new(
        shared: Shared,
        label: String,
        max_uses: Option<i64>,
        uses: i64,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            state: token_state(
                now,
                shared.expires_at,
                max_uses,
                uses,
                shared.revoked_at.is_some(),
            ),
            id: shared.id,
            label,
            created_at: shared.created_at,
            created_by: shared.created_by,
            expires_at: shared.expires_at,
            max_uses,
            uses,
            revoked_at: shared.revoked_at,
            revoked_by: shared.revoked_by,
        }
    }
}

impl SecretToken for EnrollmentTokenRecord {
    const TABLE: &'static str = "enrollment_tokens";
    const COLUMNS: &'static str =
        "id, label, created_at, created_by, expires_at, max_uses, uses, revoked_at, revoked_by";
    const PREFIX: &'static str = TOKEN_PREFIX;
    const WHAT: &'static str = "enrollment token";
    const AUDIT_CREATE: &'static str = "token.create";
    const AUDIT_REVOKE: &'static str = "token.revoke";

    fn from_row(row: &AnyRow, now: DateTime<Utc>) -> Result<Self, StoreError> {
        Ok(Self::new(
            Shared::from_row(row)?,
            row.try_get("label")?,
            row.try_get("max_uses")?,
            row.try_get("uses")?,
            now,
        ))
    }
}

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
        let (shared, token) = self
            .create_secret_token::<EnrollmentTokenRecord>(
                actor,
                now,
                expires_at,
                &[
                    ("label", Own::Text(label)),
                    ("max_uses", Own::Int(max_uses)),
                    ("uses", Own::Int(Some(0))),
                ],
                &serde_json::json!({
                    "label": label,
                    "expires_at": expires_at.map(ts),
                    "max_uses": max_uses,
                }),
            )
            .await?;
        let record = EnrollmentTokenRecord::new(shared, label.to_owned(), max_uses, 0, now);
        Ok(CreatedToken { record, token })
    }

    /// Revokes a token; it can enroll no more agents. Revoking twice is harmless.
    pub async fn revoke_enrollment_token(&self, actor: &str, id: &str) -> Result<(), StoreError> {
        self.revoke_secret_token::<EnrollmentTokenRecord>(actor, id)
            .await
    }

    /// Every token, newest first.
    pub async fn list_enrollment_tokens(&self) -> Result<Vec<EnrollmentTokenRecord>, StoreError> {
        self.list_secret_tokens().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_then_expired_then_used_up() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let later = Some(now + chrono::Duration::hours(1));
        let check = |expires_at, max_uses, uses, revoked, expected| {
            assert_eq!(
                token_state(now, expires_at, max_uses, uses, revoked),
                expected,
                "expires_at {expires_at:?}, max_uses {max_uses:?}, uses {uses}, revoked {revoked}"
            );
        };
        check(None, None, 1_000, false, TokenState::Usable);
        check(later, Some(2), 1, false, TokenState::Usable);
        check(later, Some(2), 2, false, TokenState::Exhausted);
        check(later, Some(2), 3, false, TokenState::Exhausted);
        check(Some(now), Some(2), 1, false, TokenState::Expired);
        check(Some(now), Some(2), 2, false, TokenState::Expired);
        check(Some(now), Some(2), 2, true, TokenState::Revoked);
        check(later, Some(2), 2, true, TokenState::Revoked);
        check(None, None, 0, true, TokenState::Revoked);
    }

    #[test]
    fn a_record_takes_its_columns_from_the_shared_part() {
        let at = |text| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        };
        let now = at("2026-01-01T00:00:00Z");
        let shared = Shared {
            id: "t1".to_owned(),
            created_at: at("2025-12-01T00:00:00Z"),
            created_by: "alice".to_owned(),
            expires_at: Some(now),
            revoked_at: Some(at("2025-12-02T00:00:00Z")),
            revoked_by: Some("bob".to_owned()),
        };
        let expected = EnrollmentTokenRecord {
            id: "t1".to_owned(),
            label: "office".to_owned(),
            created_at: shared.created_at,
            created_by: "alice".to_owned(),
            expires_at: shared.expires_at,
            max_uses: Some(3),
            uses: 1,
            revoked_at: shared.revoked_at,
            revoked_by: Some("bob".to_owned()),
            state: TokenState::Revoked,
        };
        let record = EnrollmentTokenRecord::new(shared, "office".to_owned(), Some(3), 1, now);
        assert_eq!(record, expected);
    }
}
