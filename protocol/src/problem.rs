use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// An RFC 9457 problem details body (`application/problem+json`), the body of every error
/// response. `code` is the stable, machine-readable part; `title` and `detail` are for
/// people and may change wording between versions.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` unless a code has its own page.
    #[serde(rename = "type", default = "about_blank")]
    pub type_uri: String,
    /// Short, human-readable summary of the problem type.
    #[serde(default)]
    pub title: String,
    /// The HTTP status code, repeated for convenience.
    #[serde(default)]
    pub status: u16,
    /// What happened in this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Stable machine-readable error code.
    pub code: ErrorCode,
    /// What the reader should do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Protocol versions the platform supports (version-negotiation problems only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported: Option<VersionRange>,
    /// Members this version does not know, kept so nothing is lost when relaying a problem.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub extensions: BTreeMap<String, serde_json::Value>,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

/// An inclusive range of protocol versions.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRange {
    pub min: u32,
    pub max: u32,
}

impl Problem {
    /// A problem with the given status, code and detail; `title` is the status reason.
    pub fn new(status: u16, code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            type_uri: about_blank(),
            title: status_title(status).to_owned(),
            status,
            detail: Some(detail.into()),
            instance: None,
            code,
            action: None,
            supported: None,
            extensions: BTreeMap::new(),
        }
    }

    pub fn with_action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, HTTP {})", self.title, self.code, self.status)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(action) = &self.action {
            write!(f, "; {action}")?;
        }
        Ok(())
    }
}

fn status_title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}
