//! The agent API (`/api/agent/v1/...`), exactly as the `seatbroker-protocol` crate
//! describes it.
//!
//! `api::router() -> Router<AppState>` serves:
//! - `POST /api/agent/v1/enroll` ([`enroll`]),
//! - `GET /api/agent/v1/status` and `POST /api/agent/v1/heartbeat` ([`status`]),
//! - `PUT /api/agent/v1/snapshots/{snapshot_id}/parts/{part}` ([`upload`]).
//!
//! The body limit is [`limits::MAX_REQUEST_BYTES`] (→ 413 problem); the server's `guard`
//! narrows it per route (64 KiB but for parts) before a body is read. Extractors
//! ([`extract`]) check the protocol version header (missing = 1), the bearer credential
//! and the JSON body, turning every malformed input into a 4xx problem; handlers take
//! them as `Result`s so every answer, refusals included, is counted in the metrics.
//! Nothing in here panics on input.
//!
//! Architecture Invariant: handlers only translate between the wire types and the store;
//! every decision about approval, idempotency and ordering is made in `crate::store`.

mod enroll;
mod extract;
mod status;
mod upload;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use seatbroker_protocol::{ErrorCode, limits, paths};

use crate::error::ApiProblem;
use crate::metrics::RouteClass;
use crate::state::AppState;

/// The agent API's routes; merge them into the platform's router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::ENROLL, post(enroll::enroll))
        .route(paths::STATUS, get(status::status))
        .route(paths::HEARTBEAT, post(status::heartbeat))
        .route(
            "/api/agent/v1/snapshots/{snapshot_id}/parts/{part}",
            put(upload::upload_part),
        )
        .layer(DefaultBodyLimit::max(limits::MAX_REQUEST_BYTES))
}

/// Turns a handler's result into the response and counts it: by route and status
/// class, and refusals by code. Handlers take their extractors as `Result`s so that
/// rejections pass through here too.
fn finish(state: &AppState, route: RouteClass, result: Result<Response, ApiProblem>) -> Response {
    let response = result.unwrap_or_else(IntoResponse::into_response);
    state
        .metrics
        .record_request(route, response.status().as_u16());
    if let Some(code) = response.extensions().get::<ErrorCode>() {
        state.metrics.record_refusal(code);
    }
    response
}
