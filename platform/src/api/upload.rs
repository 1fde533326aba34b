//! `PUT /api/agent/v1/snapshots/{snapshot_id}/parts/{part}`: one part of a snapshot.
//!
//! The handler checks everything it can without the database (ids, part range, the
//! part's own checksum and size), then hands the part to `Store::receive_part`, which
//! decides ownership, approval, ordering and idempotency, and applies the snapshot when
//! the last part is in.

use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seatbroker_protocol::{
    DecodeError, ErrorCode, UploadAck, UploadOutcome, UploadPart, is_valid_id, limits,
};

use super::extract::{AgentJson, AuthedAgent, ProtocolVersion, too_large};
use super::finish;
use super::status::refuse_agent_state;
use crate::error::ApiProblem;
use crate::metrics::RouteClass;
use crate::state::AppState;
use crate::store::{PartOutcome, PartRefusal};

/// The body is the last thing read: the protocol version, the credential and the agent's
/// state are checked first, so a client without a valid credential is answered at once and
/// never makes the platform buffer a body.
pub(crate) async fn upload_part(
    State(state): State<AppState>,
    Path((snapshot_id, part)): Path<(String, String)>,
    version: Result<ProtocolVersion, ApiProblem>,
    agent: Result<AuthedAgent, ApiProblem>,
    request: Request,
) -> Response {
    let result = async {
        version?;
        let AuthedAgent(agent) = agent?;
        refuse_agent_state(&agent, false)?;
        let AgentJson(upload) = AgentJson::<UploadPart>::from_request(request, &state).await?;
        let chunk = check_part(&snapshot_id, &part, &upload)?;
        let bytes = chunk.len();
        let pending = state.store.pending_parts(&agent.id).await?;
        let cap = state.api.max_pending_parts_per_agent;
        if pending >= cap {
            tracing::warn!(agent = %agent.id, pending, cap, "Part refused: too many parts of incomplete snapshots.");
            return Err(ApiProblem::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                format!(
                    "this agent has {pending} parts of incomplete snapshots stored, the most the platform keeps per agent ({cap}, at most {} MiB)",
                    cap * limits::MAX_PART_BYTES as u64 / (1024 * 1024)
                ),
            )
            .with_action("finish the snapshots already started; the platform drops incomplete ones after --incomplete-snapshot-hours")
            .with_retry_after(PENDING_RETRY_SECS));
        }
        match state.store.receive_part(&agent.id, &upload, chunk).await? {
            PartOutcome::Stored(received) => {
                state
                    .metrics
                    .record_part(bytes, received.outcome == UploadOutcome::AlreadyHave);
                if let Some(report) = &received.applied {
                    state.metrics.record_apply(report.people, report.duration);
                }
                Ok(Json(UploadAck {
                    snapshot_id: upload.snapshot_id,
                    part: upload.part,
                    outcome: received.outcome,
                    parts_received: received.parts_received,
                    part_count: received.part_count,
                    snapshot_applied: received.snapshot_applied,
                })
                .into_response())
            }
            PartOutcome::Refused(refusal) => Err(refusal_problem(&upload, refusal)),
        }
    }
    .await;
    finish(&state, RouteClass::Upload, result)
}

/// The `Retry-After` of a part refused at the pending cap.
const PENDING_RETRY_SECS: u32 = 600;

fn out_of_range(detail: String) -> ApiProblem {
    ApiProblem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::PartOutOfRange,
        detail,
    )
    .with_action("fix the agent's part numbering; this part will never be accepted")
}

/// Checks a part on its own and returns its decoded chunk.
fn check_part(path_id: &str, path_part: &str, upload: &UploadPart) -> Result<Vec<u8>, ApiProblem> {
    if !is_valid_id(path_id) || path_id != upload.snapshot_id {
        return Err(ApiProblem::bad_request(format!(
            "the snapshot id in the path must be a valid id (1 to {} characters of A-Z, a-z, 0-9, '_', '-') equal to the body's snapshot_id",
            limits::MAX_ID_LEN
        )));
    }
    let Ok(path_part) = path_part.parse::<u32>() else {
        return Err(ApiProblem::bad_request(format!(
            "the part number in the path must be a positive integer, not {path_part:?}"
        )));
    };
    if path_part != upload.part {
        return Err(ApiProblem::bad_request(format!(
            "the path names part {path_part} but the body is part {}",
            upload.part
        )));
    }
    if upload.part_count == 0 || upload.part_count > limits::MAX_PARTS {
        return Err(out_of_range(format!(
            "part_count is {}; it must be between 1 and {}",
            upload.part_count,
            limits::MAX_PARTS
        )));
    }
    if upload.part == 0 || upload.part > upload.part_count {
        return Err(out_of_range(format!(
            "part {} is outside 1..={}",
            upload.part, upload.part_count
        )));
    }
    if !upload.encoding.is_known() {
        return Err(ApiProblem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::PayloadInvalid,
            format!(
                "payload encoding {:?} is not supported",
                upload.encoding.as_str()
            ),
        )
        .with_action("upgrade the platform or send gzip+json"));
    }
    if !is_checksum(&upload.snapshot_checksum) || !is_checksum(&upload.part_checksum) {
        return Err(ApiProblem::bad_request(
            "part_checksum and snapshot_checksum must be sha256:<64 lowercase hex digits>",
        ));
    }
    if upload.sequence > i64::MAX as u64 {
        return Err(ApiProblem::bad_request("sequence is larger than 2^63 - 1"));
    }
    // base64 of MAX_PART_BYTES is 4/3 as long; refuse before decoding anything bigger.
    if upload.payload.len() > limits::MAX_PART_BYTES.div_ceil(3) * 4 {
        return Err(too_large());
    }
    let chunk = upload.chunk().map_err(|error| match error {
        DecodeError::Base64 { .. } => {
            ApiProblem::bad_request("payload is not valid base64 (standard alphabet, padded)")
        }
        other => ApiProblem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ChecksumMismatch,
            format!(
                "snapshot {} part {}: {other}",
                upload.snapshot_id, upload.part
            ),
        )
        .with_action("resend the part; it was damaged in transit"),
    })?;
    if chunk.len() > limits::MAX_PART_BYTES {
        return Err(too_large());
    }
    Ok(chunk)
}

fn is_checksum(value: &str) -> bool {
    value.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn refusal_problem(upload: &UploadPart, refusal: PartRefusal) -> ApiProblem {
    let source = &upload.source_id;
    match refusal {
        PartRefusal::SourceForeign => ApiProblem::new(
            StatusCode::FORBIDDEN,
            ErrorCode::SourceForeign,
            format!("source {source} is not one of this agent's sources"),
        )
        .with_action("upload only to the source_id the status response names"),
        PartRefusal::SourcePending => ApiProblem::new(
            StatusCode::FORBIDDEN,
            ErrorCode::SourcePending,
            format!("source {source} is not approved yet"),
        )
        .with_action("keep the snapshot; an administrator must approve the source in the console"),
        PartRefusal::SourceRejected => ApiProblem::new(
            StatusCode::FORBIDDEN,
            ErrorCode::SourceRejected,
            format!("source {source} was rejected by an administrator"),
        )
        .with_action("stop uploading this source"),
        PartRefusal::SourceRevoked => ApiProblem::new(
            StatusCode::FORBIDDEN,
            ErrorCode::SourceRevoked,
            format!("source {source} was revoked by an administrator"),
        )
        .with_action("stop uploading this source"),
        PartRefusal::Conflict(detail) => {
            ApiProblem::new(StatusCode::CONFLICT, ErrorCode::SnapshotConflict, detail)
                .with_action("drop this snapshot; give every snapshot a fresh id")
        }
        PartRefusal::Stale {
            sequence,
            last_applied,
        } => ApiProblem::new(
            StatusCode::CONFLICT,
            ErrorCode::StaleSequence,
            format!(
                "snapshot {} has sequence {sequence}, but sequence {last_applied} of source {source} is already applied",
                upload.snapshot_id
            ),
        )
        .with_action("drop this snapshot; a newer one is already in"),
        PartRefusal::ChecksumMismatch(detail) => ApiProblem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ChecksumMismatch,
            detail,
        )
        .with_action("upload every part of the snapshot again"),
        PartRefusal::PayloadInvalid(detail) => {
            ApiProblem::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::PayloadInvalid, detail)
                .with_action("drop this snapshot; the agent produced one the platform cannot use")
        }
        PartRefusal::BaseMismatch(detail) => ApiProblem::new(
            StatusCode::CONFLICT,
            ErrorCode::BaseMismatch,
            format!("snapshot {}: {detail}", upload.snapshot_id),
        )
        .with_action("send the same snapshot whole, not as a delta; nothing of it was applied"),
    }
}
