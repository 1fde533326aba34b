//! `GET /api/agent/v1/status` and `POST /api/agent/v1/heartbeat`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatbroker_protocol::{
    AgentState, ErrorCode, Heartbeat, HeartbeatAck, SourceState, SourceStatus, StatusResponse,
};

use super::extract::{AgentJson, AuthedAgent, ProtocolVersion};
use super::finish;
use crate::error::ApiProblem;
use crate::metrics::RouteClass;
use crate::state::AppState;
use crate::store::AgentRecord;

pub(crate) async fn status(
    State(state): State<AppState>,
    version: Result<ProtocolVersion, ApiProblem>,
    agent: Result<AuthedAgent, ApiProblem>,
) -> Response {
    let result = (|| {
        version?;
        let AuthedAgent(agent) = agent?;
        Ok(Json(status_of(&agent, state.api.poll_after_secs)).into_response())
    })();
    finish(&state, RouteClass::Status, result)
}

/// The status an agent sees. A revoked agent still gets 200 with state `revoked` and
/// what to do.
fn status_of(agent: &AgentRecord, poll_after_secs: u32) -> StatusResponse {
    let message = match agent.state {
        AgentState::Pending => Some("waiting for an administrator to approve this agent".to_owned()),
        AgentState::Rejected => Some(
            "an administrator rejected this agent; it will not upload. Ask them, or enroll again with a new token"
                .to_owned(),
        ),
        AgentState::Revoked => Some(format!(
            "this agent was revoked{}; run `seatbroker-agent enroll` with a new enrollment token. Spooled snapshots are kept",
            agent
                .state_message
                .as_deref()
                .map(|reason| format!(" ({reason})"))
                .unwrap_or_default()
        )),
        _ => None,
    };
    StatusResponse {
        agent_id: agent.id.clone(),
        state: agent.state.clone(),
        sources: agent
            .links
            .iter()
            .map(|link| {
                let view = link.agent_view();
                let message = match view.state {
                    SourceState::Pending => {
                        Some("waiting for an administrator to approve this source")
                    }
                    SourceState::Rejected => {
                        Some("an administrator rejected this source; it will not be uploaded")
                    }
                    SourceState::Revoked => {
                        Some("an administrator revoked this source; it will not be uploaded")
                    }
                    SourceState::Merged => {
                        Some("approved: continues an existing source; upload to source_id")
                    }
                    _ => None,
                };
                SourceStatus {
                    local_name: view.local_name,
                    state: view.state,
                    source_id: view.source_id,
                    merged_into: view.merged_into,
                    message: message.map(str::to_owned),
                }
            })
            .collect(),
        poll_after_secs,
        policy: None,
        message,
        // Licence deltas are applied by `store::licences::sync` (checked against the base
        // and the accounts' digest).
        accepts_licence_deltas: true,
    }
}

/// 403 for an agent that may not do anything but read its status.
pub(crate) fn refuse_agent_state(
    agent: &AgentRecord,
    allow_pending: bool,
) -> Result<(), ApiProblem> {
    match agent.state {
        AgentState::Approved => Ok(()),
        AgentState::Pending if allow_pending => Ok(()),
        AgentState::Pending => Err(ApiProblem::new(
            StatusCode::FORBIDDEN,
            ErrorCode::AgentPending,
            format!("agent {} is not approved yet", agent.id),
        )
        .with_action("keep the data; an administrator must approve the agent in the console")),
        AgentState::Rejected => Err(ApiProblem::new(
            StatusCode::FORBIDDEN,
            ErrorCode::AgentRejected,
            format!("agent {} was rejected by an administrator", agent.id),
        )
        .with_action("stop uploading; ask an administrator, or enroll again with a new token")),
        _ => Err(ApiProblem::new(
            StatusCode::FORBIDDEN,
            ErrorCode::AgentRevoked,
            format!("agent {} was revoked", agent.id),
        )
        .with_action(
            "run `seatbroker-agent enroll` with a new enrollment token; the spool is kept",
        )),
    }
}

pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    version: Result<ProtocolVersion, ApiProblem>,
    agent: Result<AuthedAgent, ApiProblem>,
    body: Result<AgentJson<Heartbeat>, ApiProblem>,
) -> Response {
    let result = async {
        version?;
        let AuthedAgent(agent) = agent?;
        refuse_agent_state(&agent, true)?;
        let AgentJson(heartbeat) = body?;
        if heartbeat.agent_version.chars().count() > 64
            || heartbeat.last_error.as_ref().is_some_and(|e| e.len() > 4096)
            || heartbeat.sources.len() > 64
        {
            return Err(ApiProblem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BadRequest,
                "the heartbeat is too large: agent_version at most 64 characters, last_error at most 4096 bytes, at most 64 sources",
            ));
        }
        state.store.record_heartbeat(&agent.id, &heartbeat).await?;
        state.metrics.record_heartbeat();
        Ok(Json(HeartbeatAck {
            received_at: state.store.now(),
            poll_after_secs: state.api.poll_after_secs,
        })
        .into_response())
    }
    .await;
    finish(&state, RouteClass::Heartbeat, result)
}
