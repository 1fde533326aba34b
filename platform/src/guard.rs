//! Request limits applied to every route before its handler runs: a body limit per route
//! (a larger `Content-Length` is answered 413 without reading a byte of the body), a byte
//! cap and a pause limit on bodies sent without a length, and HSTS under HTTPS.
//!
//! Credentials are checked by the handlers before they read a body (see
//! `api::upload`), so an unauthenticated client never makes the platform buffer one.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use seatbroker_protocol::{ErrorCode, limits};

use crate::error::ApiProblem;

/// The snapshot part route: the only one that takes a large body.
pub(crate) const UPLOAD_ROUTE: &str = "/api/agent/v1/snapshots/{snapshot_id}/parts/{part}";

/// Body limit of every route but part uploads: enrollment and heartbeat JSON, console
/// forms.
pub(crate) const SMALL_BODY_BYTES: usize = 64 * 1024;

/// The largest body `method` on `route` (a matched route template) may send.
pub(crate) fn body_limit(method: &Method, route: Option<&str>) -> usize {
    match route {
        Some(UPLOAD_ROUTE) if method == Method::PUT => limits::MAX_REQUEST_BYTES,
        _ => SMALL_BODY_BYTES,
    }
}

/// Settings of [`guard`].
#[derive(Debug, Clone)]
pub(crate) struct GuardSettings {
    /// Longest pause between two pieces of a request body.
    pub(crate) idle_timeout: Duration,
    /// Send `Strict-Transport-Security` (the platform is reached over HTTPS).
    pub(crate) hsts: bool,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30),
            hsts: false,
        }
    }
}

/// One year, subdomains not included (the platform does not own its parent domain).
const HSTS: &str = "max-age=31536000";

pub(crate) async fn guard(
    State(settings): State<GuardSettings>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let limit = body_limit(request.method(), route.as_deref());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let agent_api = route
        .as_deref()
        .is_some_and(|r| r.starts_with("/api/agent/"));
    let mut response = if declared.is_some_and(|n| n > limit as u64) {
        too_large(agent_api, limit)
    } else {
        let has_body = declared.is_some_and(|n| n > 0)
            || request.headers().contains_key(header::TRANSFER_ENCODING);
        let request = if has_body {
            request.map(|body| bounded(body, limit, settings.idle_timeout))
        } else {
            request
        };
        next.run(request).await
    };
    if settings.hsts {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

fn too_large(agent_api: bool, limit: usize) -> Response {
    let detail = format!("the request body is larger than {limit} bytes, the limit of this URL");
    if agent_api {
        ApiProblem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            detail,
        )
        .with_action(format!(
            "send parts of at most {} bytes before base64",
            limits::MAX_PART_BYTES
        ))
        .into_response()
    } else {
        (StatusCode::PAYLOAD_TOO_LARGE, format!("{detail}\n")).into_response()
    }
}

/// Why a request body stopped being read.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("the request body is larger than {0} bytes, the limit of this URL")]
    TooLarge(usize),
    #[error("the request body paused for longer than the idle timeout ({0} s)")]
    Stalled(u64),
    #[error("the request body could not be read: {0}")]
    Read(axum::Error),
}

/// `body`, failing once more than `limit` bytes arrive or a piece takes longer than
/// `pause`.
fn bounded(body: Body, limit: usize, pause: Duration) -> Body {
    struct Reading<S> {
        stream: S,
        seen: usize,
        done: bool,
    }
    let start = Reading {
        stream: body.into_data_stream(),
        seen: 0,
        done: false,
    };
    let stream = futures_util::stream::unfold(start, move |mut state| async move {
        if state.done {
            return None;
        }
        let next: Option<Result<Bytes, BodyError>> =
            match tokio::time::timeout(pause, state.stream.next()).await {
                Err(_) => Some(Err(BodyError::Stalled(pause.as_secs()))),
                Ok(None) => None,
                Ok(Some(Err(error))) => Some(Err(BodyError::Read(error))),
                Ok(Some(Ok(bytes))) => {
                    state.seen = state.seen.saturating_add(bytes.len());
                    if state.seen > limit {
                        Some(Err(BodyError::TooLarge(limit)))
                    } else {
                        Some(Ok(bytes))
                    }
                }
            };
        let item = next?;
        state.done = item.is_err();
        Some((item, state))
    });
    Body::from_stream(assert_send(stream))
}

fn assert_send<S: Stream + Send + 'static>(s: S) -> S {
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_part_uploads_take_large_bodies() {
        let check = |method: Method, route: Option<&str>, expected: usize| {
            assert_eq!(body_limit(&method, route), expected, "{method} {route:?}");
        };
        check(Method::PUT, Some(UPLOAD_ROUTE), limits::MAX_REQUEST_BYTES);
        check(Method::POST, Some(UPLOAD_ROUTE), SMALL_BODY_BYTES);
        check(Method::POST, Some("/api/agent/v1/enroll"), SMALL_BODY_BYTES);
        check(Method::POST, Some("/login"), SMALL_BODY_BYTES);
        check(Method::PUT, None, SMALL_BODY_BYTES);
    }
}
