//! Writing a validated HR snapshot into a source, in phases, inside the apply's
//! transaction: load the source's current seats, diff them against the snapshot in memory
//! (pure), then write only what changed in bulk statements (`store::bulk`):
//!
//! 1. `load_current`: the source's `seats_current` rows;
//! 2. `diff_seats`: new, changed and removed people, and what of them the join of the
//!    organisation's app sources has to look at again (`PeopleChange`; no I/O);
//! 3. `write_seats`: upsert new and changed seats, delete removed ones;
//! 4. `write_history`: close and open `seat_history` rows where a person's state or reason
//!    changed (or they appeared or left);
//! 5. `write_day`: replace `findings_current`, upsert the day's `daily_summaries` row (the
//!    latest collection wins);
//! 6. `finish`: the source's last upload, the link's `last_applied_sequence`, the
//!    snapshot's state; the parts are deleted, so storage grows with changes, not snapshots.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use seatbroker_protocol::{SeatReason, SeatRecord, SeatState, SnapshotPayload, StateCounts};
use sqlx::{Any, AnyConnection, Row};

use crate::licence::normalise;
use crate::store::bulk::{
    BULK_ROWS, Col, analyze_after_large_write, execute_rows, fetch_json_rows, json_agg, json_rows,
};
use crate::store::licences::PeopleChange;
use crate::store::{Backend, Store, StoreError, day, ts};

/// What applying a snapshot did.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyReport {
    pub snapshot_id: String,
    /// The source it was applied to.
    pub source_id: String,
    /// People in an HR snapshot; accounts an app upload carried (a licence delta carries
    /// only the new and changed ones).
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

/// The claimed snapshot being written and where it goes.
#[derive(Debug)]
pub(super) struct Target<'a> {
    pub(super) snapshot_id: &'a str,
    /// The source the link feeds.
    pub(super) source_id: &'a str,
    pub(super) link_id: &'a str,
    pub(super) sequence: i64,
    /// As stored (fixed-width text).
    pub(super) collected_at: &'a str,
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

/// What changes between a source's current seats and a snapshot.
#[derive(Debug, Default)]
struct SeatDiff<'a> {
    /// New and changed seats.
    upserts: Vec<(&'a str, SeatRow)>,
    /// History rows to open: person, state, reason.
    opened: Vec<(&'a str, String, Option<String>)>,
    /// People whose open history row closes because their state or reason changed.
    closed: Vec<&'a str>,
    /// People absent from the snapshot.
    removed: Vec<String>,
    /// People seen for the first time.
    added: usize,
    /// What the join of the organisation's app sources has to look at again.
    join: PeopleChange,
}

impl SeatDiff<'_> {
    /// Notes a person the join reads differently now: `old` and `new` are their rows
    /// before and after (either absent).
    fn note_for_join(&mut self, person_id: &str, old: Option<&SeatRow>, new: Option<&SeatRow>) {
        /// What the join reads of a seat: work email, state, reason, since.
        type Joined<'r> = (Option<&'r str>, &'r str, Option<&'r str>, Option<&'r str>);
        fn joined(row: Option<&SeatRow>) -> Option<Joined<'_>> {
            row.map(|r| {
                (
                    r.work_email.as_deref(),
                    r.state.as_str(),
                    r.reason.as_deref(),
                    r.since.as_deref(),
                )
            })
        }
        if joined(old) == joined(new) {
            return;
        }
        self.join.people.insert(person_id.to_owned());
        let email = |row: Option<&SeatRow>| {
            row.and_then(|r| r.work_email.as_deref())
                .map(normalise)
                .filter(|e| !e.is_empty())
        };
        let (before, after) = (email(old), email(new));
        if before != after {
            self.join.addresses.extend(before);
            self.join.addresses.extend(after);
        }
    }
}

/// Phase 1: the source's current seats, by person id, read as one JSON value
/// ([`fetch_json_rows`]) rather than a row at a time.
async fn load_current(
    conn: &mut AnyConnection,
    backend: Backend,
    source_id: &str,
) -> Result<HashMap<String, SeatRow>, StoreError> {
    let sql = format!(
        "SELECT {} AS rows FROM seats_current WHERE source_id = $1",
        json_agg(
            backend,
            &[
                "person_id",
                "name",
                "work_email",
                "status",
                "start_date",
                "end_date",
                "job_title",
                "department",
                "manager_id",
                "CAST(is_verified AS BIGINT)",
                "state",
                "reason",
                "since",
            ]
        )
    );
    type Stored = (
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Stored> = fetch_json_rows(conn, &sql, &[source_id]).await?;
    let mut current = HashMap::with_capacity(rows.len());
    for row in rows {
        current.insert(
            row.0,
            SeatRow {
                name: row.1,
                work_email: row.2,
                status: row.3,
                start_date: row.4,
                end_date: row.5,
                job_title: row.6,
                department: row.7,
                manager_id: row.8,
                is_verified: row.9,
                state: row.10,
                reason: row.11,
                since: row.12,
            },
        );
    }
    Ok(current)
}

/// Phase 2: compares `current` with the snapshot's seats. Pure.
fn diff_seats(mut current: HashMap<String, SeatRow>, payload: &SnapshotPayload) -> SeatDiff<'_> {
    let mut diff = SeatDiff::default();
    for seat in &payload.seats {
        let new = SeatRow::from_record(seat);
        match current.remove(&seat.person_id) {
            None => {
                diff.note_for_join(&seat.person_id, None, Some(&new));
                diff.added += 1;
                diff.opened
                    .push((&seat.person_id, new.state.clone(), new.reason.clone()));
                diff.upserts.push((&seat.person_id, new));
            }
            Some(old) if old != new => {
                diff.note_for_join(&seat.person_id, Some(&old), Some(&new));
                if old.state != new.state || old.reason != new.reason {
                    diff.closed.push(&seat.person_id);
                    diff.opened
                        .push((&seat.person_id, new.state.clone(), new.reason.clone()));
                }
                diff.upserts.push((&seat.person_id, new));
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
    for (person_id, old) in &current {
        diff.note_for_join(person_id, Some(old), None);
    }
    diff.removed = current.into_keys().collect();
    diff
}

/// Seat counts per state, and inactive seats per reason (ended not offboarded, never
/// verified, other), from the seats themselves.
fn count_seats(seats: &[SeatRecord]) -> (StateCounts, [u64; 3]) {
    let mut counts = StateCounts::default();
    let mut inactive = [0u64; 3];
    for seat in seats {
        counts.add(&seat.state);
        if seat.state == SeatState::Inactive {
            match seat.reason {
                Some(SeatReason::EndedNotOffboarded) => inactive[0] += 1,
                Some(SeatReason::NeverVerified) => inactive[1] += 1,
                _ => inactive[2] += 1,
            }
        }
    }
    (counts, inactive)
}

/// Logs how long each phase of one apply took (debug level).
struct Laps<'a> {
    snapshot_id: &'a str,
    phase: Instant,
}

impl Laps<'_> {
    fn lap(&mut self, name: &str) {
        tracing::debug!(snapshot = %self.snapshot_id, phase = name, ms = self.phase.elapsed().as_millis() as u64, "Apply phase done.");
        self.phase = Instant::now();
    }
}

impl Store {
    /// Writes a validated snapshot's seats, history, findings and summary into
    /// `target.source_id` and marks the snapshot applied (see the module docs).
    pub(super) async fn write_snapshot(
        &self,
        conn: &mut AnyConnection,
        target: &Target<'_>,
        payload: &SnapshotPayload,
    ) -> Result<(ApplyReport, PeopleChange), StoreError> {
        let mut laps = Laps {
            snapshot_id: target.snapshot_id,
            phase: Instant::now(),
        };
        // The HR side is complete for the join once it has uploaded with private access
        // (`licences::sync`); when that moves, every account's join may.
        let before =
            sqlx::query("SELECT last_snapshot_at, private_access FROM sources WHERE id = $1")
                .bind(target.source_id)
                .fetch_one(&mut *conn)
                .await?;
        let was_complete = before
            .try_get::<Option<String>, _>("last_snapshot_at")?
            .is_some()
            && before.try_get::<Option<i64>, _>("private_access")? == Some(1);
        let current = load_current(conn, self.backend(), target.source_id).await?;
        let mut diff = diff_seats(current, payload);
        diff.join.everything = was_complete != payload.collection.private_access;
        laps.lap("load current seats and diff");
        self.write_seats(conn, target, &diff, &mut laps).await?;
        self.write_history(conn, target, &diff, &mut laps).await?;
        analyze_after_large_write(
            conn,
            self.backend(),
            diff.added + diff.removed.len(),
            &["seats_current", "seat_history"],
        )
        .await?;
        laps.lap("analyze");
        let findings = self.write_day(conn, target, payload, &mut laps).await?;
        self.finish(conn, target, payload).await?;
        let report = ApplyReport {
            snapshot_id: target.snapshot_id.to_owned(),
            source_id: target.source_id.to_owned(),
            people: payload.seats.len(),
            added: diff.added,
            updated: diff.upserts.len() - diff.added,
            state_changes: diff.opened.len(),
            removed: diff.removed.len(),
            findings,
            duration: Duration::ZERO,
        };
        Ok((report, diff.join))
    }

    /// Phase 3: upserts new and changed seats, deletes the removed ones.
    async fn write_seats(
        &self,
        conn: &mut AnyConnection,
        target: &Target<'_>,
        diff: &SeatDiff<'_>,
        laps: &mut Laps<'_>,
    ) -> Result<(), StoreError> {
        let (source_id, at) = (target.source_id, target.collected_at);
        // Rows travel as one JSON value per statement (`store::bulk`): a multi-row VALUES
        // list of 480 parameters cost the driver a name lookup per parameter.
        let sql = format!(
            "INSERT INTO seats_current (source_id, person_id, name, work_email, status, start_date, end_date, \
             job_title, department, manager_id, is_verified, state, reason, since, first_seen, updated_at) \
             SELECT $2, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, $3, $3 FROM ({}) AS j WHERE true \
             ON CONFLICT (source_id, person_id) DO UPDATE SET name = excluded.name, \
             work_email = excluded.work_email, status = excluded.status, start_date = excluded.start_date, \
             end_date = excluded.end_date, job_title = excluded.job_title, department = excluded.department, \
             manager_id = excluded.manager_id, is_verified = excluded.is_verified, state = excluded.state, \
             reason = excluded.reason, since = excluded.since, updated_at = excluded.updated_at",
            json_rows(
                self.backend(),
                1,
                &[
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Int,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                ]
            )
        );
        for chunk in diff.upserts.chunks(BULK_ROWS) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(person_id, seat)| {
                    (
                        *person_id,
                        seat.name.as_deref(),
                        seat.work_email.as_deref(),
                        seat.status.as_str(),
                        seat.start_date.as_deref(),
                        seat.end_date.as_deref(),
                        seat.job_title.as_deref(),
                        seat.department.as_deref(),
                        seat.manager_id.as_deref(),
                        seat.is_verified,
                        seat.state.as_str(),
                        seat.reason.as_deref(),
                        seat.since.as_deref(),
                    )
                })
                .collect();
            execute_rows(conn, &sql, &rows, &[source_id, at]).await?;
        }
        laps.lap("upsert seats");
        for chunk in diff.removed.chunks(self.batch_rows(1)) {
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
        laps.lap("delete removed seats");
        Ok(())
    }

    /// Phase 4: closes the open history rows of changed and removed people, opens rows
    /// for new and changed ones.
    async fn write_history(
        &self,
        conn: &mut AnyConnection,
        target: &Target<'_>,
        diff: &SeatDiff<'_>,
        laps: &mut Laps<'_>,
    ) -> Result<(), StoreError> {
        let (source_id, at, snapshot_id) =
            (target.source_id, target.collected_at, target.snapshot_id);
        let closing: Vec<&str> = diff
            .closed
            .iter()
            .copied()
            .chain(diff.removed.iter().map(String::as_str))
            .collect();
        for chunk in closing.chunks(self.batch_rows(1)) {
            let sql = format!(
                "UPDATE seat_history SET valid_to = $1 WHERE source_id = $2 AND valid_to IS NULL AND person_id IN ({})",
                in_list(chunk.len(), 2)
            );
            let mut query = sqlx::query::<Any>(&sql).bind(at).bind(source_id);
            for person_id in chunk {
                query = query.bind(*person_id);
            }
            query.execute(&mut *conn).await?;
        }
        laps.lap("close history");
        let sql = format!(
            "INSERT INTO seat_history (source_id, person_id, state, reason, valid_from, snapshot_id) \
             SELECT $2, c0, c1, c2, $3, $4 FROM ({}) AS j",
            json_rows(self.backend(), 1, &[Col::Text; 3])
        );
        for chunk in diff.opened.chunks(BULK_ROWS) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(person_id, state, reason)| (*person_id, state.as_str(), reason.as_deref()))
                .collect();
            execute_rows(conn, &sql, &rows, &[source_id, at, snapshot_id]).await?;
        }
        laps.lap("open history");
        Ok(())
    }

    /// Phase 5: replaces the source's findings and upserts the day's summary row. Returns
    /// the number of findings stored.
    async fn write_day(
        &self,
        conn: &mut AnyConnection,
        target: &Target<'_>,
        payload: &SnapshotPayload,
        laps: &mut Laps<'_>,
    ) -> Result<usize, StoreError> {
        let (source_id, at, snapshot_id) =
            (target.source_id, target.collected_at, target.snapshot_id);
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
        laps.lap("replace findings");
        // The day's summary: counts from the seats themselves, windows from the agent.
        let (counts, inactive) = count_seats(&payload.seats);
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
        .bind(at)
        .bind(people)
        .bind(n(counts.pre_hire))
        .bind(n(counts.active))
        .bind(n(counts.leaving))
        .bind(n(counts.inactive))
        .bind(n(counts.offboarded))
        .bind(n(counts.unknown))
        .bind(n(counts.other.values().sum()))
        .bind(n(inactive[0]))
        .bind(n(inactive[1]))
        .bind(n(inactive[2]))
        .bind(n(counts.billable()))
        .bind(n(counts.in_use()))
        .bind(n(summary.pre_hires_starting_soon))
        .bind(n(summary.recent_leavers))
        .bind(i64::try_from(findings.len()).unwrap_or(i64::MAX))
        .bind(private_access)
        .bind(summary_json)
        .execute(&mut *conn)
        .await?;
        Ok(findings.len())
    }

    /// Phase 6 (also of an app snapshot): the source's last upload (and, for the newest collection, its figures and
    /// policy), the link's last applied sequence, the snapshot's state; deletes the parts.
    pub(super) async fn finish(
        &self,
        conn: &mut AnyConnection,
        target: &Target<'_>,
        payload: &SnapshotPayload,
    ) -> Result<(), StoreError> {
        let now = ts(self.now());
        let (source_id, at, snapshot_id) =
            (target.source_id, target.collected_at, target.snapshot_id);
        let people = i64::try_from(payload.seats.len()).unwrap_or(i64::MAX);
        let private_access = i64::from(payload.collection.private_access);
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
        .bind(at)
        .bind(snapshot_id)
        .bind(people)
        .bind(private_access)
        .bind(policy_json)
        .bind(source_id)
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE agent_sources SET last_applied_sequence = $1 WHERE id = $2")
            .bind(target.sequence)
            .bind(target.link_id)
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
        Ok(())
    }
}

/// `$1, $2, ...` groups for a multi-row VALUES list: `rows` groups of `cols` placeholders
/// starting after `offset`.
pub(crate) fn values_list(rows: usize, cols: usize, offset: usize) -> String {
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
pub(crate) fn in_list(count: usize, offset: usize) -> String {
    (0..count)
        .map(|i| format!("${}", offset + i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(email: Option<&str>, state: &str) -> SeatRow {
        SeatRow {
            name: Some("Ana".to_owned()),
            work_email: email.map(str::to_owned),
            status: "active".to_owned(),
            start_date: None,
            end_date: None,
            job_title: None,
            department: None,
            manager_id: None,
            is_verified: None,
            state: state.to_owned(),
            reason: None,
            since: None,
        }
    }

    #[test]
    fn the_join_hears_of_what_it_reads() {
        let mut diff = SeatDiff::default();
        // A new name or department is nothing to the join.
        let mut renamed = row(Some("ana@acme.test"), "active");
        renamed.name = Some("Ana Silva".to_owned());
        diff.note_for_join(
            "p1",
            Some(&row(Some("ana@acme.test"), "active")),
            Some(&renamed),
        );
        assert_eq!(diff.join, PeopleChange::default());
        // A state change names the person, no address.
        diff.note_for_join(
            "p2",
            Some(&row(Some("bo@acme.test"), "active")),
            Some(&row(Some("bo@acme.test"), "offboarded")),
        );
        assert!(diff.join.people.contains("p2") && diff.join.addresses.is_empty());
        // A changed email gives both addresses, normalised; a new and a gone person theirs.
        diff.note_for_join(
            "p3",
            Some(&row(Some("cy@acme.test"), "active")),
            Some(&row(Some(" Cy.New@Acme.test"), "active")),
        );
        diff.note_for_join("p4", None, Some(&row(Some("di@acme.test"), "pre_hire")));
        diff.note_for_join("p5", Some(&row(None, "active")), None);
        let mut addresses: Vec<&str> = diff.join.addresses.iter().map(String::as_str).collect();
        addresses.sort_unstable();
        assert_eq!(
            addresses,
            ["cy.new@acme.test", "cy@acme.test", "di@acme.test"]
        );
        let mut people: Vec<&str> = diff.join.people.iter().map(String::as_str).collect();
        people.sort_unstable();
        assert_eq!(people, ["p2", "p3", "p4", "p5"]);
        assert!(!diff.join.everything);
    }

    #[test]
    fn values_lists_number_placeholders_in_order() {
        assert_eq!(values_list(2, 2, 0), "($1, $2), ($3, $4)");
        assert_eq!(values_list(1, 3, 2), "($3, $4, $5)");
        assert_eq!(in_list(3, 1), "$2, $3, $4");
    }
}
