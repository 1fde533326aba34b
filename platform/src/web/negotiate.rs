//! Content negotiation for pages that answer HTML or JSON: [`Format`] (`format.rs`) says
//! which the client wants, [`Page`] is the extractor a report handler takes (session, format and
//! query string), and every error is rendered in the client's format: problem+json for a
//! JSON client, an HTML page (or the login redirect) otherwise. The same shape as the agent
//! API's extractors in `api/extract.rs`.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

pub(crate) use super::format::Format;
use super::session::CurrentUser;
use super::{WebError, WebState};
use crate::auth::SessionUser;

/// A page request: the signed-in user (or, on `/api/v1/reports/*` with an `Authorization`
/// header, the report token's reader: see `bearer.rs`), the format the client wants and the parsed query
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
        let user = if super::bearer::wants_report_token(parts) {
            super::bearer::report_token_user(parts, state).await?
        } else {
            let CurrentUser(user) = CurrentUser::from_request_parts(parts, state)
                .await
                .map_err(|e| format.error(e))?;
            user
        };
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
