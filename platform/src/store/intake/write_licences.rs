//! Writing a validated app-source snapshot (schema 2: accounts, licences, pools) into its
//! source, inside the apply's transaction: the accounts and licences and their join with
//! the organisation's HR people (`store::licences::sync`), the pools, the source's licence
//! facts, then the same finish as an HR snapshot (last upload, sequence, parts deleted).

use std::time::Duration;

use seatbroker_protocol::SnapshotPayload;
use sqlx::AnyConnection;

use super::write::{ApplyReport, Target};
use crate::store::licences::{Scope, SyncAt};
use crate::store::{Store, StoreError};

impl Store {
    /// Writes an app snapshot whose `licences` section [`validate`](super::validate) checked.
    pub(super) async fn write_app_snapshot(
        &self,
        conn: &mut AnyConnection,
        target: &Target<'_>,
        payload: &SnapshotPayload,
    ) -> Result<ApplyReport, StoreError> {
        let Some(licences) = payload.licences.as_ref() else {
            return Err(StoreError::Corrupt(format!(
                "snapshot {} of an application source has no licence section after validation",
                target.snapshot_id
            )));
        };
        let when = SyncAt {
            at: target.collected_at,
            cause: target.snapshot_id,
        };
        let sync = self
            .sync_source(conn, target.source_id, Scope::Snapshot(licences), when)
            .await?;
        self.write_pools(conn, target.source_id, licences).await?;
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        sqlx::query(
            "UPDATE sources SET licence_as_of = $1, activity_available = $2, accounts_total = $3, \
             unparsable_records = $4, accounts_digest = $5 WHERE id = $6",
        )
        .bind(crate::store::day(licences.as_of))
        .bind(i64::from(licences.activity_available))
        .bind(n(licences.accounts_total))
        .bind(i64::try_from(licences.unparsable_records.len()).unwrap_or(i64::MAX))
        .bind(sync.digest.map(seatbroker_protocol::digest_text))
        .bind(target.source_id)
        .execute(&mut *conn)
        .await?;
        self.finish(conn, target, payload).await?;
        Ok(ApplyReport {
            snapshot_id: target.snapshot_id.to_owned(),
            source_id: target.source_id.to_owned(),
            people: sync.accounts,
            added: 0,
            updated: sync.accounts_written,
            state_changes: sync.state_changes,
            removed: sync.accounts_removed,
            findings: 0,
            duration: Duration::ZERO,
        })
    }
}
