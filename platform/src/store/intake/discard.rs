//! Deleting a snapshot that will never be applied.

use sqlx::AnyConnection;

use crate::store::StoreError;

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
