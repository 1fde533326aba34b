use serde::{Deserialize, Serialize};

use crate::{AgentState, Secret, SourceKind, SourceStatus};

/// `POST /api/agent/v1/enroll`: an agent introduces itself with an enrollment token.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The protocol version the agent speaks.
    pub protocol_version: u32,
    /// The enrollment token an administrator created in the console.
    pub enrollment_token: Secret,
    /// Random id the agent generated at first start and keeps on disk.
    pub install_id: String,
    pub host_name: String,
    /// The agent's release, e.g. `0.1.0`.
    pub agent_version: String,
    /// Operating system, e.g. `linux`, `macos`, `windows`.
    #[serde(default)]
    pub os: String,
    /// The data sources the agent is configured for.
    pub sources: Vec<SourceDescriptor>,
}

/// A data source as the agent describes it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceDescriptor {
    /// The source's name in the agent's configuration; unique per agent.
    pub local_name: String,
    pub kind: SourceKind,
    /// The tenant: for Humaans, the company id.
    pub tenant_id: String,
    /// The tenant's display name: for Humaans, the company name.
    #[serde(default)]
    pub tenant_name: String,
    /// How often the agent collects it, seconds; lets the console tell a stale source.
    #[serde(default)]
    pub interval_secs: u64,
}

/// The platform's answer to an enrollment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub agent_id: String,
    /// The agent's own credential, shown once: `Authorization: Bearer <credential>` on
    /// every later request. The platform keeps only a hash.
    pub agent_credential: Secret,
    pub state: AgentState,
    #[serde(default)]
    pub sources: Vec<SourceStatus>,
    #[serde(default = "crate::status::default_poll_after")]
    pub poll_after_secs: u32,
}
