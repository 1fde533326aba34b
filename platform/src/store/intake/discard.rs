//! Deleting a snapshot that will never be applied, and the bounds on incomplete ones: how
//! many parts an agent has pending, and expiry of snapshots no part arrived for in a while
//! (counted per agent in `snapshot_expiries`); [`Store::incomplete_uploads`] shows both.

use chrono::{DateTime, Duration, Utc};
use sqlx::{AnyConnection, Row};

use crate::store::{Store, StoreError, parse_opt_ts, ts};

/// An agent's incomplete snapshots, and what the expiry job dropped of its.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct IncompleteUploads {
    /// Snapshots still receiving parts.
    pub snapshots: u64,
    /// Their parts stored (what the per-agent cap counts).
    pub parts: u64,
    /// The bytes those parts hold (compressed).
    pub bytes: u64,
    /// When the oldest of them received its first part.
    pub oldest_at: Option<DateTime<Utc>>,
    /// When the last part of any of them arrived.
    pub last_part_at: Option<DateTime<Utc>>,
    /// Incomplete snapshots of this agent the expiry job dropped, ever.
    pub expired: u64,
    /// When it last dropped one.
    pub last_expired_at: Option<DateTime<Utc>>,
}

/// Deletes a snapshot that will never be applied, with its parts.
pub(super) async fn discard(conn: &mut AnyConnection, snapshot_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM snapshot_parts WHERE snapshot_id = $1")
        .bind(snapshot_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM snapshots WHERE id = $1")
        .bind(snapshot_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// Parts stored for `agent_id`'s snapshots that are still being received.
    pub async fn pending_parts(&self, agent_id: &str) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM snapshot_parts p JOIN snapshots s ON s.id = p.snapshot_id \
             WHERE s.agent_id = $1 AND s.state = 'receiving'",
        )
        .bind(agent_id)
        .fetch_one(self.pool())
        .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
    }

    /// Every agent's incomplete snapshots and expiries, by agent id; agents with neither
    /// are absent.
    pub async fn incomplete_uploads(
        &self,
    ) -> Result<std::collections::HashMap<String, IncompleteUploads>, StoreError> {
        let mut out = std::collections::HashMap::<String, IncompleteUploads>::new();
        let rows = sqlx::query(
            "SELECT s.agent_id, COUNT(DISTINCT s.id) AS snapshots, COUNT(p.part) AS parts, \
             CAST(COALESCE(SUM(LENGTH(p.bytes)), 0) AS BIGINT) AS bytes, \
             MIN(s.received_at) AS oldest_at, MAX(p.received_at) AS last_part_at \
             FROM snapshots s LEFT JOIN snapshot_parts p ON p.snapshot_id = s.id \
             WHERE s.state = 'receiving' GROUP BY s.agent_id",
        )
        .fetch_all(self.pool())
        .await?;
        let count = |row: &sqlx::any::AnyRow, column: &str| -> Result<u64, StoreError> {
            Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
        };
        for row in &rows {
            let entry = out.entry(row.try_get("agent_id")?).or_default();
            entry.snapshots = count(row, "snapshots")?;
            entry.parts = count(row, "parts")?;
            entry.bytes = count(row, "bytes")?;
            entry.oldest_at = parse_opt_ts(row.try_get("oldest_at")?)?;
            entry.last_part_at = parse_opt_ts(row.try_get("last_part_at")?)?;
        }
        let rows = sqlx::query("SELECT agent_id, expired, last_expired_at FROM snapshot_expiries")
            .fetch_all(self.pool())
            .await?;
        for row in &rows {
            let entry = out.entry(row.try_get("agent_id")?).or_default();
            entry.expired = count(row, "expired")?;
            entry.last_expired_at = parse_opt_ts(row.try_get("last_expired_at")?)?;
        }
        Ok(out)
    }

    /// Deletes incomplete snapshots, with their parts, that received nothing for `idle`;
    /// returns how many. The agent still has them in its spool and sends them again whole.
    pub async fn expire_incomplete_snapshots(&self, idle: Duration) -> Result<u64, StoreError> {
        let now = self.now();
        let cutoff = ts(now - idle);
        let mut tx = self.begin_write().await?;
        let stale = "SELECT s.id FROM snapshots s WHERE s.state = 'receiving' AND s.received_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM snapshot_parts p WHERE p.snapshot_id = s.id AND p.received_at >= $1)";
        sqlx::query(&format!(
            "INSERT INTO snapshot_expiries (agent_id, expired, last_expired_at) \
             SELECT agent_id, COUNT(*), $2 FROM snapshots WHERE id IN ({stale}) GROUP BY agent_id \
             ON CONFLICT (agent_id) DO UPDATE SET expired = snapshot_expiries.expired + excluded.expired, \
             last_expired_at = excluded.last_expired_at"
        ))
        .bind(&cutoff)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "DELETE FROM snapshot_parts WHERE snapshot_id IN ({stale})"
        ))
        .bind(&cutoff)
        .execute(&mut *tx)
        .await?;
        let removed = sqlx::query(&format!("DELETE FROM snapshots WHERE id IN ({stale})"))
            .bind(&cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        if removed > 0 {
            tracing::info!(snapshots = removed, "Expired incomplete snapshots.");
        }
        Ok(removed)
    }
}
