//! Extractors that turn malformed input into problems instead of axum's plain-text
//! rejections: [`AgentJson`] (JSON bodies), [`AuthedAgent`] (bearer credentials) and
//! [`ProtocolVersion`] (the `seatbroker-protocol` header).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use seatbroker_protocol::{ErrorCode, PROTOCOL_HEADER, limits, version};
use serde::de::DeserializeOwned;

use crate::error::ApiProblem;
use crate::state::AppState;
use crate::store::AgentRecord;

/// A JSON body; any rejection becomes a problem: 413 `payload_too_large`, 415
/// `unsupported_media_type`, 400 `bad_request` (not JSON), 422 `bad_request` (wrong types,
/// missing fields), each saying what was wrong.
#[derive(Debug)]
pub(crate) struct AgentJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AgentJson<T> {
    type Rejection = ApiProblem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_problem(&rejection)),
        }
    }
}

fn json_problem(rejection: &JsonRejection) -> ApiProblem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiProblem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "the request body must be JSON with Content-Type: application/json",
        )
        .with_action("send the body as application/json"),
        JsonRejection::JsonDataError(error) => ApiProblem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadRequest,
            format!(
                "the JSON body does not have the expected shape: {}",
                error.body_text()
            ),
        )
        .with_action("fix the request; retrying it unchanged will fail again"),
        JsonRejection::JsonSyntaxError(error) => {
            ApiProblem::bad_request(format!("the body is not valid JSON: {}", error.body_text()))
        }
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            too_large()
        }
        other => ApiProblem::bad_request(format!(
            "the request body cannot be read: {}",
            other.body_text()
        )),
    }
}

/// 413 `payload_too_large`.
pub(crate) fn too_large() -> ApiProblem {
    ApiProblem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!(
            "the request body is larger than {} bytes",
            limits::MAX_REQUEST_BYTES
        ),
    )
    .with_action(format!(
        "send parts of at most {} bytes before base64",
        limits::MAX_PART_BYTES
    ))
}

/// The agent that owns the request's bearer credential, in any state; handlers check the
/// state. No or malformed header → 401 `unauthenticated`; unknown or rotated credential
/// → 401 `invalid_credential`.
#[derive(Debug)]
pub(crate) struct AuthedAgent(pub(crate) AgentRecord);

impl FromRequestParts<AppState> for AuthedAgent {
    type Rejection = ApiProblem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unauthenticated = || {
            ApiProblem::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
                "the request has no valid Authorization header",
            )
            .with_action(
                "send Authorization: Bearer <agent credential>; enroll first if the agent has none",
            )
        };
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(unauthenticated)?
            .to_str()
            .map_err(|_| unauthenticated())?;
        let credential = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|c| !c.is_empty() && c.len() <= 256)
            .ok_or_else(unauthenticated)?;
        match state.store.authenticate_agent(credential).await? {
            Some(agent) => Ok(Self(agent)),
            None => Err(ApiProblem::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidCredential,
                "the agent credential is unknown or was rotated",
            )
            .with_action(
                "enroll the agent again with `seatbroker-agent enroll` and a new enrollment token",
            )),
        }
    }
}

/// The protocol version the agent speaks (header `seatbroker-protocol`; missing = 1),
/// checked against the supported range: 400 `protocol_too_old` / `protocol_too_new`, or
/// 400 `bad_request` when the header is not a number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProtocolVersion;

impl<S: Send + Sync> FromRequestParts<S> for ProtocolVersion {
    type Rejection = ApiProblem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(PROTOCOL_HEADER) else {
            return Ok(Self);
        };
        let agent_version = value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .ok_or_else(|| {
                ApiProblem::bad_request(format!(
                    "the {PROTOCOL_HEADER} header must be a decimal protocol version, e.g. {}",
                    version::CURRENT
                ))
            })?;
        version::negotiate(agent_version)?;
        Ok(Self)
    }
}
