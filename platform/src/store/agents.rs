//! Agents: enrollment, approval, credentials, heartbeats.
//!
//! API:
//! - `Store::enroll(&self, request: &EnrollRequest) -> Result<EnrollmentOutcome, StoreError>`
//!   uses the token (atomically: expiry, use count, revocation) and creates a NEW pending
//!   agent with one pending link per configured source. The caller validates the request's
//!   shape first.
//! - `Store::authenticate_agent(&self, credential: &str) -> Result<Option<AgentRecord>, StoreError>`
//!   looks the SHA-256 of the bearer credential up; `None` = unknown or rotated.
//! - `Store::get_agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError>` (with its links)
//! - `Store::list_agents(&self, state: Option<AgentState>) -> Result<Vec<AgentRecord>, StoreError>`
//!   newest first, with links and last heartbeat.
//! - `Store::approve_agent(&self, actor: &str, id: &str) -> Result<(), StoreError>` (pending → approved; a rejected agent must enroll again)
//! - `Store::reject_agent(&self, actor: &str, id: &str) -> Result<(), StoreError>` (pending → rejected)
//! - `Store::revoke_agent(&self, actor: &str, id: &str, reason: Option<&str>) -> Result<(), StoreError>`
//!   (any → revoked; the agent sees `reason` in its status and must enroll again)
//! - `Store::rotate_agent_credential(&self, actor: &str, id: &str) -> Result<Secret, StoreError>`
//!   the old credential stops working at once; the new one is returned once.
//! - `Store::record_heartbeat(&self, agent_id: &str, heartbeat: &Heartbeat) -> Result<(), StoreError>`
//!
//! Every administrative operation writes an audit row in the same transaction.

use chrono::{DateTime, Duration, Utc};
use seatbroker_protocol::{AgentState, EnrollRequest, Heartbeat, Secret, SourceState};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sources::{LINK_COLUMNS, LinkRecord, link_from_row};
use super::tokens::{TokenState, token_state};
use super::{Store, StoreError, audit, new_id, parse_opt_ts, parse_ts, ts};
use crate::auth::{random_token, sha256_hex};

/// Prefix of every agent credential: `sbk_<agent_id>_<secret>`.
pub(crate) const CREDENTIAL_PREFIX: &str = "sbk_";

/// An agent as the console and the API see it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRecord {
    pub id: String,
    pub install_id: String,
    pub host_name: String,
    pub agent_version: String,
    pub os: String,
    pub state: AgentState,
    /// Shown to the agent in its status (why it was revoked...).
    pub state_message: Option<String>,
    pub enrolled_at: DateTime<Utc>,
    pub enrolled_with_token: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub spool_snapshots: Option<i64>,
    pub spool_bytes: Option<i64>,
    pub last_error: Option<String>,
    /// The last heartbeat as received (JSON), for per-source collection health.
    pub heartbeat: Option<serde_json::Value>,
    /// The agent's sources, in the order it configured them.
    pub links: Vec<LinkRecord>,
}

/// A source as the agent sees it (what `SourceStatus` is built from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSourceView {
    pub local_name: String,
    pub state: SourceState,
    /// The id uploads must name: the link id, or the target source once merged.
    pub source_id: String,
    pub merged_into: Option<String>,
}

impl LinkRecord {
    /// How the agent sees this link.
    pub fn agent_view(&self) -> AgentSourceView {
        let merged_into = match self.state {
            SourceState::Merged => self.source_id.clone(),
            _ => None,
        };
        AgentSourceView {
            local_name: self.local_name.clone(),
            state: self.state.clone(),
            source_id: merged_into.clone().unwrap_or_else(|| self.id.clone()),
            merged_into,
        }
    }
}

/// A freshly enrolled agent; the credential is shown to it once.
#[derive(Debug, Clone)]
pub struct EnrolledAgent {
    pub agent_id: String,
    pub credential: Secret,
    pub links: Vec<LinkRecord>,
}

/// What an enrollment attempt came to.
#[derive(Debug, Clone)]
pub enum EnrollmentOutcome {
    Enrolled(EnrolledAgent),
    /// No token with this value exists.
    TokenInvalid,
    TokenExpired,
    TokenExhausted,
    TokenRevoked,
}

const AGENT_COLUMNS: &str = "id, install_id, host_name, agent_version, os, state, state_message, \
     enrolled_at, enrolled_with_token, decided_by, decided_at, last_seen_at, last_heartbeat_at, \
     spool_snapshots, spool_bytes, last_error, heartbeat_json";

fn agent_from_row(row: &AnyRow) -> Result<AgentRecord, StoreError> {
    let heartbeat: Option<String> = row.try_get("heartbeat_json")?;
    Ok(AgentRecord {
        id: row.try_get("id")?,
        install_id: row.try_get("install_id")?,
        host_name: row.try_get("host_name")?,
        agent_version: row.try_get("agent_version")?,
        os: row.try_get("os")?,
        state: AgentState::from_wire(&row.try_get::<String, _>("state")?),
        state_message: row.try_get("state_message")?,
        enrolled_at: parse_ts(&row.try_get::<String, _>("enrolled_at")?)?,
        enrolled_with_token: row.try_get("enrolled_with_token")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: parse_opt_ts(row.try_get("decided_at")?)?,
        last_seen_at: parse_opt_ts(row.try_get("last_seen_at")?)?,
        last_heartbeat_at: parse_opt_ts(row.try_get("last_heartbeat_at")?)?,
        spool_snapshots: row.try_get("spool_snapshots")?,
        spool_bytes: row.try_get("spool_bytes")?,
        last_error: row.try_get("last_error")?,
        heartbeat: heartbeat.and_then(|text| serde_json::from_str(&text).ok()),
        links: Vec::new(),
    })
}

/// A new credential for `agent_id`: `sbk_<agent_id>_<32 random bytes, base64url>`.
fn new_credential(agent_id: &str) -> Secret {
    Secret::new(format!(
        "{CREDENTIAL_PREFIX}{agent_id}_{}",
        random_token(32)
    ))
}

impl Store {
    /// Enrolls a new agent with an enrollment token. See the module docs.
    pub async fn enroll(&self, request: &EnrollRequest) -> Result<EnrollmentOutcome, StoreError> {
        let now = self.now();
        let token_hash = sha256_hex(request.enrollment_token.expose());
        let mut tx = self.begin_write().await?;
        let used = sqlx::query(
            "UPDATE enrollment_tokens SET uses = uses + 1 \
             WHERE token_hash = $1 AND revoked_at IS NULL \
               AND (expires_at IS NULL OR expires_at > $2) \
               AND (max_uses IS NULL OR uses < max_uses)",
        )
        .bind(&token_hash)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let token = sqlx::query(
            "SELECT id, expires_at, max_uses, uses, revoked_at FROM enrollment_tokens WHERE token_hash = $1",
        )
        .bind(&token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(token) = token else {
            return Ok(EnrollmentOutcome::TokenInvalid);
        };
        let token_id: String = token.try_get("id")?;
        if used == 0 {
            let expires_at = parse_opt_ts(token.try_get("expires_at")?)?;
            let revoked_at: Option<String> = token.try_get("revoked_at")?;
            let state = token_state(
                now,
                expires_at,
                token.try_get("max_uses")?,
                token.try_get("uses")?,
                revoked_at.is_some(),
            );
            return Ok(match state {
                TokenState::Revoked => EnrollmentOutcome::TokenRevoked,
                TokenState::Expired => EnrollmentOutcome::TokenExpired,
                // Usable cannot happen (the update would have matched); treat it as used up.
                TokenState::Exhausted | TokenState::Usable => EnrollmentOutcome::TokenExhausted,
            });
        }

        let agent_id = new_id();
        let credential = new_credential(&agent_id);
        sqlx::query(
            "INSERT INTO agents (id, install_id, host_name, agent_version, os, credential_hash, state, enrolled_at, enrolled_with_token, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $7)",
        )
        .bind(&agent_id)
        .bind(&request.install_id)
        .bind(&request.host_name)
        .bind(&request.agent_version)
        .bind(&request.os)
        .bind(sha256_hex(credential.expose()))
        .bind(ts(now))
        .bind(&token_id)
        .execute(&mut *tx)
        .await?;
        let mut links = Vec::with_capacity(request.sources.len());
        for source in &request.sources {
            let link = LinkRecord {
                id: new_id(),
                agent_id: agent_id.clone(),
                agent_host_name: request.host_name.clone(),
                local_name: source.local_name.clone(),
                kind: source.kind.as_str().to_owned(),
                tenant_id: source.tenant_id.clone(),
                tenant_name: source.tenant_name.clone(),
                // An agent's claim, used only to judge staleness: bounded to a year.
                interval_secs: i64::try_from(source.interval_secs.min(366 * 86_400))
                    .unwrap_or(366 * 86_400),
                state: SourceState::Pending,
                source_id: None,
                last_applied_sequence: None,
                created_at: now,
                decided_by: None,
                decided_at: None,
            };
            sqlx::query(
                "INSERT INTO agent_sources (id, agent_id, local_name, kind, tenant_id, tenant_name, interval_secs, state, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)",
            )
            .bind(&link.id)
            .bind(&agent_id)
            .bind(&link.local_name)
            .bind(&link.kind)
            .bind(&link.tenant_id)
            .bind(&link.tenant_name)
            .bind(link.interval_secs)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
            links.push(link);
        }
        audit::write(
            &mut tx,
            now,
            &format!("agent:{agent_id}"),
            "agent.enroll",
            &agent_id,
            &serde_json::json!({
                "token_id": token_id,
                "install_id": request.install_id,
                "host_name": request.host_name,
                "agent_version": request.agent_version,
                "sources": request.sources.iter().map(|s| &s.local_name).collect::<Vec<_>>(),
            }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(agent = %agent_id, host = %request.host_name, token = %token_id, "Agent enrolled; waiting for approval.");
        Ok(EnrollmentOutcome::Enrolled(EnrolledAgent {
            agent_id,
            credential,
            links,
        }))
    }

    /// The agent a bearer credential belongs to, with its links; `None` when the
    /// credential is unknown or was rotated. Notes the agent as seen (at most once a minute).
    pub async fn authenticate_agent(
        &self,
        credential: &str,
    ) -> Result<Option<AgentRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE credential_hash = $1"
        ))
        .bind(sha256_hex(credential))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut agent = agent_from_row(&row)?;
        let now = self.now();
        if agent
            .last_seen_at
            .is_none_or(|seen| now - seen > Duration::seconds(60))
        {
            sqlx::query("UPDATE agents SET last_seen_at = $1 WHERE id = $2")
                .bind(ts(now))
                .bind(&agent.id)
                .execute(self.pool())
                .await?;
            agent.last_seen_at = Some(now);
        }
        agent.links = self.links_of_agent(&agent.id).await?;
        Ok(Some(agent))
    }

    /// One agent with its links.
    pub async fn get_agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(row) => {
                let mut agent = agent_from_row(&row)?;
                agent.links = self.links_of_agent(id).await?;
                Ok(Some(agent))
            }
            None => Ok(None),
        }
    }

    /// Agents (all, or those in `state`), newest first, each with its links.
    pub async fn list_agents(
        &self,
        state: Option<AgentState>,
    ) -> Result<Vec<AgentRecord>, StoreError> {
        let rows = match &state {
            Some(state) => sqlx::query(&format!(
                "SELECT {AGENT_COLUMNS} FROM agents WHERE state = $1 ORDER BY enrolled_at DESC, id"
            ))
            .bind(state.as_str())
            .fetch_all(self.pool())
            .await?,
            None => {
                sqlx::query(&format!(
                    "SELECT {AGENT_COLUMNS} FROM agents ORDER BY enrolled_at DESC, id"
                ))
                .fetch_all(self.pool())
                .await?
            }
        };
        let mut agents = rows
            .iter()
            .map(agent_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let links = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM agent_sources l JOIN agents a ON a.id = l.agent_id ORDER BY l.created_at, l.local_name"
        ))
        .fetch_all(self.pool())
        .await?;
        for row in &links {
            let link = link_from_row(row)?;
            if let Some(agent) = agents.iter_mut().find(|a| a.id == link.agent_id) {
                agent.links.push(link);
            }
        }
        Ok(agents)
    }

    pub(crate) async fn links_of_agent(
        &self,
        agent_id: &str,
    ) -> Result<Vec<LinkRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM agent_sources l JOIN agents a ON a.id = l.agent_id \
             WHERE l.agent_id = $1 ORDER BY l.created_at, l.local_name"
        ))
        .bind(agent_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(link_from_row).collect()
    }

    /// Approves a pending agent. A rejected one must enroll again: a rejection is final
    /// for its credential.
    pub async fn approve_agent(&self, actor: &str, id: &str) -> Result<(), StoreError> {
        self.decide_agent(actor, id, AgentState::Approved, &["pending"], None)
            .await
    }

    /// Rejects a pending agent: it can never upload; its sources stay pending.
    pub async fn reject_agent(&self, actor: &str, id: &str) -> Result<(), StoreError> {
        self.decide_agent(actor, id, AgentState::Rejected, &["pending"], None)
            .await
    }

    /// Revokes an agent: its credential then answers only `GET status` (with state
    /// `revoked` and `reason`); it must enroll again. Its sources and their history stay.
    pub async fn revoke_agent(
        &self,
        actor: &str,
        id: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.decide_agent(
            actor,
            id,
            AgentState::Revoked,
            &["pending", "approved", "rejected"],
            reason,
        )
        .await
    }

    async fn decide_agent(
        &self,
        actor: &str,
        id: &str,
        to: AgentState,
        from: &[&str],
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT state FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found("agent", id))?;
        let state: String = row.try_get("state")?;
        if state == to.as_str() {
            // Deciding the same thing twice (double click, two admins) is harmless.
            return Ok(());
        }
        if !from.contains(&state.as_str()) {
            return Err(StoreError::InvalidState(format!(
                "agent {id} is {state}; it cannot become {to}{}",
                if state == "revoked" || state == "rejected" {
                    " (it must enroll again with a new enrollment token)"
                } else {
                    ""
                }
            )));
        }
        sqlx::query(
            "UPDATE agents SET state = $1, decided_by = $2, decided_at = $3, state_message = $4, \
             approved_at = CASE WHEN $1 = 'approved' THEN $3 ELSE approved_at END WHERE id = $5",
        )
        .bind(to.as_str())
        .bind(actor)
        .bind(ts(now))
        .bind(message)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if matches!(to, AgentState::Revoked | AgentState::Rejected) {
            // Half-received snapshots of this agent will never be completed by it; the agent
            // keeps them in its spool and, once enrolled again under a new agent id, sends
            // them anew with the same snapshot ids. Left here they would make those ids
            // "another agent's" and be refused as conflicts, and would stay for ever.
            sqlx::query(
                "DELETE FROM snapshot_parts WHERE snapshot_id IN \
                 (SELECT id FROM snapshots WHERE agent_id = $1 AND state = 'receiving')",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM snapshots WHERE agent_id = $1 AND state = 'receiving'")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let action = match to {
            AgentState::Approved => "agent.approve",
            AgentState::Rejected => "agent.reject",
            _ => "agent.revoke",
        };
        audit::write(
            &mut tx,
            now,
            actor,
            action,
            id,
            &serde_json::json!({ "from": state, "reason": message }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(agent = %id, from = %state, to = %to, actor, "Agent decided.");
        Ok(())
    }

    /// Replaces an agent's credential. The old one stops working at once; the new one is
    /// returned once (put it into the agent's credential file by hand, or let it enroll
    /// again).
    pub async fn rotate_agent_credential(
        &self,
        actor: &str,
        id: &str,
    ) -> Result<Secret, StoreError> {
        let now = self.now();
        let credential = new_credential(id);
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query("UPDATE agents SET credential_hash = $1 WHERE id = $2")
            .bind(sha256_hex(credential.expose()))
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::not_found("agent", id));
        }
        audit::write(
            &mut tx,
            now,
            actor,
            "agent.rotate_credential",
            id,
            &serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(credential)
    }

    /// Stores an agent's latest heartbeat.
    pub(crate) async fn record_heartbeat(
        &self,
        agent_id: &str,
        heartbeat: &Heartbeat,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let json = serde_json::to_string(heartbeat).map_err(|error| {
            StoreError::Corrupt(format!("heartbeat does not serialize: {error}"))
        })?;
        sqlx::query(
            "UPDATE agents SET last_heartbeat_at = $1, last_seen_at = $1, spool_snapshots = $2, \
             spool_bytes = $3, last_error = $4, heartbeat_json = $5, agent_version = $6 WHERE id = $7",
        )
        .bind(ts(now))
        .bind(i64::try_from(heartbeat.spool.snapshots).unwrap_or(i64::MAX))
        .bind(i64::try_from(heartbeat.spool.bytes).unwrap_or(i64::MAX))
        .bind(heartbeat.last_error.as_deref())
        .bind(json)
        .bind(&heartbeat.agent_version)
        .bind(agent_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
