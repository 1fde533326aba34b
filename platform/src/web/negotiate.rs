//! Content negotiation for pages that answer HTML or JSON: [`Format`] says which the
//! client wants, [`Page`] is the extractor a report handler takes (session, format and
//! query string), and every error is rendered in the client's format: problem+json for a
//! JSON client, an HTML page (or the login redirect) otherwise. The same shape as the agent
//! API's extractors in `api/extract.rs`.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::session::CurrentUser;
use super::{WebError, WebState};
use crate::auth::SessionUser;

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

/// A page request: the signed-in user, the format the client wants and the parsed query
/// string. Rejections (no session, a query string that does not parse) come in that format.
#[derive(Debug)]
pub(crate) struct Page<Q> {
    pub(crate) user: SessionUser,
    pub(crate) format: Format,
    pub(crate) query: Q,
}

impl<Q: DeserializeOwned + Send> FromRequestParts<WebState> for Page<Q> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        let format = Format::of(&parts.headers, parts.uri.path());
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state)
            .await
            .map_err(|e| format.error(e))?;
        let Query(query) = Query::<Q>::from_request_parts(parts, state)
            .await
            .map_err(|e| format.error(WebError::bad_request(format!("Bad query string: {e}"))))?;
        Ok(Self {
            user,
            format,
            query,
        })
    }
}

/// The query of a page that takes none (unknown parameters are ignored, as everywhere).
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct NoQuery {}
