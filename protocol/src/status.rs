use serde::{Deserialize, Serialize};

use crate::{AgentState, SourceState, UsagePolicy};

/// `GET /api/agent/v1/status`: the approval state of the agent and each of its sources.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub agent_id: String,
    pub state: AgentState,
    #[serde(default)]
    pub sources: Vec<SourceStatus>,
    /// Seconds the agent should wait before polling again.
    #[serde(default = "default_poll_after")]
    pub poll_after_secs: u32,
    /// A policy the platform wants the agent to use instead of its configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<UsagePolicy>,
    /// Human-readable note from the platform, e.g. why the agent was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Whether the platform applies licence sections that carry only changes
    /// ([`LicenceDelta`](crate::LicenceDelta)). An agent sends deltas only when this is
    /// true; an older platform leaves it out and gets whole snapshots.
    #[serde(default)]
    pub accepts_licence_deltas: bool,
}

/// The state of one of the agent's sources.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// The name in the agent's configuration.
    pub local_name: String,
    pub state: SourceState,
    /// The platform's id for this source: the id uploads must name. For a merged source it
    /// is the id of the source it was merged into.
    pub source_id: String,
    /// For `merged`, the source it now continues (same as `source_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub(crate) fn default_poll_after() -> u32 {
    crate::limits::DEFAULT_POLL_AFTER_SECS
}
