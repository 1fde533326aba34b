//! Deleting a snapshot that will never be applied, and the bounds on incomplete ones: how
//! many parts an agent has pending, and expiry of snapshots no part arrived for in a while.

use chrono::Duration;
use sqlx::{AnyConnection, Row};

use crate::store::{Store, StoreError, ts};

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

    /// Deletes incomplete snapshots, with their parts, that received nothing for `idle`;
    /// returns how many. The agent still has them in its spool and sends them again whole.
    pub async fn expire_incomplete_snapshots(&self, idle: Duration) -> Result<u64, StoreError> {
        let cutoff = ts(self.now() - idle);
        let mut tx = self.begin_write().await?;
        let stale = "SELECT s.id FROM snapshots s WHERE s.state = 'receiving' AND s.received_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM snapshot_parts p WHERE p.snapshot_id = s.id AND p.received_at >= $1)";
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
