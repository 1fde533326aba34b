//! Receiving snapshot parts, the first step of intake.
//!
//! API (the agent API calls it after authenticating the agent, checking its state, and
//! checking the part's own shape and checksum):
//! - `Store::receive_part(&self, agent_id: &str, part: &UploadPart, chunk: Vec<u8>) -> Result<PartOutcome, StoreError>`
//!   stores one part idempotently; when the snapshot is complete, applies it
//!   ([`Store::apply_snapshot`](super::Store::apply_snapshot)).
//! - `Store::snapshot_state(&self, snapshot_id: &str) -> Result<Option<String>, StoreError>`
//!
//! Concurrency: several platform processes may receive parts of one snapshot at once.
//! The snapshot row and each part are inserted with `ON CONFLICT DO NOTHING` and then
//! compared, so a retried part is recognised and a different one is a conflict. Parts are
//! counted only after the inserting transaction commits, so whichever request commits
//! last sees the snapshot complete; the apply itself is claimed once (see [`apply`](super::apply)).
//! A refused part stores nothing. The apply that a last part starts finishes even if the
//! request that started it is dropped.

use chrono::{DateTime, Duration, Utc};
use seatbroker_protocol::{UploadOutcome, UploadPart};
use sqlx::{AnyConnection, Row};

use super::apply::ApplyResult;
use super::discard::discard;
use super::refusal::{self, PartRefusal};
use super::write::ApplyReport;
use crate::store::sources::{LINK_COLUMNS, LinkRecord, link_from_row};
use crate::store::{Backend, Store, StoreError, parse_ts, ts};

/// An acknowledged part.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedPart {
    pub outcome: UploadOutcome,
    pub parts_received: u32,
    pub part_count: u32,
    /// Whether the whole snapshot is applied (now or earlier).
    pub snapshot_applied: bool,
    /// Set when this request applied the snapshot.
    pub applied: Option<ApplyReport>,
}

/// What became of a part.
#[derive(Debug, Clone, PartialEq)]
pub enum PartOutcome {
    Stored(ReceivedPart),
    Refused(PartRefusal),
}

/// Snapshot metadata that must be identical in every part.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SnapshotMeta {
    agent_id: String,
    link_id: String,
    sequence: i64,
    collected_at: DateTime<Utc>,
    part_count: i64,
    encoding: String,
    snapshot_checksum: String,
}

impl SnapshotMeta {
    /// Names of the fields where `self` and `other` differ (the agent is not compared).
    fn differences(&self, other: &SnapshotMeta) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.link_id != other.link_id {
            out.push("source_id");
        }
        if self.sequence != other.sequence {
            out.push("sequence");
        }
        // Timestamps are stored with microseconds; tolerate finer precision on the wire.
        if (self.collected_at - other.collected_at).abs() >= Duration::microseconds(1) {
            out.push("collected_at");
        }
        if self.part_count != other.part_count {
            out.push("part_count");
        }
        if self.encoding != other.encoding {
            out.push("encoding");
        }
        if self.snapshot_checksum != other.snapshot_checksum {
            out.push("snapshot_checksum");
        }
        out
    }
}

/// Finds the agent's link an upload names: by link id, or by the source it feeds.
async fn resolve_link(
    conn: &mut AnyConnection,
    agent_id: &str,
    source_id: &str,
) -> Result<Option<(LinkRecord, Option<String>)>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {LINK_COLUMNS}, s.state AS source_state FROM agent_sources l \
         JOIN agents a ON a.id = l.agent_id LEFT JOIN sources s ON s.id = l.source_id \
         WHERE l.agent_id = $1 AND (l.id = $2 OR l.source_id = $2) ORDER BY l.created_at, l.id"
    ))
    .bind(agent_id)
    .bind(source_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut found = None;
    for row in &rows {
        let link = link_from_row(row)?;
        let source_state: Option<String> = row.try_get("source_state")?;
        let exact = link.id == source_id;
        if exact || found.is_none() {
            found = Some((link, source_state));
        }
        if exact {
            break;
        }
    }
    Ok(found)
}

/// A snapshot's stored description and state, if it exists.
///
/// On PostgreSQL the row is locked (`FOR UPDATE`): an apply in progress holds it from its
/// claim to its commit, so a part arriving meanwhile (an agent's retry of its last part)
/// waits and then reads `applied`, instead of reading `receiving` and storing its part
/// after the apply has deleted the snapshot's parts. SQLite's write transactions are
/// serialised already.
async fn load_meta(
    conn: &mut AnyConnection,
    backend: Backend,
    snapshot_id: &str,
) -> Result<Option<(SnapshotMeta, String)>, StoreError> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let row = sqlx::query(&format!(
        "SELECT agent_id, link_id, sequence, collected_at, part_count, encoding, snapshot_checksum, state \
         FROM snapshots WHERE id = $1{lock}",
    ))
    .bind(snapshot_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| {
        Ok((
            SnapshotMeta {
                agent_id: row.try_get("agent_id")?,
                link_id: row.try_get("link_id")?,
                sequence: row.try_get("sequence")?,
                collected_at: parse_ts(&row.try_get::<String, _>("collected_at")?)?,
                part_count: row.try_get("part_count")?,
                encoding: row.try_get("encoding")?,
                snapshot_checksum: row.try_get("snapshot_checksum")?,
            },
            row.try_get::<String, _>("state")?,
        ))
    })
    .transpose()
}

impl Store {
    /// Stores one part of a snapshot for `agent_id` and applies the snapshot when it is
    /// complete. `chunk` is the part's decoded bytes, already checked against
    /// `part.part_checksum`; `part.part` is within `1..=part.part_count`.
    pub async fn receive_part(
        &self,
        agent_id: &str,
        part: &UploadPart,
        chunk: Vec<u8>,
    ) -> Result<PartOutcome, StoreError> {
        let now = self.now();
        let part_count = part.part_count;
        let sequence = i64::try_from(part.sequence).unwrap_or(i64::MAX);
        let mut tx = self.begin_write().await?;

        let Some((link, source_state)) = resolve_link(&mut tx, agent_id, &part.source_id).await?
        else {
            return Ok(PartOutcome::Refused(PartRefusal::SourceForeign));
        };
        if let Some(refusal) = refusal::approval(&link.state, source_state.as_deref()) {
            return Ok(PartOutcome::Refused(refusal));
        }

        let wanted = SnapshotMeta {
            agent_id: agent_id.to_owned(),
            link_id: link.id.clone(),
            sequence,
            collected_at: part.collected_at,
            part_count: i64::from(part_count),
            encoding: part.encoding.as_str().to_owned(),
            snapshot_checksum: part.snapshot_checksum.clone(),
        };
        let mut existing = load_meta(&mut tx, self.backend(), &part.snapshot_id).await?;
        if existing.is_none() {
            if let Some(refusal) = refusal::stale(part.sequence, link.last_applied_sequence) {
                return Ok(PartOutcome::Refused(refusal));
            }
            sqlx::query(
                "INSERT INTO snapshots (id, agent_id, link_id, source_id, sequence, collected_at, part_count, encoding, snapshot_checksum, state, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'receiving', $10) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&part.snapshot_id)
            .bind(agent_id)
            .bind(&link.id)
            .bind(&part.source_id)
            .bind(sequence)
            .bind(ts(part.collected_at))
            .bind(i64::from(part_count))
            .bind(part.encoding.as_str())
            .bind(&part.snapshot_checksum)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
            existing = load_meta(&mut tx, self.backend(), &part.snapshot_id).await?;
        }
        let Some((stored, state)) = existing else {
            return Err(StoreError::Corrupt(format!(
                "snapshot {} vanished while a part was stored",
                part.snapshot_id
            )));
        };
        if stored.agent_id != agent_id {
            return Ok(PartOutcome::Refused(PartRefusal::Conflict(format!(
                "snapshot id {} is already used by another agent; generate a new snapshot id",
                part.snapshot_id
            ))));
        }
        let differences = stored.differences(&wanted);
        if !differences.is_empty() {
            return Ok(PartOutcome::Refused(PartRefusal::Conflict(format!(
                "snapshot {} was received before with a different {}",
                part.snapshot_id,
                differences.join(", ")
            ))));
        }
        if state == "applied" {
            tx.rollback().await?;
            return Ok(PartOutcome::Stored(ReceivedPart {
                outcome: UploadOutcome::AlreadyHave,
                parts_received: part_count,
                part_count,
                snapshot_applied: true,
                applied: None,
            }));
        }
        if let Some(refusal) = refusal::stale(part.sequence, link.last_applied_sequence) {
            // A newer snapshot was applied while this one was arriving: it never will be.
            discard(&mut tx, &part.snapshot_id).await?;
            tx.commit().await?;
            return Ok(PartOutcome::Refused(refusal));
        }

        let checksum = seatbroker_protocol::checksum(&chunk);
        let inserted = sqlx::query(
            "INSERT INTO snapshot_parts (snapshot_id, part, checksum, bytes, received_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (snapshot_id, part) DO NOTHING",
        )
        .bind(&part.snapshot_id)
        .bind(i64::from(part.part))
        .bind(&checksum)
        .bind(chunk)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let outcome = if inserted == 1 {
            UploadOutcome::Accepted
        } else {
            let row = sqlx::query(
                "SELECT checksum FROM snapshot_parts WHERE snapshot_id = $1 AND part = $2",
            )
            .bind(&part.snapshot_id)
            .bind(i64::from(part.part))
            .fetch_one(&mut *tx)
            .await?;
            let stored_checksum: String = row.try_get("checksum")?;
            if stored_checksum != checksum {
                return Ok(PartOutcome::Refused(PartRefusal::Conflict(format!(
                    "part {} of snapshot {} was received before with different content",
                    part.part, part.snapshot_id
                ))));
            }
            UploadOutcome::AlreadyHave
        };
        tx.commit().await?;

        // Count after committing, so of two processes storing the last two parts at once
        // the one that commits last sees the snapshot complete.
        let parts_received = self.count_parts(&part.snapshot_id).await?;
        let mut received = ReceivedPart {
            outcome,
            parts_received,
            part_count,
            snapshot_applied: false,
            applied: None,
        };
        if parts_received >= part_count {
            // The apply runs as a task of its own: an agent that stops waiting (its request
            // timed out on a large snapshot) does not roll it back, and its retry waits for
            // it and finds the snapshot applied.
            let store = self.clone();
            let snapshot_id = part.snapshot_id.clone();
            let applying = tokio::spawn(async move { store.apply_snapshot(&snapshot_id).await });
            let result = applying.await.map_err(|error| {
                StoreError::Corrupt(format!(
                    "applying snapshot {} failed: {error}",
                    part.snapshot_id
                ))
            })?;
            match result? {
                ApplyResult::Applied(report) => {
                    received.snapshot_applied = true;
                    received.applied = Some(report);
                }
                ApplyResult::AlreadyApplied => received.snapshot_applied = true,
                ApplyResult::Incomplete => {}
                ApplyResult::Refused(refusal) => return Ok(PartOutcome::Refused(refusal)),
                ApplyResult::Gone => {
                    return Ok(PartOutcome::Refused(PartRefusal::PayloadInvalid(format!(
                        "snapshot {} was refused while this part arrived; it will not be applied",
                        part.snapshot_id
                    ))));
                }
            }
        }
        Ok(PartOutcome::Stored(received))
    }

    async fn count_parts(&self, snapshot_id: &str) -> Result<u32, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM snapshot_parts WHERE snapshot_id = $1")
            .bind(snapshot_id)
            .fetch_one(self.pool())
            .await?;
        let count: i64 = row.try_get("n")?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// `receiving`, `applied`, or `None` when the platform has no such snapshot.
    pub async fn snapshot_state(&self, snapshot_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT state FROM snapshots WHERE id = $1")
            .bind(snapshot_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| row.try_get("state").map_err(StoreError::from))
            .transpose()
    }
}
