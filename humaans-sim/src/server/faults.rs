//! Fault injection: a middleware in front of every route, driven by a request counter so
//! the same configuration always hits the same request numbers.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, stream};

use super::AppState;
use super::config::{TruncateMode, hits_every};
use super::error::ApiError;

pub(crate) async fn inject(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let n = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let faults = state.faults();
    tracing::debug!(request = n, method = %request.method(), path = %request.uri().path(), "Request.");
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if let Some(limit) = faults.rate_limit.as_ref().filter(|l| l.when.hits(n)) {
        tracing::debug!(request = n, "Injecting 429.");
        let mut response =
            ApiError::too_many_requests("Too many requests, slow down").into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(limit.retry_after_secs),
        );
        return response;
    }
    if faults.server_error_every.is_some_and(|k| hits_every(k, n)) {
        tracing::debug!(request = n, "Injecting 502.");
        return (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/plain")],
            "502 Bad Gateway: the upstream server did not answer in time\n",
        )
            .into_response();
    }
    let response = next.run(request).await;
    if let Some(truncate) = faults.truncate.as_ref().filter(|t| hits_every(t.every, n)) {
        tracing::debug!(request = n, mode = ?truncate.mode, "Injecting truncated body.");
        return truncated(response, truncate.mode).await;
    }
    if let Some(slow) = faults.slow_body.as_ref().filter(|s| hits_every(s.every, n)) {
        tracing::debug!(request = n, "Injecting slow body.");
        return trickled(response, slow.chunk_bytes.max(1), slow.chunk_delay).await;
    }
    response
}

async fn body_bytes(response: Response) -> (axum::http::response::Parts, Bytes) {
    let (parts, body) = response.into_parts();
    // Our own handlers produce in-memory bodies; reading them back cannot fail.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (parts, bytes)
}

async fn truncated(response: Response, mode: TruncateMode) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    let cut = bytes.slice(..bytes.len() / 2);
    match mode {
        TruncateMode::CutJson => {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(cut.len()));
            Response::from_parts(parts, Body::from(cut))
        }
        TruncateMode::CloseMidBody => {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            // The pause lets the server flush the headers and the first half before the
            // error makes it drop the connection.
            let chunks = stream::iter([Ok(cut)]).chain(stream::once(async {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "injected fault: connection closed mid-body",
                ))
            }));
            Response::from_parts(parts, Body::from_stream(chunks))
        }
    }
}

async fn trickled(response: Response, chunk_bytes: usize, delay: std::time::Duration) -> Response {
    let (mut parts, bytes) = body_bytes(response).await;
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let chunks = stream::unfold((bytes, true), move |(rest, first)| async move {
        if rest.is_empty() {
            return None;
        }
        if !first {
            tokio::time::sleep(delay).await;
        }
        let mut rest = rest;
        let chunk = rest.split_to(chunk_bytes.min(rest.len()));
        Some((Ok::<_, io::Error>(chunk), (rest, false)))
    });
    Response::from_parts(parts, Body::from_stream(chunks))
}
