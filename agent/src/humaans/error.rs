//! Everything that can go wrong talking to Humaans, each with a message a person can act on.

use std::path::PathBuf;
use std::time::Duration;

/// Which listing a paging error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    People,
    JobRoles,
}

impl Resource {
    /// The API path below the base URL, e.g. `/api/people`.
    pub fn path(self) -> &'static str {
        match self {
            Resource::People => "/api/people",
            Resource::JobRoles => "/api/job-roles",
        }
    }

    /// Human name used in messages and progress lines.
    pub fn label(self) -> &'static str {
        match self {
            Resource::People => "people",
            Resource::JobRoles => "job roles",
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// An error from the Humaans client. Callers match on it; [`HumaansError::is_retriable`]
/// says whether trying again later (the next scheduled run) may succeed.
///
/// No variant ever contains the API token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HumaansError {
    /// The client configuration is unusable.
    #[error("invalid Humaans configuration: {field}: {message}")]
    InvalidConfig {
        field: &'static str,
        message: String,
    },

    /// The extra CA certificate file could not be read or parsed.
    #[error(
        "cannot use the CA certificate file {}: {message}; it must be a readable PEM file \
         (-----BEGIN CERTIFICATE-----)",
        path.display()
    )]
    CaCertificate { path: PathBuf, message: String },

    /// 401: the token is wrong, expired or revoked.
    #[error(
        "the Humaans token was rejected (401) at {url}: it is wrong, expired or revoked; \
         create a new API access token in Humaans (menu > API access tokens > Generate new \
         token, with 'View public and private data') and update the agent's token file"
    )]
    Unauthorized { url: String },

    /// 403: the token lacks a scope (or its creator lacks a permission).
    #[error("{}", forbidden_message(url, scope.as_deref(), message))]
    Forbidden {
        url: String,
        /// The missing scope, when Humaans' message names one (e.g. `private:read`).
        scope: Option<String>,
        /// Humaans' own message, if the body had one.
        message: String,
    },

    /// 404 on an endpoint the agent needs: usually a wrong base URL.
    #[error(
        "Humaans answered 404 Not Found for {url}; check that base_url is the Humaans host \
         (e.g. https://app.humaans.io) without a trailing /api"
    )]
    NotFound { url: String },

    /// Another 4xx: the request itself is wrong; retrying will not help.
    #[error("Humaans refused the request {url} ({status}): {message}")]
    Rejected {
        url: String,
        status: u16,
        message: String,
    },

    /// 429: too many requests.
    #[error(
        "Humaans is rate limiting the agent (429) at {url}{}",
        retry_after.map(|d| format!(", asked to wait {}s", d.as_secs())).unwrap_or_default()
    )]
    RateLimited {
        url: String,
        retry_after: Option<Duration>,
    },

    /// 5xx: Humaans (or a proxy in front of it) failed.
    #[error("Humaans answered {status} for {url}: {snippet}")]
    Server {
        url: String,
        status: u16,
        snippet: String,
    },

    /// The request did not complete within the request timeout.
    #[error(
        "the request to {url} timed out; Humaans or the network is slow, or a proxy is holding \
         the connection"
    )]
    Timeout { url: String },

    /// No connection could be made.
    #[error(
        "cannot reach Humaans at {url}: {message}; check the network, DNS, firewall and proxy \
         settings (HTTPS_PROXY), and that base_url is right"
    )]
    Unreachable { url: String, message: String },

    /// Any other transport failure (connection reset mid-body, TLS failure, ...).
    #[error("the connection to {url} failed: {message}")]
    Transport { url: String, message: String },

    /// A redirect to another origin: not followed, so the token stays with Humaans.
    #[error(
        "{url} answered HTTP {status}, a redirect to {location}, another origin; the agent follows redirects only within base_url's origin: check base_url and any proxy in between"
    )]
    Redirected {
        url: String,
        status: u16,
        location: String,
    },

    /// An answer larger than any Humaans page.
    #[error(
        "the answer from {url} is larger than {limit} bytes, the most the agent reads from Humaans; check base_url and any proxy in between"
    )]
    TooLarge { url: String, limit: usize },

    /// The body was not the JSON we expected (truncated, HTML from a proxy, ...).
    #[error("Humaans sent an unreadable answer for {url}: {message}")]
    InvalidBody { url: String, message: String },

    /// A transient error persisted through every retry.
    #[error("gave up after {attempts} attempts over {}s: {last}", elapsed.as_secs())]
    RetriesExhausted {
        attempts: u32,
        elapsed: Duration,
        last: Box<HumaansError>,
    },

    /// `total` kept changing while the listing was read, even after a restart.
    #[error(
        "the {resource} listing changed while it was being read (total {first} then {now}), \
         also after a restart; someone is editing Humaans right now, the next run will retry"
    )]
    TotalChanged {
        resource: Resource,
        first: u64,
        now: u64,
    },

    /// Without a `total`, a page repeated records of earlier pages next to new ones: the
    /// order moved under the reader (edits, or a server that keeps no stable order).
    #[error(
        "the {resource} listing changed while it was being read (the page at offset {skip} \
         repeated {repeated} record(s) of earlier pages), also after a restart; someone is \
         editing Humaans right now or Humaans does not keep the listing's order, the next run \
         will retry"
    )]
    ListingShifted {
        resource: Resource,
        skip: u64,
        repeated: u64,
    },

    /// A page came back shorter than it must be, with an unchanged `total`.
    #[error(
        "the {resource} listing is truncated: the page at offset {skip} had {got} records \
         where {expected} were due (total {total})"
    )]
    TruncatedListing {
        resource: Resource,
        skip: u64,
        got: u64,
        expected: u64,
        total: u64,
    },

    /// The server would need more pages than the hard cap allows.
    #[error(
        "the {resource} listing does not end: more than {cap} pages ({detail}); stopped so a \
         misbehaving server cannot keep the agent busy forever"
    )]
    TooManyPages {
        resource: Resource,
        cap: u64,
        detail: String,
    },

    /// Too many records could not be parsed.
    #[error(
        "{bad} of {seen} {resource} records could not be read (first ids: {}); the Humaans \
         API may have changed: update the agent, and report the ids if it persists",
        sample_ids.join(", ")
    )]
    TooManyUnparsable {
        resource: Resource,
        bad: u64,
        seen: u64,
        sample_ids: Vec<String>,
    },
}

fn forbidden_message(url: &str, scope: Option<&str>, message: &str) -> String {
    let said = if message.is_empty() {
        String::new()
    } else {
        format!(" (Humaans says: {message})")
    };
    match scope {
        Some(scope) => format!(
            "the Humaans token is not allowed to read {url} (403): it lacks the scope \
             {scope}{said}; create a token with 'View public and private data' \
             (public:read and private:read), by a user whose role may see all people"
        ),
        None => format!(
            "the Humaans token is not allowed to read {url} (403){said}; create a token with \
             'View public and private data' (public:read and private:read), by a user whose \
             role may see all people"
        ),
    }
}

impl HumaansError {
    /// Whether the same request may succeed later without anyone changing anything:
    /// rate limits, 5xx, timeouts, connection failures, unreadable bodies, and listings
    /// that changed while being read. Auth, scope, configuration and 4xx errors are not.
    pub fn is_retriable(&self) -> bool {
        match self {
            HumaansError::RateLimited { .. }
            | HumaansError::Server { .. }
            | HumaansError::Timeout { .. }
            | HumaansError::Unreachable { .. }
            | HumaansError::Transport { .. }
            | HumaansError::InvalidBody { .. }
            | HumaansError::TotalChanged { .. }
            | HumaansError::ListingShifted { .. }
            | HumaansError::TruncatedListing { .. } => true,
            HumaansError::RetriesExhausted { last, .. } => last.is_retriable(),
            HumaansError::InvalidConfig { .. }
            | HumaansError::CaCertificate { .. }
            | HumaansError::Unauthorized { .. }
            | HumaansError::Forbidden { .. }
            | HumaansError::NotFound { .. }
            | HumaansError::Rejected { .. }
            | HumaansError::Redirected { .. }
            | HumaansError::TooLarge { .. }
            | HumaansError::TooManyPages { .. }
            | HumaansError::TooManyUnparsable { .. } => false,
        }
    }

    /// The innermost error (unwraps [`HumaansError::RetriesExhausted`]).
    pub fn root(&self) -> &HumaansError {
        match self {
            HumaansError::RetriesExhausted { last, .. } => last.root(),
            other => other,
        }
    }

    /// Whether the single HTTP request should be retried right away (with backoff).
    /// Listing-level problems are not retried per request.
    pub(crate) fn is_transient_request_error(&self) -> bool {
        matches!(
            self,
            HumaansError::RateLimited { .. }
                | HumaansError::Server { .. }
                | HumaansError::Timeout { .. }
                | HumaansError::Unreachable { .. }
                | HumaansError::Transport { .. }
                | HumaansError::InvalidBody { .. }
        )
    }
}

/// Finds a scope name such as `private:read` in a free-text message.
pub(crate) fn scope_in_message(message: &str) -> Option<String> {
    const SCOPES: [&str; 8] = [
        "public:read",
        "private:read",
        "private:write",
        "compensations:read",
        "compensations:write",
        "documents:read",
        "documents:write",
        "webhooks:manage",
    ];
    let lower = message.to_ascii_lowercase();
    SCOPES
        .iter()
        .find(|s| lower.contains(**s))
        .map(|s| (*s).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_found_in_messages() {
        let check = |msg: &str, want: Option<&str>| {
            assert_eq!(scope_in_message(msg).as_deref(), want, "{msg}");
        };
        check("Missing scope private:read", Some("private:read"));
        check("You need the PRIVATE:READ scope", Some("private:read"));
        check("Forbidden", None);
        check("requires compensations:read", Some("compensations:read"));
    }

    #[test]
    fn messages_are_actionable() {
        let e = HumaansError::Unauthorized {
            url: "https://app.humaans.io/api/me".into(),
        };
        let s = e.to_string();
        assert!(
            s.contains("401") && s.contains("create a new API access token"),
            "{s}"
        );
        let e = HumaansError::Forbidden {
            url: "https://x/api/people".into(),
            scope: Some("private:read".into()),
            message: "Missing scope private:read".into(),
        };
        let s = e.to_string();
        assert!(s.contains("lacks the scope private:read"), "{s}");
        assert!(!e.is_retriable());
        let e = HumaansError::RetriesExhausted {
            attempts: 6,
            elapsed: Duration::from_secs(30),
            last: Box::new(HumaansError::Timeout { url: "u".into() }),
        };
        assert!(e.is_retriable());
        assert!(matches!(e.root(), HumaansError::Timeout { .. }));
    }
}
