//! Report tokens on the report API: `Authorization: Bearer sbr_...` is accepted on
//! `/api/v1/reports/*` and nowhere else. A valid token reads like a viewer without a
//! session (no CSRF token, so it can submit no form); the console's session cookie keeps
//! working on the same URLs.
//!
//! Architecture Invariant: only [`super::negotiate::Page`] calls [`report_token_user`], and
//! only for paths under [`REPORT_API_PREFIX`]; actions (`AdminForm`, `UserForm`) and the agent
//! API never look at report tokens.

use axum::http::header;
use axum::http::request::Parts;

use super::{WebError, WebState};
use crate::auth::{Role, SessionUser};

/// The URLs a report token may read.
pub(crate) const REPORT_API_PREFIX: &str = "/api/v1/reports/";

/// Whether the request should be authenticated by a report token: a report API path with
/// an `Authorization` header.
pub(crate) fn wants_report_token(parts: &Parts) -> bool {
    parts.uri.path().starts_with(REPORT_API_PREFIX)
        && parts.headers.contains_key(header::AUTHORIZATION)
}

/// The reader behind `Authorization: Bearer <report token>`, as a session-less viewer whose
/// user id is `report_token:<id>` and name `token:<name>`. Anything else is a 401
/// problem that says what to send.
pub(crate) async fn report_token_user(
    parts: &Parts,
    state: &WebState,
) -> Result<SessionUser, WebError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(WebError::invalid_token(
                "The Authorization header must be `Bearer <report token>`; create a report token on the console's Report tokens page.",
            ));
        }
    };
    let record = state
        .store
        .use_report_token(token)
        .await
        .map_err(|e| WebError::from(e).json())?;
    let Some(record) = record else {
        return Err(WebError::invalid_token(
            "The report token is unknown, expired or revoked; an admin can create a new one on the console's Report tokens page.",
        ));
    };
    Ok(SessionUser {
        user_id: format!("report_token:{}", record.id),
        username: format!("token:{}", record.name),
        role: Role::Viewer,
        csrf: String::new(),
        session_hash: String::new(),
        // A token reads reports; it has no navigation to put a badge in.
        pending_approvals: 0,
    })
}
