//! The audit log: who did what to which record, and when.
//!
//! API (the console reads it):
//! - `Store::list_audit(&self, limit: i64, before_id: Option<i64>) -> Result<Vec<AuditEntry>, StoreError>`
//!   newest first; pass the smallest id seen as `before_id` for the next page.
//!
//! Every approval operation in this module tree writes its row inside the same transaction
//! as the change itself, so the log never misses or invents an action.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError, parse_ts, ts};

/// One administrative action.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// User name, `system`, or `agent:<id>`.
    pub actor: String,
    /// Dotted verb, e.g. `agent.approve`, `source.merge`, `token.create`.
    pub action: String,
    /// Id of the record acted on.
    pub target: String,
    /// JSON object with the particulars.
    pub detail: serde_json::Value,
}

/// Writes one audit row on `conn` (inside the caller's transaction).
pub(crate) async fn write(
    conn: &mut AnyConnection,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(ts(at))
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Audit entries, newest first, at most `limit`, older than `before_id` when given.
    pub async fn list_audit(
        &self,
        limit: i64,
        before_id: Option<i64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, detail FROM audit_log \
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: parse_ts(&row.try_get::<String, _>("at")?)?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    detail: serde_json::from_str(&detail)
                        .unwrap_or(serde_json::Value::String(detail)),
                })
            })
            .collect()
    }
}
