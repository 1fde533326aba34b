//! Data sources and their approval.
//!
//! An agent's configured source is a *link* (`agent_sources`) until an administrator
//! decides it; a *source* (`sources`) is a tenant whose history the platform keeps.
//!
//! API:
//! - `Store::approve_source_as_new(&self, actor: &str, link_id: &str, name: Option<&str>) -> Result<SourceRecord, StoreError>`
//!   creates a source with the link's id (so the agent's `source_id` does not change).
//! - `Store::approve_and_merge(&self, actor: &str, link_id: &str, into_source_id: &str) -> Result<SourceRecord, StoreError>`
//!   the link continues an existing source of the same kind and tenant (a reinstalled
//!   agent keeps the history); the agent is told the target id.
//! - `Store::reject_source(&self, actor: &str, link_id: &str) -> Result<(), StoreError>`
//! - `Store::revoke_source_link(&self, actor: &str, link_id: &str) -> Result<(), StoreError>`
//!   stops an approved/merged link from uploading; the source and its history stay.
//! - `Store::merge_candidates(&self, link_id: &str) -> Result<Vec<SourceRecord>, StoreError>`
//!   approved sources with the link's kind and tenant, most recently uploaded first: the
//!   only merge targets the console offers, and the first is the one it proposes.
//! - `Store::get_link(&self, link_id: &str) -> Result<Option<LinkRecord>, StoreError>`
//! - `Store::list_pending_links(&self) -> Result<Vec<LinkRecord>, StoreError>` oldest first:
//!   the one list of links waiting for a decision (the console's approvals page).
//! - `Store::get_source(&self, id: &str) -> Result<Option<SourceRecord>, StoreError>`
//!
//! Decisions require the link to be pending (a decided link is final; deciding the same
//! way twice is a no-op) and its agent not rejected or revoked; each writes an audit row.

use chrono::{DateTime, Utc};
use seatbroker_protocol::{SourceState, UsagePolicy};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError, audit, licences, parse_opt_ts, parse_ts, ts};

/// One agent's configured source and its approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    /// The id the agent was given at enrollment.
    pub id: String,
    pub agent_id: String,
    pub agent_host_name: String,
    pub local_name: String,
    pub kind: String,
    pub tenant_id: String,
    pub tenant_name: String,
    pub interval_secs: i64,
    pub state: SourceState,
    /// The source it feeds once approved (its own id) or merged (the target's id).
    pub source_id: Option<String>,
    pub last_applied_sequence: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// A source whose history the platform keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub id: String,
    pub kind: String,
    pub tenant_id: String,
    pub tenant_name: String,
    pub name: String,
    pub interval_secs: i64,
    /// `approved` or `revoked`.
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// When the platform last applied a snapshot of it.
    pub last_upload_at: Option<DateTime<Utc>>,
    /// When that snapshot was collected.
    pub last_snapshot_at: Option<DateTime<Utc>>,
    pub last_snapshot_id: Option<String>,
    /// People in that snapshot.
    pub people: Option<i64>,
    /// Whether that snapshot's token could read private data; `Some(false)` means
    /// pre-hires and leavers are missing and the console must say so.
    pub private_access: Option<bool>,
    /// The usage policy that snapshot was computed with.
    pub policy: Option<UsagePolicy>,
}

pub(crate) const LINK_COLUMNS: &str = "l.id, l.agent_id, a.host_name AS agent_host_name, l.local_name, l.kind, \
     l.tenant_id, l.tenant_name, l.interval_secs, l.state, l.source_id, l.last_applied_sequence, \
     l.created_at, l.decided_by, l.decided_at";

pub(crate) fn link_from_row(row: &AnyRow) -> Result<LinkRecord, StoreError> {
    Ok(LinkRecord {
        id: row.try_get("id")?,
        agent_id: row.try_get("agent_id")?,
        agent_host_name: row.try_get("agent_host_name")?,
        local_name: row.try_get("local_name")?,
        kind: row.try_get("kind")?,
        tenant_id: row.try_get("tenant_id")?,
        tenant_name: row.try_get("tenant_name")?,
        interval_secs: row.try_get("interval_secs")?,
        state: SourceState::from_wire(&row.try_get::<String, _>("state")?),
        source_id: row.try_get("source_id")?,
        last_applied_sequence: row.try_get("last_applied_sequence")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        decided_by: row.try_get("decided_by")?,
        decided_at: parse_opt_ts(row.try_get("decided_at")?)?,
    })
}

const SOURCE_COLUMNS: &str = "id, kind, tenant_id, tenant_name, name, interval_secs, state, \
     created_at, created_by, last_upload_at, last_snapshot_at, last_snapshot_id, people, \
     private_access, policy_json";

fn source_from_row(row: &AnyRow) -> Result<SourceRecord, StoreError> {
    let private_access: Option<i64> = row.try_get("private_access")?;
    let policy: Option<String> = row.try_get("policy_json")?;
    Ok(SourceRecord {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        tenant_id: row.try_get("tenant_id")?,
        tenant_name: row.try_get("tenant_name")?,
        name: row.try_get("name")?,
        interval_secs: row.try_get("interval_secs")?,
        state: row.try_get("state")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        created_by: row.try_get("created_by")?,
        last_upload_at: parse_opt_ts(row.try_get("last_upload_at")?)?,
        last_snapshot_at: parse_opt_ts(row.try_get("last_snapshot_at")?)?,
        last_snapshot_id: row.try_get("last_snapshot_id")?,
        people: row.try_get("people")?,
        private_access: private_access.map(|v| v != 0),
        policy: policy.and_then(|text| serde_json::from_str(&text).ok()),
    })
}

/// Loads a link for a decision and checks it can be decided.
async fn pending_link(conn: &mut AnyConnection, link_id: &str) -> Result<LinkRecord, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {LINK_COLUMNS}, a.state AS agent_state FROM agent_sources l JOIN agents a ON a.id = l.agent_id WHERE l.id = $1"
    ))
    .bind(link_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::not_found("agent source", link_id))?;
    let agent_state: String = row.try_get("agent_state")?;
    let link = link_from_row(&row)?;
    if agent_state == "rejected" || agent_state == "revoked" {
        return Err(StoreError::InvalidState(format!(
            "source {:?} belongs to agent {} on {}, which is {agent_state}; its sources cannot be approved",
            link.local_name, link.agent_id, link.agent_host_name
        )));
    }
    Ok(link)
}

fn already_decided(link: &LinkRecord) -> StoreError {
    StoreError::InvalidState(format!(
        "source {:?} of agent {} is already {}; a decided source cannot be decided again (revoke it instead)",
        link.local_name, link.agent_id, link.state
    ))
}

/// The condition on `agents a` for an agent that waits for a decision: a pending agent,
/// or an approved one with a link of [`Store::list_pending_links`]. The Approvals page
/// lists exactly these; the session query counts them for the navigation's badge.
pub(crate) const WAITING_AGENT: &str = "a.state = 'pending' OR (a.state = 'approved' AND EXISTS \
     (SELECT 1 FROM agent_sources l WHERE l.agent_id = a.id AND l.state = 'pending'))";

impl Store {
    /// Approves a pending link as a new source. `name` defaults to the tenant's name (or
    /// the agent's local name when the tenant has none). The source joins an organisation
    /// as [`approve_source_into`](Self::approve_source_into) picks it by default.
    pub async fn approve_source_as_new(
        &self,
        actor: &str,
        link_id: &str,
        name: Option<&str>,
    ) -> Result<SourceRecord, StoreError> {
        self.approve_source_into(actor, link_id, name, None).await
    }

    /// Approves a pending link as a new source of `organisation` (`None`: for an HR source
    /// a new organisation, or the only one still without HR; for an application source the
    /// only organisation; see `licences::assign_organisation`).
    pub async fn approve_source_into(
        &self,
        actor: &str,
        link_id: &str,
        name: Option<&str>,
        organisation: Option<&str>,
    ) -> Result<SourceRecord, StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let link = pending_link(&mut tx, link_id).await?;
        if link.state == SourceState::Approved {
            tx.rollback().await?;
            return self
                .get_source(link_id)
                .await?
                .ok_or_else(|| StoreError::not_found("source", link_id));
        }
        if link.state != SourceState::Pending {
            return Err(already_decided(&link));
        }
        let name = match name.map(str::trim) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ if !link.tenant_name.is_empty() => link.tenant_name.clone(),
            _ => link.local_name.clone(),
        };
        sqlx::query(
            "INSERT INTO sources (id, kind, tenant_id, tenant_name, name, interval_secs, state, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, 'approved', $7, $8)",
        )
        .bind(&link.id)
        .bind(&link.kind)
        .bind(&link.tenant_id)
        .bind(&link.tenant_name)
        .bind(&name)
        .bind(link.interval_secs)
        .bind(ts(now))
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE agent_sources SET state = 'approved', source_id = $1, decided_by = $2, decided_at = $3 WHERE id = $1",
        )
        .bind(&link.id)
        .bind(actor)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        let organisation = licences::assign_organisation(
            &mut tx,
            &link.id,
            &link.kind,
            &name,
            organisation,
            actor,
            &ts(now),
        )
        .await?;
        audit::write(
            &mut tx,
            now,
            actor,
            "source.approve",
            &link.id,
            &serde_json::json!({
                "agent_id": link.agent_id,
                "local_name": link.local_name,
                "tenant_id": link.tenant_id,
                "name": name,
                "organisation": organisation,
            }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(source = %link.id, agent = %link.agent_id, actor, "Source approved as new.");
        self.get_source(link_id)
            .await?
            .ok_or_else(|| StoreError::not_found("source", link_id))
    }

    /// Approves a pending link by merging it into an existing source of the same kind and
    /// tenant: its snapshots continue that source's current state and history.
    pub async fn approve_and_merge(
        &self,
        actor: &str,
        link_id: &str,
        into_source_id: &str,
    ) -> Result<SourceRecord, StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let link = pending_link(&mut tx, link_id).await?;
        if link.state == SourceState::Merged && link.source_id.as_deref() == Some(into_source_id) {
            tx.rollback().await?;
            return self
                .get_source(into_source_id)
                .await?
                .ok_or_else(|| StoreError::not_found("source", into_source_id));
        }
        if link.state != SourceState::Pending {
            return Err(already_decided(&link));
        }
        let target = sqlx::query(&format!(
            "SELECT {SOURCE_COLUMNS} FROM sources WHERE id = $1"
        ))
        .bind(into_source_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("source", into_source_id))?;
        let target = source_from_row(&target)?;
        if target.state != "approved" {
            return Err(StoreError::InvalidState(format!(
                "source {} ({}) is {}; merge into an approved source or approve this one as new",
                target.id, target.name, target.state
            )));
        }
        if target.kind != link.kind || target.tenant_id != link.tenant_id {
            return Err(StoreError::InvalidState(format!(
                "source {:?} reads {} tenant {:?} but source {} ({}) is {} tenant {:?}; only the same tenant can be merged",
                link.local_name,
                link.kind,
                link.tenant_id,
                target.id,
                target.name,
                target.kind,
                target.tenant_id
            )));
        }
        sqlx::query(
            "UPDATE agent_sources SET state = 'merged', source_id = $1, decided_by = $2, decided_at = $3 WHERE id = $4",
        )
        .bind(&target.id)
        .bind(actor)
        .bind(ts(now))
        .bind(&link.id)
        .execute(&mut *tx)
        .await?;
        audit::write(
            &mut tx,
            now,
            actor,
            "source.merge",
            &link.id,
            &serde_json::json!({
                "agent_id": link.agent_id,
                "local_name": link.local_name,
                "into": target.id,
            }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(link = %link.id, into = %target.id, actor, "Source approved and merged.");
        Ok(target)
    }

    /// Rejects a pending link: its uploads are refused with `source_rejected`.
    pub async fn reject_source(&self, actor: &str, link_id: &str) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let link = pending_link(&mut tx, link_id).await?;
        match link.state {
            SourceState::Rejected => return Ok(()),
            SourceState::Pending => {}
            _ => return Err(already_decided(&link)),
        }
        self.set_link_state(&mut tx, &link, "rejected", actor, now, "source.reject")
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes an approved or merged link: its uploads are refused with `source_revoked`
    /// from now on. The source and its history stay.
    pub async fn revoke_source_link(&self, actor: &str, link_id: &str) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM agent_sources l JOIN agents a ON a.id = l.agent_id WHERE l.id = $1"
        ))
        .bind(link_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("agent source", link_id))?;
        let link = link_from_row(&row)?;
        match link.state {
            SourceState::Revoked => return Ok(()),
            SourceState::Approved | SourceState::Merged => {}
            _ => {
                return Err(StoreError::InvalidState(format!(
                    "source {:?} of agent {} is {}; only an approved source can be revoked",
                    link.local_name, link.agent_id, link.state
                )));
            }
        }
        self.set_link_state(&mut tx, &link, "revoked", actor, now, "source.revoke")
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_link_state(
        &self,
        conn: &mut AnyConnection,
        link: &LinkRecord,
        state: &str,
        actor: &str,
        now: DateTime<Utc>,
        action: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE agent_sources SET state = $1, decided_by = $2, decided_at = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(actor)
        .bind(ts(now))
        .bind(&link.id)
        .execute(&mut *conn)
        .await?;
        audit::write(
            conn,
            now,
            actor,
            action,
            &link.id,
            &serde_json::json!({
                "agent_id": link.agent_id,
                "local_name": link.local_name,
                "from": link.state.as_str(),
            }),
        )
        .await?;
        tracing::info!(link = %link.id, agent = %link.agent_id, state, actor, "Source decided.");
        Ok(())
    }

    /// Approved sources a link could be merged into: same kind and tenant.
    pub async fn merge_candidates(&self, link_id: &str) -> Result<Vec<SourceRecord>, StoreError> {
        let link = self
            .get_link(link_id)
            .await?
            .ok_or_else(|| StoreError::not_found("agent source", link_id))?;
        let rows = sqlx::query(&format!(
            "SELECT {SOURCE_COLUMNS} FROM sources WHERE kind = $1 AND tenant_id = $2 AND state = 'approved' AND id <> $3 \
             ORDER BY last_upload_at IS NULL, last_upload_at DESC, created_at DESC"
        ))
        .bind(&link.kind)
        .bind(&link.tenant_id)
        .bind(&link.id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(source_from_row).collect()
    }

    pub async fn get_link(&self, link_id: &str) -> Result<Option<LinkRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM agent_sources l JOIN agents a ON a.id = l.agent_id WHERE l.id = $1"
        ))
        .bind(link_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(link_from_row).transpose()
    }

    /// Links waiting for a decision whose agent is not rejected or revoked, oldest first.
    pub async fn list_pending_links(&self) -> Result<Vec<LinkRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM agent_sources l JOIN agents a ON a.id = l.agent_id \
             WHERE l.state = 'pending' AND a.state IN ('pending', 'approved') ORDER BY l.created_at, l.id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(link_from_row).collect()
    }

    pub async fn get_source(&self, id: &str) -> Result<Option<SourceRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SOURCE_COLUMNS} FROM sources WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(source_from_row).transpose()
    }
}
