//! Error responses in the Feathers shape Humaans most likely uses:
//! `{"name":"NotAuthenticated","message":"...","code":401,"className":"not-authenticated"}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    name: &'static str,
    class_name: &'static str,
    message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    name: &'a str,
    message: &'a str,
    code: u16,
    class_name: &'a str,
}

impl ApiError {
    pub(crate) fn not_authenticated(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "NotAuthenticated",
            "not-authenticated",
            message,
        )
    }
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", "forbidden", message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", "not-found", message)
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "bad-request",
            message,
        )
    }
    pub(crate) fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "method-not-allowed",
            message,
        )
    }
    pub(crate) fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "too-many-requests",
            message,
        )
    }

    fn new(
        status: StatusCode,
        name: &'static str,
        class_name: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            name,
            class_name,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&Body {
            name: self.name,
            message: &self.message,
            code: self.status.as_u16(),
            class_name: self.class_name,
        })
        .expect("error bodies are plain strings");
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        response
    }
}
