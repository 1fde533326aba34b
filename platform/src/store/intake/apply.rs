//! Applying a complete snapshot. Decoding happens before the write transaction, so a large
//! snapshot or a compression bomb of one agent never holds the database's write lock (on
//! SQLite the only one) while it inflates; logins and other agents' uploads go on meanwhile.
//!
//! 1. look, without writing: the snapshot must be complete and still `receiving`, its link
//!    approved and its sequence newer than the link's last ([`refusal::approval`],
//!    [`refusal::stale`]), or nothing is decoded;
//! 2. decode the parts off the async runtime, at most [`MAX_CONCURRENT_DECODES`] at once per
//!    process, and [`validate`] the payload. One request per snapshot decodes at a time in a
//!    process: a retried last part waits for the first and then finds the snapshot applied;
//! 3. in one write transaction: claim it (`UPDATE ... SET state = 'applying' WHERE state =
//!    'receiving'`: of several processes exactly one gets the row) and check that it is the
//!    content decoded (same snapshot checksum); gate it again, since the link may have
//!    changed during the decode, and lock its source ([`Store::gate`]: applies to one source
//!    are serialised and a source never goes back in time);
//! 4. write it ([`write`](super::write), in phases) and commit.
//!
//! A snapshot refused at any gate, or whose decode failed, is deleted with its parts
//! ([`discard`]) by the request that claimed it, and reported as a refusal. Also safe to call
//! again (for example after a crash between storing the last part and applying).
//!
//! After step 2 the link's `kind` picks the writer: an HR snapshot goes through
//! [`write`](super::write) and then recomputes the join of its organisation's app sources;
//! an app snapshot (`entra_id`, `seat_list`: schema 2) goes through
//! [`write_licences`](super::write_licences), which joins it with its organisation's HR
//! people. Steps 3 and 4 commit together.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use seatbroker_protocol::{DecodeError, SnapshotPayload, SourceState, decode_parts};
use sqlx::{AnyConnection, Row};

use super::discard::discard;
use super::refusal::{self, PartRefusal};
use super::validate::validate;
use super::write::{ApplyReport, Target};
use crate::store::licences::SyncAt;
use crate::store::{Backend, Store, StoreError};

/// Snapshots decoded at once by one process (by one store: a process has one).
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

/// A pause point inside decoding, for tests that need the decode of one snapshot to be in
/// progress: that decode announces itself ([`DecodeGate::entered`]) and waits, holding its
/// decode slot, until [`DecodeGate::release`]. Other snapshots pass. Set with
/// [`Store::with_decode_gate`]; a store without one never waits.
#[derive(Debug)]
pub struct DecodeGate {
    snapshot_id: String,
    entered: tokio::sync::Semaphore,
    released: tokio::sync::Semaphore,
    entries: std::sync::atomic::AtomicUsize,
}

impl DecodeGate {
    /// A gate that holds the decodes of `snapshot_id`.
    pub fn new(snapshot_id: &str) -> Arc<Self> {
        Arc::new(Self {
            snapshot_id: snapshot_id.to_owned(),
            entered: tokio::sync::Semaphore::new(0),
            released: tokio::sync::Semaphore::new(0),
            entries: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Waits until a decode of the snapshot is held at the gate.
    pub async fn entered(&self) {
        if let Ok(permit) = self.entered.acquire().await {
            permit.forget();
        }
    }

    /// How many decodes of the snapshot reached the gate so far.
    pub fn entries(&self) -> usize {
        self.entries.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Lets one held decode (or the next one to arrive) go on.
    pub fn release(&self) {
        self.released.add_permits(1);
    }

    async fn pass(&self, snapshot_id: &str) {
        if snapshot_id != self.snapshot_id {
            return;
        }
        self.entries
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.entered.add_permits(1);
        if let Ok(permit) = self.released.acquire().await {
            permit.forget();
        }
    }
}

/// Per-process state of decoding, shared by a store's clones: which snapshots a request is
/// applying (a second request for one waits for the first), the decode slots, and the test
/// gate. It belongs to the store, not to the process image: two stores in one process (tests)
/// do not share slots, so one store's held decode never starves another's.
#[derive(Debug)]
pub(crate) struct Decodes {
    busy: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    slots: Arc<tokio::sync::Semaphore>,
    gate: Option<Arc<DecodeGate>>,
}

impl Default for Decodes {
    fn default() -> Self {
        Self {
            busy: Mutex::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_DECODES)),
            gate: None,
        }
    }
}

impl Decodes {
    pub(crate) fn with_gate(gate: Arc<DecodeGate>) -> Self {
        Self {
            gate: Some(gate),
            ..Self::default()
        }
    }

    /// A decode slot: at most [`MAX_CONCURRENT_DECODES`] per store (one store per process).
    /// It is held from before the parts are read until the payload is written (or dropped),
    /// so neither compressed parts nor decoded payloads of more snapshots than that are in
    /// memory at once, whatever the number of requests waiting; requests without a slot hold
    /// nothing.
    async fn slot(&self) -> Result<Slot, StoreError> {
        let permit =
            self.slots.clone().acquire_owned().await.map_err(|error| {
                StoreError::Corrupt(format!("snapshot decoding stopped: {error}"))
            })?;
        Ok(Arc::new(permit))
    }

    /// Waits until no other request of this process applies `snapshot_id`, and holds it.
    async fn turn(self: &Arc<Self>, snapshot_id: &str) -> Turn {
        let lock = self
            .busy
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .entry(snapshot_id.to_owned())
            .or_default()
            .clone();
        Turn {
            guard: Some(lock.lock_owned().await),
            decodes: self.clone(),
            snapshot_id: snapshot_id.to_owned(),
        }
    }
}

/// One request's turn at a snapshot; the last to leave removes its entry.
struct Turn {
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    decodes: Arc<Decodes>,
    snapshot_id: String,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut busy = self
            .decodes
            .busy
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        self.guard = None;
        // Nobody else holds or waits for it (each waiter clones the lock under `busy`).
        if busy
            .get(&self.snapshot_id)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            busy.remove(&self.snapshot_id);
        }
    }
}

/// What a snapshot and its link say, read before decoding and again once claimed.
struct Snapshot {
    link_id: String,
    sequence: i64,
    collected_at: String,
    part_count: i64,
    snapshot_checksum: String,
    state: String,
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

impl Snapshot {
    /// The checks that need no lock: approval of the link and a sequence newer than its last.
    fn refusal(&self) -> Option<PartRefusal> {
        refusal::stale(u64::try_from(self.sequence).unwrap_or(0), self.last_applied)
            .or_else(|| refusal::approval(&self.link_state, self.source_state.as_deref()))
    }
}

/// Reads the snapshot and its link (not its parts); `None` when there is no such snapshot.
async fn read(conn: &mut AnyConnection, snapshot_id: &str) -> Result<Option<Snapshot>, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT link_id, sequence, collected_at, part_count, snapshot_checksum, state FROM snapshots WHERE id = $1",
    )
    .bind(snapshot_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let link_id: String = row.try_get("link_id")?;
    let link = sqlx::query(
        "SELECT l.local_name, l.tenant_id, l.kind, l.state, l.source_id, l.last_applied_sequence, s.state AS source_state \
         FROM agent_sources l LEFT JOIN sources s ON s.id = l.source_id WHERE l.id = $1",
    )
    .bind(&link_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(Snapshot {
        link_id,
        sequence: row.try_get("sequence")?,
        collected_at: row.try_get("collected_at")?,
        part_count: row.try_get("part_count")?,
        snapshot_checksum: row.try_get("snapshot_checksum")?,
        state: row.try_get("state")?,
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

/// Step 1: the snapshot, if it is complete and waiting to be applied; otherwise what to
/// answer instead.
async fn look(
    conn: &mut AnyConnection,
    snapshot_id: &str,
) -> Result<Result<Snapshot, ApplyResult>, StoreError> {
    let Some(snap) = read(conn, snapshot_id).await? else {
        return Ok(Err(ApplyResult::Gone));
    };
    match snap.state.as_str() {
        "applied" => return Ok(Err(ApplyResult::AlreadyApplied)),
        "receiving" => {}
        _ => return Ok(Err(ApplyResult::Incomplete)),
    }
    let row = sqlx::query("SELECT COUNT(*) AS n FROM snapshot_parts WHERE snapshot_id = $1")
        .bind(snapshot_id)
        .fetch_one(&mut *conn)
        .await?;
    if row.try_get::<i64, _>("n")? != snap.part_count {
        return Ok(Err(ApplyResult::Incomplete));
    }
    Ok(Ok(snap))
}

/// Step 3's claim: exactly one transaction (of any process) turns the snapshot from
/// `receiving` to `applying`; `Err` says why this one did not (the caller rolls back).
async fn claim(
    conn: &mut AnyConnection,
    snapshot_id: &str,
    decoded_checksum: &str,
) -> Result<Result<Snapshot, ApplyResult>, StoreError> {
    let claimed = sqlx::query(
        "UPDATE snapshots SET state = 'applying' WHERE id = $1 AND state = 'receiving'",
    )
    .bind(snapshot_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let Some(snap) = read(conn, snapshot_id).await? else {
        return Ok(Err(ApplyResult::Gone));
    };
    if claimed == 0 {
        return Ok(Err(if snap.state == "applied" {
            ApplyResult::AlreadyApplied
        } else {
            ApplyResult::Incomplete
        }));
    }
    if snap.snapshot_checksum != decoded_checksum {
        // Discarded and received again with other content while this request decoded:
        // the request that completes the new one applies it.
        return Ok(Err(ApplyResult::Incomplete));
    }
    Ok(Ok(snap))
}

/// A held decode slot ([`Decodes::slot`]), shared with the blocking decode task.
type Slot = Arc<tokio::sync::OwnedSemaphorePermit>;

/// Step 2: reads the parts and decodes them (off the async runtime), then validates the
/// payload. No transaction is open meanwhile; the parts of a complete snapshot never
/// change, and the claim checks that the snapshot is still the one decoded.
async fn decode(
    store: &Store,
    snapshot_id: &str,
    snap: &Snapshot,
    slot: &Slot,
) -> Result<Result<SnapshotPayload, PartRefusal>, StoreError> {
    if let Some(gate) = &store.decodes.gate {
        gate.pass(snapshot_id).await;
    }
    let parts =
        sqlx::query("SELECT part, bytes FROM snapshot_parts WHERE snapshot_id = $1 ORDER BY part")
            .bind(snapshot_id)
            .fetch_all(store.pool())
            .await?;
    let chunks = parts
        .iter()
        .map(|row| row.try_get::<Vec<u8>, _>("bytes"))
        .collect::<Result<Vec<_>, _>>()?;
    drop(parts);
    let checksum = snap.snapshot_checksum.clone();
    // The blocking task keeps the slot too: if this request is dropped, the decode runs on
    // and still counts.
    let slot = slot.clone();
    let decoded = tokio::task::spawn_blocking(move || {
        let _slot = slot;
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
        let _turn = self.decodes.turn(snapshot_id).await;
        let seen = {
            let mut conn = self.pool().acquire().await?;
            match look(&mut conn, snapshot_id).await? {
                Ok(snap) => snap,
                Err(result) => return Ok(result),
            }
        };
        let slot = self.decodes.slot().await?;
        let decoded = match seen.refusal() {
            Some(refusal) => Err(refusal),
            None => decode(self, snapshot_id, &seen, &slot).await?,
        };
        tracing::debug!(snapshot = %snapshot_id, phase = "decode", ms = started.elapsed().as_millis() as u64, "Apply phase done.");

        let mut tx = self.begin_write().await?;
        let snap = match claim(&mut tx, snapshot_id, &seen.snapshot_checksum).await? {
            Ok(snap) => snap,
            Err(result) => {
                tx.rollback().await?;
                return Ok(result);
            }
        };
        let payload = match self.gate(&mut tx, snapshot_id, &snap).await? {
            Some(refusal) => Err(refusal),
            None => decoded,
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
            match self.write_app_snapshot(&mut tx, &target, &payload).await {
                Ok(report) => report,
                // Raised before anything was written: only the claim is undone.
                Err(StoreError::BaseMismatch(why)) => {
                    discard(&mut tx, snapshot_id).await?;
                    tx.commit().await?;
                    tracing::info!(snapshot = %snapshot_id, source = %snap.source_id, reason = %why, "Refused a licence delta; the agent will send the snapshot whole.");
                    return Ok(ApplyResult::Refused(PartRefusal::BaseMismatch(why)));
                }
                Err(error) => return Err(error),
            }
        } else {
            let (report, change) = self.write_snapshot(&mut tx, &target, &payload).await?;
            // The HR side moved: the join of its organisation's app sources follows, in
            // this transaction.
            let when = SyncAt {
                at: &snap.collected_at,
                cause: snapshot_id,
            };
            self.rejoin_organisation_of(&mut tx, &snap.source_id, &change, when)
                .await?;
            report
        };
        let committing = Instant::now();
        tx.commit().await?;
        tracing::debug!(snapshot = %snapshot_id, phase = "commit", ms = committing.elapsed().as_millis() as u64, "Apply phase done.");
        drop(slot);
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

    /// Step 3's gate, inside the write transaction: whether the claimed snapshot may be
    /// applied: newer than the link's last, link still approved, and not older than what its
    /// source already holds.
    async fn gate(
        &self,
        conn: &mut AnyConnection,
        snapshot_id: &str,
        snap: &Snapshot,
    ) -> Result<Option<PartRefusal>, StoreError> {
        let refusal = snap.refusal();
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
