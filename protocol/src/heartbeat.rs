use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CollectionOutcome;

/// `POST /api/agent/v1/heartbeat`: the agent's health.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub agent_version: String,
    pub sent_at: DateTime<Utc>,
    #[serde(default)]
    pub sources: Vec<SourceHealth>,
    pub spool: SpoolDepth,
    /// The most recent error the agent hit, in words, or `null` when healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Health of one source.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub local_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_collection: Option<CollectionReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_collection_at: Option<DateTime<Utc>>,
}

/// The result of the last collection of a source.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionReport {
    pub at: DateTime<Utc>,
    pub outcome: CollectionOutcome,
    #[serde(default)]
    pub people: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How much the agent has waiting in its spool.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolDepth {
    pub snapshots: u64,
    pub bytes: u64,
}

/// The platform's answer to a heartbeat.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    pub received_at: DateTime<Utc>,
    #[serde(default = "crate::status::default_poll_after")]
    pub poll_after_secs: u32,
}
