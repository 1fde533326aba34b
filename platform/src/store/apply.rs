//! Applying a complete snapshot, atomically.
//!
//! API:
//! - `Store::apply_snapshot(&self, snapshot_id: &str) -> Result<ApplyResult, StoreError>`
//!   called by `receive_part` when the last part is in; also safe to call again (for
//!   example after a crash between storing the last part and applying).
//!
//! One transaction: claim the snapshot (`UPDATE ... SET state = 'applying' WHERE state =
//! 'receiving'`: of several processes exactly one gets the row), decode the parts,
//! validate, then diff the seats against `seats_current` in memory and write only what
//! changed, in multi-row statements:
//!
//! - `seats_current`: upsert new and changed people; delete people absent from the snapshot;
//! - `seat_history`: close the open row and open a new one only when a person's state or
//!   reason changes (or they appear); close the open row of people who disappear;
//! - `daily_summaries`: upsert the row of the summary's day (the latest collection wins);
//! - `findings_current`: replaced;
//! - the link's `last_applied_sequence`, the source's last upload, the snapshot's state;
//!   the parts are deleted, so storage grows with changes, not with snapshots.
//!
//! A snapshot that fails to decode or validate, or is not newer than the last one applied
//! for its link, is deleted with its parts and reported as a refusal.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use seatbroker_protocol::{
    DecodeError, SeatReason, SeatRecord, SeatState, SnapshotPayload, SourceState, StateCounts,
    decode_parts,
};
use sqlx::{Any, AnyConnection, Row};

use super::snapshots::{PartRefusal, discard};
use super::{Store, StoreError, day, ts};

/// Longest text field a seat may carry.
const MAX_FIELD_CHARS: usize = 1024;

/// What applying a snapshot did.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyReport {
    pub snapshot_id: String,
    /// The source it was applied to.
    pub source_id: String,
    pub people: usize,
    /// People seen for the first time.
    pub added: usize,
    /// People whose stored fields changed.
    pub updated: usize,
    /// People whose state or reason changed (history rows opened, new people included).
    pub state_changes: usize,
    /// People absent from the snapshot, removed from the current state.
    pub removed: usize,
    pub findings: usize,
    pub duration: Duration,
}

/// The result of [`Store::apply_snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyResult {
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

/// A seat's stored columns, for comparing with the incoming record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SeatRow {
    name: Option<String>,
    work_email: Option<String>,
    status: String,
    start_date: Option<String>,
    end_date: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    manager_id: Option<String>,
    is_verified: Option<i64>,
    state: String,
    reason: Option<String>,
    since: Option<String>,
}

impl SeatRow {
    fn from_record(seat: &SeatRecord) -> Self {
        SeatRow {
            name: seat.name.clone(),
            work_email: seat.work_email.clone(),
            status: seat.status.as_str().to_owned(),
            start_date: seat.employment_start_date.map(day),
            end_date: seat.employment_end_date.map(day),
            job_title: seat.job_title.clone(),
            department: seat.department.clone(),
            manager_id: seat.manager_id.clone(),
            is_verified: seat.is_verified.map(i64::from),
            state: seat.state.as_str().to_owned(),
            reason: seat.reason.as_ref().map(|r| r.as_str().to_owned()),
            since: seat.since.map(day),
        }
    }
}

/// Checks a decoded payload against the link it was uploaded for.
fn validate(payload: &SnapshotPayload, local_name: &str, tenant_id: &str) -> Result<(), String> {
    if payload.local_source != local_name {
        return Err(format!(
            "the snapshot is of local source {:?} but was uploaded for {:?}",
            payload.local_source, local_name
        ));
    }
    if !tenant_id.is_empty() && payload.collection.tenant_id != tenant_id {
        return Err(format!(
            "the snapshot is of tenant {:?} but source {:?} was approved for tenant {:?}",
            payload.collection.tenant_id, local_name, tenant_id
        ));
    }
    // PostgreSQL refuses NUL in text; refuse it here as bad input rather than fail the
    // transaction with a 5xx the agent would retry for ever.
    let has_nul = |v: &str| v.contains('\0');
    let seat_has_nul = |seat: &SeatRecord| {
        [
            &seat.name,
            &seat.work_email,
            &seat.job_title,
            &seat.department,
            &seat.manager_id,
        ]
        .iter()
        .any(|f| f.as_deref().is_some_and(has_nul))
            || [
                seat.person_id.as_str(),
                seat.status.as_str(),
                seat.state.as_str(),
            ]
            .iter()
            .any(|v| has_nul(v))
            || seat.reason.as_ref().is_some_and(|r| has_nul(r.as_str()))
    };
    if let Some(seat) = payload.seats.iter().find(|s| seat_has_nul(s)) {
        return Err(format!(
            "person {:?} has a text field containing a NUL character",
            seat.person_id.replace('\0', "\\0")
        ));
    }
    if payload.findings.iter().any(|f| {
        has_nul(&f.person_id)
            || has_nul(f.kind.as_str())
            || f.detail.as_deref().is_some_and(has_nul)
    }) {
        return Err("a data-quality finding contains a NUL character".to_owned());
    }
    let mut seen = HashSet::with_capacity(payload.seats.len());
    for seat in &payload.seats {
        if seat.person_id.is_empty() || seat.person_id.len() > 256 {
            return Err(format!(
                "a seat has a person id of {} bytes; ids must be 1 to 256 bytes",
                seat.person_id.len()
            ));
        }
        if !seen.insert(seat.person_id.as_str()) {
            return Err(format!(
                "person {:?} appears more than once in the snapshot",
                seat.person_id
            ));
        }
        let fields = [
            &seat.name,
            &seat.work_email,
            &seat.job_title,
            &seat.department,
            &seat.manager_id,
        ];
        if fields.iter().any(|f| {
            f.as_ref()
                .is_some_and(|v| v.chars().count() > MAX_FIELD_CHARS)
        }) || seat.status.as_str().len() > 64
            || seat.state.as_str().len() > 64
        {
            return Err(format!(
                "person {:?} has a field longer than {MAX_FIELD_CHARS} characters",
                seat.person_id
            ));
        }
    }
    Ok(())
}

/// `$1, $2, ...` groups for a multi-row VALUES list: `rows` groups of `cols` placeholders
/// starting after `offset`.
fn values_list(rows: usize, cols: usize, offset: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 6);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for col in 0..cols {
            if col > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(offset + row * cols + col + 1).to_string());
        }
        out.push(')');
    }
    out
}

/// `$n, $n+1, ...` for an `IN (...)` list.
fn in_list(count: usize, offset: usize) -> String {
    (0..count)
        .map(|i| format!("${}", offset + i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Claimed {
    link_id: String,
    sequence: i64,
    collected_at: String,
    part_count: i64,
    snapshot_checksum: String,
}

impl Store {
    /// Applies a complete snapshot (see the module docs). Idempotent.
    pub async fn apply_snapshot(&self, snapshot_id: &str) -> Result<ApplyResult, StoreError> {
        let started = Instant::now();
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(
            "UPDATE snapshots SET state = 'applying' WHERE id = $1 AND state = 'receiving'",
        )
        .bind(snapshot_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            let row = sqlx::query("SELECT state FROM snapshots WHERE id = $1")
                .bind(snapshot_id)
                .fetch_optional(&mut *tx)
                .await?;
            tx.rollback().await?;
            return Ok(match row {
                None => ApplyResult::Gone,
                Some(row) if row.try_get::<String, _>("state")? == "applied" => {
                    ApplyResult::AlreadyApplied
                }
                Some(_) => ApplyResult::Incomplete,
            });
        }
        let row = sqlx::query(
            "SELECT link_id, sequence, collected_at, part_count, snapshot_checksum FROM snapshots WHERE id = $1",
        )
        .bind(snapshot_id)
        .fetch_one(&mut *tx)
        .await?;
        let snap = Claimed {
            link_id: row.try_get("link_id")?,
            sequence: row.try_get("sequence")?,
            collected_at: row.try_get("collected_at")?,
            part_count: row.try_get("part_count")?,
            snapshot_checksum: row.try_get("snapshot_checksum")?,
        };
        let parts = sqlx::query(
            "SELECT part, bytes FROM snapshot_parts WHERE snapshot_id = $1 ORDER BY part",
        )
        .bind(snapshot_id)
        .fetch_all(&mut *tx)
        .await?;
        if i64::try_from(parts.len()).unwrap_or(i64::MAX) != snap.part_count {
            tx.rollback().await?;
            return Ok(ApplyResult::Incomplete);
        }
        let link = sqlx::query(
            "SELECT l.local_name, l.tenant_id, l.state, l.source_id, l.last_applied_sequence, s.state AS source_state \
             FROM agent_sources l LEFT JOIN sources s ON s.id = l.source_id WHERE l.id = $1",
        )
        .bind(&snap.link_id)
        .fetch_one(&mut *tx)
        .await?;
        let link_state = SourceState::from_wire(&link.try_get::<String, _>("state")?);
        let source_state: Option<String> = link.try_get("source_state")?;
        let last_applied: Option<i64> = link.try_get("last_applied_sequence")?;
        let local_name: String = link.try_get("local_name")?;
        let tenant_id: String = link.try_get("tenant_id")?;
        let source_id: Option<String> = link.try_get("source_id")?;

        let refusal = if let Some(last) = last_applied.filter(|last| snap.sequence <= *last) {
            Some(PartRefusal::Stale {
                sequence: u64::try_from(snap.sequence).unwrap_or(0),
                last_applied: last,
            })
        } else {
            match (&link_state, source_state.as_deref(), &source_id) {
                (SourceState::Approved | SourceState::Merged, Some("approved"), Some(_)) => None,
                (SourceState::Rejected, _, _) => Some(PartRefusal::SourceRejected),
                (SourceState::Pending, _, _) => Some(PartRefusal::SourcePending),
                _ => Some(PartRefusal::SourceRevoked),
            }
        };
        if let Some(refusal) = refusal {
            discard(&mut tx, snapshot_id).await?;
            tx.commit().await?;
            return Ok(ApplyResult::Refused(refusal));
        }
        let source_id = source_id.unwrap_or_default();

        // Applies to one source are serialised (on PostgreSQL by locking its row; SQLite
        // writes are serial anyway), and a source never goes back in time: after a merge two
        // agents may feed it, and a snapshot collected before the data the source already
        // shows would overwrite newer states with older ones.
        let lock = if self.backend() == super::Backend::Postgres {
            "SELECT last_snapshot_at FROM sources WHERE id = $1 FOR UPDATE"
        } else {
            "SELECT last_snapshot_at FROM sources WHERE id = $1"
        };
        let newest: Option<String> = sqlx::query(lock)
            .bind(&source_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get::<Option<String>, _>("last_snapshot_at"))
            .transpose()?
            .flatten();
        if let Some(newest) = newest.filter(|newest| snap.collected_at < *newest) {
            discard(&mut tx, snapshot_id).await?;
            tx.commit().await?;
            return Ok(ApplyResult::Refused(PartRefusal::Conflict(format!(
                "snapshot {snapshot_id} was collected at {}, before the data source {source_id} \
                 already holds (collected at {newest}, e.g. by another agent merged into it); \
                 it would turn the source back in time and was not applied",
                snap.collected_at
            ))));
        }

        let chunks = parts
            .iter()
            .map(|row| row.try_get::<Vec<u8>, _>("bytes"))
            .collect::<Result<Vec<_>, _>>()?;
        let checksum = snap.snapshot_checksum.clone();
        let decoded = tokio::task::spawn_blocking(move || decode_parts(&chunks, &checksum))
            .await
            .map_err(|error| StoreError::Corrupt(format!("snapshot decoding panicked: {error}")))?;
        let payload = match decoded {
            Ok(payload) => payload,
            Err(error) => {
                let refusal = match error {
                    DecodeError::SnapshotChecksum | DecodeError::PartChecksum { .. } => {
                        PartRefusal::ChecksumMismatch(format!(
                            "snapshot {snapshot_id}: {error}; the snapshot was discarded, upload all its parts again"
                        ))
                    }
                    other => {
                        PartRefusal::PayloadInvalid(format!("snapshot {snapshot_id}: {other}"))
                    }
                };
                discard(&mut tx, snapshot_id).await?;
                tx.commit().await?;
                return Ok(ApplyResult::Refused(refusal));
            }
        };
        if let Err(reason) = validate(&payload, &local_name, &tenant_id) {
            discard(&mut tx, snapshot_id).await?;
            tx.commit().await?;
            return Ok(ApplyResult::Refused(PartRefusal::PayloadInvalid(format!(
                "snapshot {snapshot_id}: {reason}"
            ))));
        }

        let mut report = self
            .write_snapshot(&mut tx, snapshot_id, &source_id, &snap, &payload)
            .await?;
        tx.commit().await?;
        report.duration = started.elapsed();
        tracing::info!(
            snapshot = %snapshot_id,
            source = %source_id,
            people = report.people,
            changes = report.state_changes,
            removed = report.removed,
            ms = report.duration.as_millis() as u64,
            "Snapshot applied."
        );
        Ok(ApplyResult::Applied(report))
    }

    async fn write_snapshot(
        &self,
        conn: &mut AnyConnection,
        snapshot_id: &str,
        source_id: &str,
        snap: &Claimed,
        payload: &SnapshotPayload,
    ) -> Result<ApplyReport, StoreError> {
        let now = ts(self.now());
        let at = &snap.collected_at;
        let mut phase = Instant::now();
        let mut lap = |name: &str| {
            tracing::debug!(snapshot = %snapshot_id, phase = name, ms = phase.elapsed().as_millis() as u64, "Apply phase done.");
            phase = Instant::now();
        };

        // Current state of the source, in memory.
        let rows = sqlx::query(
            "SELECT person_id, name, work_email, status, start_date, end_date, job_title, department, \
             manager_id, is_verified, state, reason, since FROM seats_current WHERE source_id = $1",
        )
        .bind(source_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut current: HashMap<String, SeatRow> = HashMap::with_capacity(rows.len());
        for row in &rows {
            current.insert(
                row.try_get("person_id")?,
                SeatRow {
                    name: row.try_get("name")?,
                    work_email: row.try_get("work_email")?,
                    status: row.try_get("status")?,
                    start_date: row.try_get("start_date")?,
                    end_date: row.try_get("end_date")?,
                    job_title: row.try_get("job_title")?,
                    department: row.try_get("department")?,
                    manager_id: row.try_get("manager_id")?,
                    is_verified: row.try_get("is_verified")?,
                    state: row.try_get("state")?,
                    reason: row.try_get("reason")?,
                    since: row.try_get("since")?,
                },
            );
        }
        drop(rows);

        let mut upserts: Vec<(&str, SeatRow)> = Vec::new();
        let mut opened: Vec<(&str, String, Option<String>)> = Vec::new();
        let mut closed: Vec<&str> = Vec::new();
        let mut added = 0;
        let mut counts = StateCounts::default();
        let mut inactive = (0u64, 0u64, 0u64);
        for seat in &payload.seats {
            counts.add(&seat.state);
            if seat.state == SeatState::Inactive {
                match seat.reason {
                    Some(SeatReason::EndedNotOffboarded) => inactive.0 += 1,
                    Some(SeatReason::NeverVerified) => inactive.1 += 1,
                    _ => inactive.2 += 1,
                }
            }
            let new = SeatRow::from_record(seat);
            match current.remove(&seat.person_id) {
                None => {
                    added += 1;
                    opened.push((&seat.person_id, new.state.clone(), new.reason.clone()));
                    upserts.push((&seat.person_id, new));
                }
                Some(old) if old != new => {
                    if old.state != new.state || old.reason != new.reason {
                        closed.push(&seat.person_id);
                        opened.push((&seat.person_id, new.state.clone(), new.reason.clone()));
                    }
                    upserts.push((&seat.person_id, new));
                }
                Some(_) => {}
            }
        }
        // Whoever is left in `current` is absent from this snapshot, except people whose
        // record the agent received but could not read: they are still employed as far as
        // anyone knows, so they keep their last known seat instead of leaving and coming back.
        for unreadable in &payload.collection.unparsable_person_ids {
            current.remove(unreadable);
        }
        let removed: Vec<String> = current.into_keys().collect();
        let updated = upserts.len() - added;

        lap("load current seats and diff");
        for chunk in upserts.chunks(self.batch_rows(16)) {
            let sql = format!(
                "INSERT INTO seats_current (source_id, person_id, name, work_email, status, start_date, end_date, \
                 job_title, department, manager_id, is_verified, state, reason, since, first_seen, updated_at) \
                 VALUES {} ON CONFLICT (source_id, person_id) DO UPDATE SET name = excluded.name, \
                 work_email = excluded.work_email, status = excluded.status, start_date = excluded.start_date, \
                 end_date = excluded.end_date, job_title = excluded.job_title, department = excluded.department, \
                 manager_id = excluded.manager_id, is_verified = excluded.is_verified, state = excluded.state, \
                 reason = excluded.reason, since = excluded.since, updated_at = excluded.updated_at",
                values_list(chunk.len(), 16, 0)
            );
            let mut query = sqlx::query::<Any>(&sql);
            for (person_id, seat) in chunk {
                query = query
                    .bind(source_id)
                    .bind(*person_id)
                    .bind(seat.name.as_deref())
                    .bind(seat.work_email.as_deref())
                    .bind(seat.status.as_str())
                    .bind(seat.start_date.as_deref())
                    .bind(seat.end_date.as_deref())
                    .bind(seat.job_title.as_deref())
                    .bind(seat.department.as_deref())
                    .bind(seat.manager_id.as_deref())
                    .bind(seat.is_verified)
                    .bind(seat.state.as_str())
                    .bind(seat.reason.as_deref())
                    .bind(seat.since.as_deref())
                    .bind(at.as_str())
                    .bind(at.as_str());
            }
            query.execute(&mut *conn).await?;
        }

        lap("upsert seats");
        let closing: Vec<&str> = closed
            .iter()
            .copied()
            .chain(removed.iter().map(String::as_str))
            .collect();
        for chunk in closing.chunks(self.batch_rows(1)) {
            let sql = format!(
                "UPDATE seat_history SET valid_to = $1 WHERE source_id = $2 AND valid_to IS NULL AND person_id IN ({})",
                in_list(chunk.len(), 2)
            );
            let mut query = sqlx::query::<Any>(&sql).bind(at.as_str()).bind(source_id);
            for person_id in chunk {
                query = query.bind(*person_id);
            }
            query.execute(&mut *conn).await?;
        }
        lap("close history");
        for chunk in removed.chunks(self.batch_rows(1)) {
            let sql = format!(
                "DELETE FROM seats_current WHERE source_id = $1 AND person_id IN ({})",
                in_list(chunk.len(), 1)
            );
            let mut query = sqlx::query::<Any>(&sql).bind(source_id);
            for person_id in chunk {
                query = query.bind(person_id.as_str());
            }
            query.execute(&mut *conn).await?;
        }
        lap("delete removed seats");
        for chunk in opened.chunks(self.batch_rows(6)) {
            let sql = format!(
                "INSERT INTO seat_history (source_id, person_id, state, reason, valid_from, snapshot_id) VALUES {}",
                values_list(chunk.len(), 6, 0)
            );
            let mut query = sqlx::query::<Any>(&sql);
            for (person_id, state, reason) in chunk {
                query = query
                    .bind(source_id)
                    .bind(*person_id)
                    .bind(state.as_str())
                    .bind(reason.as_deref())
                    .bind(at.as_str())
                    .bind(snapshot_id);
            }
            query.execute(&mut *conn).await?;
        }

        lap("open history");
        // Findings: replaced by this snapshot's (one per person and kind).
        sqlx::query("DELETE FROM findings_current WHERE source_id = $1")
            .bind(source_id)
            .execute(&mut *conn)
            .await?;
        let mut seen = HashSet::new();
        let findings: Vec<_> = payload
            .findings
            .iter()
            .filter(|f| seen.insert((f.person_id.as_str(), f.kind.as_str())))
            .collect();
        for chunk in findings.chunks(self.batch_rows(4)) {
            let sql = format!(
                "INSERT INTO findings_current (source_id, person_id, kind, detail) VALUES {}",
                values_list(chunk.len(), 4, 0)
            );
            let mut query = sqlx::query::<Any>(&sql);
            for finding in chunk {
                query = query
                    .bind(source_id)
                    .bind(finding.person_id.as_str())
                    .bind(finding.kind.as_str())
                    .bind(finding.detail.as_deref());
            }
            query.execute(&mut *conn).await?;
        }

        lap("replace findings");
        // The day's summary: counts from the seats themselves, windows from the agent.
        let summary = &payload.summary;
        let people = i64::try_from(payload.seats.len()).unwrap_or(i64::MAX);
        let private_access = i64::from(payload.collection.private_access);
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let summary_json = serde_json::to_string(summary)
            .map_err(|error| StoreError::Corrupt(format!("summary does not serialize: {error}")))?;
        sqlx::query(
            "INSERT INTO daily_summaries (source_id, day, snapshot_id, collected_at, people, pre_hire, active, leaving, \
             inactive, offboarded, unknown, other_states, inactive_ended_not_offboarded, inactive_never_verified, \
             inactive_other, billable, in_use, pre_hires_soon, recent_leavers, findings, private_access, summary_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
             ON CONFLICT (source_id, day) DO UPDATE SET snapshot_id = excluded.snapshot_id, \
             collected_at = excluded.collected_at, people = excluded.people, pre_hire = excluded.pre_hire, \
             active = excluded.active, leaving = excluded.leaving, inactive = excluded.inactive, \
             offboarded = excluded.offboarded, unknown = excluded.unknown, other_states = excluded.other_states, \
             inactive_ended_not_offboarded = excluded.inactive_ended_not_offboarded, \
             inactive_never_verified = excluded.inactive_never_verified, inactive_other = excluded.inactive_other, \
             billable = excluded.billable, in_use = excluded.in_use, pre_hires_soon = excluded.pre_hires_soon, \
             recent_leavers = excluded.recent_leavers, findings = excluded.findings, \
             private_access = excluded.private_access, summary_json = excluded.summary_json \
             WHERE daily_summaries.collected_at <= excluded.collected_at",
        )
        .bind(source_id)
        .bind(day(summary.as_of))
        .bind(snapshot_id)
        .bind(at.as_str())
        .bind(people)
        .bind(n(counts.pre_hire))
        .bind(n(counts.active))
        .bind(n(counts.leaving))
        .bind(n(counts.inactive))
        .bind(n(counts.offboarded))
        .bind(n(counts.unknown))
        .bind(n(counts.other.values().sum()))
        .bind(n(inactive.0))
        .bind(n(inactive.1))
        .bind(n(inactive.2))
        .bind(n(counts.billable()))
        .bind(n(counts.in_use()))
        .bind(n(summary.pre_hires_starting_soon))
        .bind(n(summary.recent_leavers))
        .bind(i64::try_from(findings.len()).unwrap_or(i64::MAX))
        .bind(private_access)
        .bind(summary_json)
        .execute(&mut *conn)
        .await?;

        let policy_json = serde_json::to_string(&payload.policy)
            .map_err(|error| StoreError::Corrupt(format!("policy does not serialize: {error}")))?;
        sqlx::query(
            "UPDATE sources SET last_upload_at = $1, \
             last_snapshot_id = CASE WHEN last_snapshot_at IS NULL OR last_snapshot_at <= $2 THEN $3 ELSE last_snapshot_id END, \
             people = CASE WHEN last_snapshot_at IS NULL OR last_snapshot_at <= $2 THEN $4 ELSE people END, \
             private_access = CASE WHEN last_snapshot_at IS NULL OR last_snapshot_at <= $2 THEN $5 ELSE private_access END, \
             policy_json = CASE WHEN last_snapshot_at IS NULL OR last_snapshot_at <= $2 THEN $6 ELSE policy_json END, \
             last_snapshot_at = CASE WHEN last_snapshot_at IS NULL OR last_snapshot_at <= $2 THEN $2 ELSE last_snapshot_at END \
             WHERE id = $7",
        )
        .bind(now.as_str())
        .bind(at.as_str())
        .bind(snapshot_id)
        .bind(people)
        .bind(private_access)
        .bind(policy_json)
        .bind(source_id)
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE agent_sources SET last_applied_sequence = $1 WHERE id = $2")
            .bind(snap.sequence)
            .bind(&snap.link_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE snapshots SET state = 'applied', applied_at = $1, applied_to = $2, people = $3, private_access = $4 WHERE id = $5",
        )
        .bind(now.as_str())
        .bind(source_id)
        .bind(people)
        .bind(private_access)
        .bind(snapshot_id)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM snapshot_parts WHERE snapshot_id = $1")
            .bind(snapshot_id)
            .execute(&mut *conn)
            .await?;

        Ok(ApplyReport {
            snapshot_id: snapshot_id.to_owned(),
            source_id: source_id.to_owned(),
            people: payload.seats.len(),
            added,
            updated,
            state_changes: opened.len(),
            removed: removed.len(),
            findings: findings.len(),
            duration: Duration::ZERO,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_lists_number_placeholders_in_order() {
        assert_eq!(values_list(2, 2, 0), "($1, $2), ($3, $4)");
        assert_eq!(values_list(1, 3, 2), "($3, $4, $5)");
        assert_eq!(in_list(3, 1), "$2, $3, $4");
    }
}
