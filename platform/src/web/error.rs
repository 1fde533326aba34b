//! Errors of console requests, rendered as a small HTML page or as problem+json.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::reports::escape_html;
use crate::store::StoreError;

/// A console request that failed, with the status and the message the person reads.
#[derive(Debug)]
pub(crate) struct WebError {
    status: StatusCode,
    code: &'static str,
    message: String,
    json: bool,
    /// For the login redirect: the local page to return to after logging in.
    next: Option<String>,
}

impl WebError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            json: false,
            next: None,
        }
    }

    /// No valid session: HTML requests go to the login page, JSON ones get 401.
    pub(crate) fn login_required(json: bool) -> Self {
        Self {
            json,
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Log in first: no valid session cookie (sessions end after 12 hours or at logout).",
            )
        }
    }

    /// After logging in, return to `path_and_query` (a page that was asked for).
    pub(crate) fn returning_to(mut self, path_and_query: &str) -> Self {
        self.next = Some(path_and_query.to_owned());
        self
    }

    /// A report API request whose `Authorization` header is not a usable report token.
    pub(crate) fn invalid_token(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", message).json()
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// The admin role is needed.
    pub(crate) fn admin_only() -> Self {
        Self::forbidden("Only an admin can do this; your account is a viewer. Ask an admin.")
    }

    pub(crate) fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_token_invalid",
            "The form's security token is missing or out of date. Reload the page and try again.",
        )
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A service the platform depends on (the identity provider) failed.
    pub(crate) fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "bad_gateway", message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// An unexpected failure: logged in full, shown without internals.
    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "Console request failed.");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on the platform; the error is in its log. Try again, and tell the operator if it persists.",
        )
    }

    /// Render as problem+json instead of HTML.
    pub(crate) fn json(mut self) -> Self {
        self.json = true;
        self
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl From<StoreError> for WebError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { .. } => Self::not_found(error.to_string()),
            StoreError::InvalidState(message) => Self::conflict(message),
            other => Self::internal(other),
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(error: askama::Error) -> Self {
        Self::internal(format!("template: {error}"))
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if self.json {
            let body = serde_json::json!({
                "type": "about:blank",
                "title": self.status.canonical_reason().unwrap_or("error"),
                "status": self.status.as_u16(),
                "code": self.code,
                "detail": self.message,
            });
            let mut response = (self.status, Json(body)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(seatbroker_protocol::PROBLEM_JSON),
            );
            if self.status == StatusCode::UNAUTHORIZED {
                // The JSON API takes a session cookie or a report token.
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"seatbroker-reports\""),
                );
            }
            return response;
        }
        if self.status == StatusCode::UNAUTHORIZED {
            return match self.next.as_deref().and_then(super::login::safe_next) {
                Some(next) if next != "/" => {
                    Redirect::to(&super::href("/login", &[("next", next)])).into_response()
                }
                _ => Redirect::to("/login").into_response(),
            };
        }
        let title = self.status.canonical_reason().unwrap_or("Error");
        let page = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Seatbroker</title>\
             <link rel=\"stylesheet\" href=\"/static/console.css\"></head><body><main>\
             <h1>{title}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/\">Back to the console</a></p>\
             </main></body></html>",
            escape_html(&self.message)
        );
        (
            self.status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response()
    }
}
