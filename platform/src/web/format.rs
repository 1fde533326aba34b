//! Which format a console client wants: HTML, or JSON (any `/api/` path, or `Accept:
//! application/json`), and how errors are rendered for it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::WebError;

/// What a page answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Html,
    /// Paths under `/api/` always; other pages when `Accept` names `application/json`.
    Json,
}

impl Format {
    pub(crate) fn of(headers: &HeaderMap, path: &str) -> Self {
        let accepts_json = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        if path.starts_with("/api/") || accepts_json {
            Self::Json
        } else {
            Self::Html
        }
    }

    /// `error` as this client should see it.
    pub(crate) fn error(self, error: WebError) -> WebError {
        match self {
            Self::Json => error.json(),
            Self::Html => error,
        }
    }

    /// A handler's result, any error rendered for this client.
    pub(crate) fn respond(self, result: Result<Response, WebError>) -> Response {
        match result {
            Ok(response) => response,
            Err(error) => self.error(error).into_response(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.headers, parts.uri.path()))
    }
}
