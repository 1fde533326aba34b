//! Applying a complete snapshot, atomically, in one transaction:
//!
//! 1. claim it (`UPDATE ... SET state = 'applying' WHERE state = 'receiving'`: of several
//!    processes exactly one gets the row);
//! 2. gate it: the link must still be approved ([`refusal::approval`], the same check
//!    receiving a part makes) and the snapshot newer than the link's last one
//!    ([`refusal::stale`]); applies to one source are serialised and a source never goes
//!    back in time;
//! 3. decode the parts off the async runtime and [`validate`] the payload;
//! 4. write it ([`write`](super::write), in phases).
//!
//! A snapshot refused at any gate is deleted with its parts ([`discard`]) and reported as
//! a refusal. Also safe to call again (for example after a crash between storing the last
//! part and applying).
//!
//! After step 3 the link's `kind` picks the writer: an HR snapshot goes through
//! [`write`](super::write) and then recomputes the join of its organisation's app sources;
//! an app snapshot (`entra_id`, `seat_list`: schema 2) goes through
//! [`write_licences`](super::write_licences), which joins it with its organisation's HR
//! people. Steps 1 and 2 stay shared; everything commits together.

use std::time::Instant;

use seatbroker_protocol::{DecodeError, SnapshotPayload, SourceState, decode_parts};
use sqlx::{AnyConnection, Row};

use super::discard::discard;
use super::refusal::{self, PartRefusal};
use super::validate::validate;
use super::write::{ApplyReport, Target};
use crate::store::licences::SyncAt;
use crate::store::{Backend, Store, StoreError};

/// Snapshots decoded at once by one process.
const MAX_CONCURRENT_DECODES: usize = 2;

/// Whether a source kind sends application licences (schema 2) rather than HR people.
pub(crate) fn is_app_kind(kind: &str) -> bool {
    matches!(kind, "entra_id" | "seat_list")
}

/// The result of [`Store::apply_snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ApplyResult {
    Applied(ApplyReport),
    /// Another request (or process) applied it already.
    AlreadyApplied,
    /// Not all parts are in yet.
    Incomplete,
    /// Refused and deleted; nothing was applied.
    Refused(PartRefusal),
    /// No such snapshot (it was refused and deleted by a concurrent request).
    Gone,
}

/// A claimed snapshot with its parts and what its link says.
struct Claimed {
    link_id: String,
    sequence: i64,
    collected_at: String,
    snapshot_checksum: String,
    chunks: Vec<Vec<u8>>,
    link_state: SourceState,
    source_state: Option<String>,
    last_applied: Option<i64>,
    local_name: String,
    tenant_id: String,
    /// The link's source kind (`humaans`, `entra_id`, `seat_list`): picks the writer.
    kind: String,
    /// The source the link feeds; empty when it feeds none (then the gate refuses).
    source_id: String,
}

/// Step 1: claims the snapshot for this transaction, or says why it cannot be applied
/// now (`Err`: gone, already applied, incomplete; the caller rolls back).
async fn claim(
    conn: &mut AnyConnection,
    snapshot_id: &str,
) -> Result<Result<Claimed, ApplyResult>, StoreError> {
    let claimed = sqlx::query(
        "UPDATE snapshots SET state = 'applying' WHERE id = $1 AND state = 'receiving'",
    )
    .bind(snapshot_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if claimed == 0 {
        let row = sqlx::query("SELECT state FROM snapshots WHERE id = $1")
            .bind(snapshot_id)
            .fetch_optional(&mut *conn)
            .await?;
        return Ok(Err(match row {
            None => ApplyResult::Gone,
            Some(row) if row.try_get::<String, _>("state")? == "applied" => {
                ApplyResult::AlreadyApplied
            }
            Some(_) => ApplyResult::Incomplete,
        }));
    }
    let row = sqlx::query(
        "SELECT link_id, sequence, collected_at, part_count, snapshot_checksum FROM snapshots WHERE id = $1",
    )
    .bind(snapshot_id)
    .fetch_one(&mut *conn)
    .await?;
    let link_id: String = row.try_get("link_id")?;
    let part_count: i64 = row.try_get("part_count")?;
    let parts =
        sqlx::query("SELECT part, bytes FROM snapshot_parts WHERE snapshot_id = $1 ORDER BY part")
            .bind(snapshot_id)
            .fetch_all(&mut *conn)
            .await?;
    if i64::try_from(parts.len()).unwrap_or(i64::MAX) != part_count {
        return Ok(Err(ApplyResult::Incomplete));
    }
    let chunks = parts
        .iter()
        .map(|row| row.try_get::<Vec<u8>, _>("bytes"))
        .collect::<Result<Vec<_>, _>>()?;
    let link = sqlx::query(
        "SELECT l.local_name, l.tenant_id, l.kind, l.state, l.source_id, l.last_applied_sequence, s.state AS source_state \
         FROM agent_sources l LEFT JOIN sources s ON s.id = l.source_id WHERE l.id = $1",
    )
    .bind(&link_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Ok(Claimed {
        link_id,
        sequence: row.try_get("sequence")?,
        collected_at: row.try_get("collected_at")?,
        snapshot_checksum: row.try_get("snapshot_checksum")?,
        chunks,
        link_state: SourceState::from_wire(&link.try_get::<String, _>("state")?),
        source_state: link.try_get("source_state")?,
        last_applied: link.try_get("last_applied_sequence")?,
        local_name: link.try_get("local_name")?,
        tenant_id: link.try_get("tenant_id")?,
        kind: link.try_get("kind")?,
        source_id: link
            .try_get::<Option<String>, _>("source_id")?
            .unwrap_or_default(),
    }))
}

/// Step 3: decodes the parts (off the async runtime) and validates the payload.
async fn decode(
    snapshot_id: &str,
    snap: &mut Claimed,
) -> Result<Result<SnapshotPayload, PartRefusal>, StoreError> {
    let chunks = std::mem::take(&mut snap.chunks);
    let checksum = snap.snapshot_checksum.clone();
    // Decodes of different sources run at once on PostgreSQL: bound them, so several
    // large snapshots (or bombs) at once cannot add up.
    static DECODING: tokio::sync::Semaphore =
        tokio::sync::Semaphore::const_new(MAX_CONCURRENT_DECODES);
    let permit = DECODING
        .acquire()
        .await
        .map_err(|error| StoreError::Corrupt(format!("snapshot decoding stopped: {error}")))?;
    let decoded = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        decode_parts(&chunks, &checksum)
    })
    .await
    .map_err(|error| StoreError::Corrupt(format!("snapshot decoding panicked: {error}")))?;
    let payload = match decoded {
        Ok(payload) => payload,
        Err(error @ (DecodeError::SnapshotChecksum | DecodeError::PartChecksum { .. })) => {
            return Ok(Err(PartRefusal::ChecksumMismatch(format!(
                "snapshot {snapshot_id}: {error}; the snapshot was discarded, upload all its parts again"
            ))));
        }
        Err(other) => {
            return Ok(Err(PartRefusal::PayloadInvalid(format!(
                "snapshot {snapshot_id}: {other}"
            ))));
        }
    };
    if let Err(reason) = validate(&payload, &snap.local_name, &snap.tenant_id, &snap.kind) {
        return Ok(Err(PartRefusal::PayloadInvalid(format!(
            "snapshot {snapshot_id}: {reason}"
        ))));
    }
    Ok(Ok(payload))
}

impl Store {
    /// Applies a complete snapshot (see the module docs). Idempotent.
    pub(crate) async fn apply_snapshot(
        &self,
        snapshot_id: &str,
    ) -> Result<ApplyResult, StoreError> {
        let started = Instant::now();
        let mut tx = self.begin_write().await?;
        let mut snap = match claim(&mut tx, snapshot_id).await? {
            Ok(snap) => snap,
            Err(result) => {
                tx.rollback().await?;
                return Ok(result);
            }
        };
        let payload = match self.gate(&mut tx, snapshot_id, &snap).await? {
            Some(refusal) => Err(refusal),
            None => decode(snapshot_id, &mut snap).await?,
        };
        let payload = match payload {
            Ok(payload) => payload,
            Err(refusal) => {
                discard(&mut tx, snapshot_id).await?;
                tx.commit().await?;
                return Ok(ApplyResult::Refused(refusal));
            }
        };
        let target = Target {
            snapshot_id,
            source_id: &snap.source_id,
            link_id: &snap.link_id,
            sequence: snap.sequence,
            collected_at: &snap.collected_at,
        };
        let mut report = if is_app_kind(&snap.kind) {
            self.write_app_snapshot(&mut tx, &target, &payload).await?
        } else {
            let report = self.write_snapshot(&mut tx, &target, &payload).await?;
            // The HR side moved: the join of its organisation's app sources follows, in
            // this transaction.
            let when = SyncAt {
                at: &snap.collected_at,
                cause: snapshot_id,
            };
            self.rejoin_organisation_of(&mut tx, &snap.source_id, when)
                .await?;
            report
        };
        tx.commit().await?;
        report.duration = started.elapsed();
        tracing::info!(
            snapshot = %snapshot_id,
            source = %snap.source_id,
            people = report.people,
            changes = report.state_changes,
            removed = report.removed,
            ms = report.duration.as_millis() as u64,
            "Snapshot applied."
        );
        Ok(ApplyResult::Applied(report))
    }

    /// Step 2: whether the claimed snapshot may be applied: newer than the link's last,
    /// link still approved, and not older than what its source already holds.
    async fn gate(
        &self,
        conn: &mut AnyConnection,
        snapshot_id: &str,
        snap: &Claimed,
    ) -> Result<Option<PartRefusal>, StoreError> {
        let refusal = refusal::stale(u64::try_from(snap.sequence).unwrap_or(0), snap.last_applied)
            .or_else(|| refusal::approval(&snap.link_state, snap.source_state.as_deref()));
        if refusal.is_some() {
            return Ok(refusal);
        }
        // Applies to one source are serialised (on PostgreSQL by locking its row; SQLite
        // writes are serial anyway), and a source never goes back in time: after a merge two
        // agents may feed it, and a snapshot collected before the data the source already
        // shows would overwrite newer states with older ones.
        let lock = if self.backend() == Backend::Postgres {
            "SELECT last_snapshot_at FROM sources WHERE id = $1 FOR UPDATE"
        } else {
            "SELECT last_snapshot_at FROM sources WHERE id = $1"
        };
        let newest: Option<String> = sqlx::query(lock)
            .bind(&snap.source_id)
            .fetch_optional(&mut *conn)
            .await?
            .map(|row| row.try_get::<Option<String>, _>("last_snapshot_at"))
            .transpose()?
            .flatten();
        Ok(newest
            .filter(|newest| snap.collected_at < *newest)
            .map(|newest| {
                PartRefusal::Conflict(format!(
                    "snapshot {snapshot_id} was collected at {}, before the data source {} \
                     already holds (collected at {newest}, e.g. by another agent merged into it); \
                     it would turn the source back in time and was not applied",
                    snap.collected_at, snap.source_id
                ))
            }))
    }
}
