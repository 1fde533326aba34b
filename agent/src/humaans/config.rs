//! Settings of the Humaans client and their validation.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use seatbroker_protocol::Secret;

use super::error::HumaansError;

/// The largest `$limit` Humaans is believed to accept (reference notes §2, unconfirmed).
pub(crate) const MAX_PAGE_SIZE: u32 = 250;

/// The Humaans host when a source or `collect --dry-run` names none.
pub(crate) const DEFAULT_BASE_URL: &str = "https://app.humaans.io";

/// Pages fetched at the same time when a source or `collect --dry-run` says nothing.
pub(crate) const DEFAULT_CONCURRENCY: usize = 4;

/// How the client talks to Humaans. Build it with [`HumaansConfig::new`] and adjust fields;
/// [`HumaansClient::new`](super::HumaansClient::new) validates it.
#[derive(Debug, Clone)]
pub struct HumaansConfig {
    /// Scheme and host, e.g. `https://app.humaans.io`. The client appends `/api/...`.
    pub base_url: String,
    /// The API access token. Never logged.
    pub token: Secret,
    /// `$limit` per page; clamped to 1..=250. Default 250.
    pub page_size: u32,
    /// Pages fetched at the same time after the first. Default 4; at least 1.
    pub concurrency: usize,
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// Whole request including the body. Default 60 s.
    pub request_timeout: Duration,
    /// An extra CA certificate (PEM, may hold several) to trust besides the system roots,
    /// for TLS-inspecting proxies with a private CA.
    pub ca_certificate: Option<PathBuf>,
    /// Allow plain `http://` to a host that is not loopback. Off by default.
    pub allow_insecure_http: bool,
    pub retry: RetryPolicy,
    /// Hard cap on pages per listing, whatever the server says. Default 20,000.
    pub max_pages: u64,
    pub unparsable: UnparsableThreshold,
}

/// Retries of one request on transient errors (429, 5xx, timeouts, connection errors,
/// unreadable bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included. Default 6.
    pub max_attempts: u32,
    /// No new attempt starts after this much time spent waiting between attempts.
    /// Default 10 minutes.
    pub max_elapsed: Duration,
    /// First backoff delay (doubled each time, with jitter). Default 500 ms.
    pub min_delay: Duration,
    /// Largest backoff delay. Default 30 s.
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is cut to it. Default 5 minutes.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            max_elapsed: Duration::from_secs(600),
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// When unparsable records fail the run: only when there are more than `max_count` of them
/// AND they are more than `max_fraction` of all records. Default: > 10 and > 1 %.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnparsableThreshold {
    pub max_count: u64,
    pub max_fraction: f64,
}

impl Default for UnparsableThreshold {
    fn default() -> Self {
        Self {
            max_count: 10,
            max_fraction: 0.01,
        }
    }
}

impl UnparsableThreshold {
    pub(crate) fn exceeded(&self, bad: u64, seen: u64) -> bool {
        bad > self.max_count && (bad as f64) > self.max_fraction * seen as f64
    }
}

impl HumaansConfig {
    /// Defaults for everything but the URL and the token.
    pub fn new(base_url: impl Into<String>, token: Secret) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            page_size: MAX_PAGE_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            ca_certificate: None,
            allow_insecure_http: false,
            retry: RetryPolicy::default(),
            max_pages: 20_000,
            unparsable: UnparsableThreshold::default(),
        }
    }

    /// The page size actually requested (1..=250).
    pub fn effective_page_size(&self) -> u32 {
        self.page_size.clamp(1, MAX_PAGE_SIZE)
    }
}

/// Checks `base_url` and returns it normalised (no trailing `/`).
pub(crate) fn validate_base_url(
    raw: &str,
    allow_insecure_http: bool,
) -> Result<String, HumaansError> {
    let bad = |message: String| HumaansError::InvalidConfig {
        field: "base_url",
        message,
    };
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Err(bad(
            "is empty; set it to the Humaans host, e.g. https://app.humaans.io".into(),
        ));
    }
    let url = reqwest::Url::parse(trimmed).map_err(|e| {
        bad(format!(
            "{trimmed:?} is not a URL ({e}); use e.g. https://app.humaans.io"
        ))
    })?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(format!(
            "{trimmed:?} must not have a query or fragment; use e.g. https://app.humaans.io"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not contain credentials; put the token in the token file".into(),
        ));
    }
    let path = url.path().trim_end_matches('/');
    if path == "/api" || path.ends_with("/api") {
        return Err(bad(format!(
            "{trimmed:?} ends with /api; give the host only (e.g. https://app.humaans.io): \
             the agent adds /api/... itself"
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| bad(format!("{trimmed:?} has no host")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(host) || allow_insecure_http => {}
        "http" => {
            return Err(bad(format!(
                "{trimmed:?} uses plain http to a host that is not loopback; the token would \
                 travel unencrypted. Use https (Humaans only serves https), or set \
                 allow_insecure_http for a test server"
            )));
        }
        other => {
            return Err(bad(format!(
                "{trimmed:?} has scheme {other:?}; use https://"
            )));
        }
    }
    Ok(trimmed.to_owned())
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let check = |raw: &str, insecure: bool, want: Result<&str, &str>| {
            let got = validate_base_url(raw, insecure);
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{raw}"),
                (Err(e), Err(part)) => {
                    let s = e.to_string();
                    assert!(s.contains(part), "{raw}: {s}");
                }
                (got, want) => panic!("{raw}: got {got:?}, want {want:?}"),
            }
        };
        check(
            "https://app.humaans.io",
            false,
            Ok("https://app.humaans.io"),
        );
        check(
            "https://app.humaans.io/",
            false,
            Ok("https://app.humaans.io"),
        );
        check("https://app.humaans.io/api", false, Err("ends with /api"));
        check("https://app.humaans.io/api/", false, Err("ends with /api"));
        check("http://127.0.0.1:8080", false, Ok("http://127.0.0.1:8080"));
        check("http://localhost:1", false, Ok("http://localhost:1"));
        check("http://[::1]:1", false, Ok("http://[::1]:1"));
        check("http://humaans.internal", false, Err("plain http"));
        check(
            "http://humaans.internal",
            true,
            Ok("http://humaans.internal"),
        );
        check("ftp://x", false, Err("scheme"));
        check("app.humaans.io", false, Err("not a URL"));
        check("", false, Err("is empty"));
        check("https://u:p@app.humaans.io", false, Err("credentials"));
        check("https://app.humaans.io?x=1", false, Err("query"));
    }

    #[test]
    fn threshold() {
        let t = UnparsableThreshold::default();
        assert!(!t.exceeded(10, 10));
        assert!(!t.exceeded(11, 10_000));
        assert!(t.exceeded(11, 1_000));
        assert!(!t.exceeded(0, 0));
    }
}
