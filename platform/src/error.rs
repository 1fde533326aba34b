//! Problem responses (`application/problem+json`, RFC 9457) for the agent API.
//!
//! Every error an agent receives is an [`ApiProblem`]: an HTTP status, a stable
//! [`ErrorCode`], a detail that says what happened, and an action that says what to do.
//! 429 and 503 carry `Retry-After`. The code is also put into the response's extensions,
//! so the metrics layer can count refusals by code without parsing the body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seatbroker_protocol::{ErrorCode, PROBLEM_JSON, Problem};

use crate::store::StoreError;

/// An error answered as `application/problem+json`.
#[derive(Debug, Clone)]
pub(crate) struct ApiProblem {
    /// Boxed: the problem is large, and `Result<_, ApiProblem>` travels a lot.
    pub problem: Box<Problem>,
    pub retry_after: Option<u32>,
}

impl ApiProblem {
    pub(crate) fn new(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            problem: Box::new(Problem::new(status.as_u16(), code, detail)),
            retry_after: None,
        }
    }

    pub(crate) fn with_action(mut self, action: impl Into<String>) -> Self {
        self.problem.action = Some(action.into());
        self
    }

    pub(crate) fn with_retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// 400 `bad_request`.
    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, detail)
            .with_action("fix the request; retrying it unchanged will fail again")
    }

    /// A database failure: 503 with `Retry-After` when it may pass, else 500. The detail
    /// does not leak internals; the error is logged here.
    pub(crate) fn from_store(error: &StoreError) -> Self {
        match error {
            StoreError::NotFound { .. } => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                error.to_string(),
            ),
            _ if error.is_retriable() => {
                tracing::warn!(%error, "Database busy or unreachable; asking the agent to retry.");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Internal,
                    "the platform's database is busy or unreachable",
                )
                .with_action("retry later; nothing was lost")
                .with_retry_after(5)
            }
            _ => {
                tracing::error!(%error, "Agent request failed on a database error.");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    "the platform failed to process the request",
                )
                .with_action("retry later; if it persists, the platform's logs say why")
                .with_retry_after(30)
            }
        }
    }
}

impl From<StoreError> for ApiProblem {
    fn from(error: StoreError) -> Self {
        Self::from_store(&error)
    }
}

impl From<Box<Problem>> for ApiProblem {
    fn from(problem: Box<Problem>) -> Self {
        Self {
            problem,
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiProblem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self.problem).unwrap_or_else(|_| {
            br#"{"type":"about:blank","title":"Internal Server Error","status":500,"code":"internal"}"#.to_vec()
        });
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(self.problem.code.clone());
        response
    }
}
