//! Settings of the Entra ID client and their validation.

use std::path::PathBuf;
use std::time::Duration;

use seatbroker_protocol::Secret;

use super::error::EntraError;
use crate::humaans::{RetryPolicy, UnparsableThreshold};

/// Graph's page cap when `signInActivity` is selected.
pub const PAGE_WITH_ACTIVITY: u32 = 120;
/// Graph's largest `$top` for users otherwise.
pub const PAGE_WITHOUT_ACTIVITY: u32 = 999;

/// How the client talks to Entra ID and Graph. [`EntraConfig::new`] gives the defaults;
/// [`EntraClient::new`](super::EntraClient::new) validates it.
#[derive(Debug, Clone)]
pub struct EntraConfig {
    /// Directory (tenant) id or a verified domain.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Never logged.
    pub client_secret: Secret,
    /// Login host, e.g. `https://login.microsoftonline.com`.
    pub login_url: String,
    /// Graph host, e.g. `https://graph.microsoft.com`.
    pub graph_url: String,
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// Whole request including the body. Default 60 s.
    pub request_timeout: Duration,
    /// An extra CA certificate (PEM) to trust besides the system roots.
    pub ca_certificate: Option<PathBuf>,
    /// Allow plain `http://` to a host that is not loopback. Off by default.
    pub allow_insecure_http: bool,
    pub retry: RetryPolicy,
    /// Hard cap on pages per listing. Default 10,000 (1.2 million users at 120 a page).
    pub max_pages: u64,
    pub unparsable: UnparsableThreshold,
    /// A token is renewed when less than this is left of its life. Default 5 minutes.
    pub token_refresh_margin: Duration,
    /// The largest answer read from the token endpoint or Graph; a larger one fails the
    /// request. Default 64 MiB (a page of 999 users with sign-in activity is a few MiB).
    pub max_body_bytes: usize,
}

impl EntraConfig {
    /// Defaults for everything but the tenant, the client and its secret.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            client_secret,
            login_url: crate::config::DEFAULT_LOGIN_URL.to_owned(),
            graph_url: crate::config::DEFAULT_GRAPH_URL.to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            ca_certificate: None,
            allow_insecure_http: false,
            retry: RetryPolicy::default(),
            max_pages: 10_000,
            unparsable: UnparsableThreshold::default(),
            token_refresh_margin: Duration::from_secs(300),
            max_body_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Checks a host URL (https, or http to loopback or when allowed; no path beyond `/`, no
/// query, no credentials) and returns it without a trailing `/`.
pub(crate) fn validate_host_url(
    field: &'static str,
    raw: &str,
    allow_insecure_http: bool,
) -> Result<String, EntraError> {
    let bad = |message: String| EntraError::InvalidConfig { field, message };
    let trimmed = raw.trim().trim_end_matches('/');
    let url =
        reqwest::Url::parse(trimmed).map_err(|e| bad(format!("{trimmed:?} is not a URL ({e})")))?;
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(bad(format!(
            "{trimmed:?} must not have a query, fragment or credentials"
        )));
    }
    let loopback = url
        .host_str()
        .is_some_and(|_| crate::config::is_loopback(&url));
    match url.scheme() {
        "https" => {}
        "http" if loopback || allow_insecure_http => {}
        "http" => {
            return Err(bad(format!(
                "{trimmed:?} uses plain http to a host that is not this machine; use https"
            )));
        }
        other => return Err(bad(format!("{trimmed:?} has scheme {other:?}; use https"))),
    }
    Ok(trimmed.to_owned())
}
