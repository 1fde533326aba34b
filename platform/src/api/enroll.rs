//! `POST /api/agent/v1/enroll`: a new agent introduces itself with an enrollment token.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatbroker_protocol::{
    AgentState, EnrollRequest, EnrollResponse, ErrorCode, SourceStatus, is_valid_id, limits,
    version,
};

use super::extract::{AgentJson, ProtocolVersion};
use super::finish;
use crate::error::ApiProblem;
use crate::metrics::RouteClass;
use crate::state::AppState;
use crate::store::EnrollmentOutcome;

/// Most sources one agent may configure.
const MAX_SOURCES: usize = 64;
/// Longest free-text field (host name, version, names).
const MAX_TEXT: usize = 256;

pub(crate) async fn enroll(
    State(state): State<AppState>,
    version: Result<ProtocolVersion, ApiProblem>,
    body: Result<AgentJson<EnrollRequest>, ApiProblem>,
) -> Response {
    let result = async {
        version?;
        let AgentJson(request) = body?;
        handle(&state, request).await
    }
    .await;
    finish(&state, RouteClass::Enroll, result)
}

async fn handle(state: &AppState, request: EnrollRequest) -> Result<Response, ApiProblem> {
    version::negotiate(request.protocol_version)?;
    validate(&request).map_err(|detail| {
        ApiProblem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadRequest,
            detail,
        )
        .with_action("fix the agent's configuration and enroll again")
    })?;
    let token_action = "create a new enrollment token in the console (Enrollment tokens) and run `seatbroker-agent enroll` with it";
    let enrolled = match state.store.enroll(&request).await? {
        EnrollmentOutcome::Enrolled(enrolled) => enrolled,
        EnrollmentOutcome::TokenInvalid => {
            return Err(ApiProblem::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::EnrollmentTokenInvalid,
                "the enrollment token is not known to this platform",
            )
            .with_action(format!(
                "check the token was copied whole, or {token_action}"
            )));
        }
        EnrollmentOutcome::TokenExpired => {
            return Err(ApiProblem::new(
                StatusCode::FORBIDDEN,
                ErrorCode::EnrollmentTokenExpired,
                "the enrollment token has expired",
            )
            .with_action(token_action));
        }
        EnrollmentOutcome::TokenExhausted => {
            return Err(ApiProblem::new(
                StatusCode::FORBIDDEN,
                ErrorCode::EnrollmentTokenExhausted,
                "the enrollment token has been used as many times as it allows",
            )
            .with_action(token_action));
        }
        EnrollmentOutcome::TokenRevoked => {
            return Err(ApiProblem::new(
                StatusCode::FORBIDDEN,
                ErrorCode::EnrollmentTokenRevoked,
                "the enrollment token was revoked by an administrator",
            )
            .with_action(token_action));
        }
    };
    state.metrics.record_enrollment();
    let response = EnrollResponse {
        agent_id: enrolled.agent_id,
        agent_credential: enrolled.credential,
        state: AgentState::Pending,
        sources: enrolled
            .links
            .iter()
            .map(|link| {
                let view = link.agent_view();
                SourceStatus {
                    local_name: view.local_name,
                    state: view.state,
                    source_id: view.source_id,
                    merged_into: view.merged_into,
                    message: Some("waiting for an administrator to approve this source".to_owned()),
                }
            })
            .collect(),
        poll_after_secs: state.api.poll_after_secs,
    };
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

fn check_text(field: &str, value: &str, required: bool) -> Result<(), String> {
    if required && value.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(format!("{field} is longer than {MAX_TEXT} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} contains control characters"));
    }
    Ok(())
}

/// Checks the request's shape; the message says which field is wrong.
fn validate(request: &EnrollRequest) -> Result<(), String> {
    if !is_valid_id(&request.install_id) {
        return Err(format!(
            "install_id must be 1 to {} characters from A-Z, a-z, 0-9, '_' and '-'",
            limits::MAX_ID_LEN
        ));
    }
    check_text("host_name", &request.host_name, true)?;
    check_text("agent_version", &request.agent_version, true)?;
    check_text("os", &request.os, false)?;
    if request.sources.len() > MAX_SOURCES {
        return Err(format!(
            "the agent names {} sources; at most {MAX_SOURCES} are allowed",
            request.sources.len()
        ));
    }
    let mut names = HashSet::new();
    for source in &request.sources {
        check_text("sources[].local_name", &source.local_name, true)?;
        check_text("sources[].tenant_id", &source.tenant_id, true)?;
        check_text("sources[].tenant_name", &source.tenant_name, false)?;
        if !source.kind.is_known() {
            return Err(format!(
                "source {:?} has kind {:?}, which this platform does not support",
                source.local_name,
                source.kind.as_str()
            ));
        }
        if !names.insert(source.local_name.as_str()) {
            return Err(format!(
                "source name {:?} appears more than once; local names must be unique",
                source.local_name
            ));
        }
    }
    Ok(())
}
