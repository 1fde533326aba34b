//! Everything that can go wrong talking to Entra ID and Microsoft Graph, each with a message
//! a person can act on. No variant ever contains the client secret or an access token.

use std::path::PathBuf;
use std::time::Duration;

/// What the token endpoint said was wrong with the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// AADSTS90002 / 900023 / 90013...: the tenant id is not a tenant.
    Tenant,
    /// AADSTS700016: no application with this client id in the tenant.
    ClientId,
    /// AADSTS7000215: wrong secret value (often the secret's id instead of its value).
    Secret,
    /// AADSTS7000222: the secret has expired.
    SecretExpired,
    /// Anything else the endpoint refused.
    Other,
}

impl TokenProblem {
    /// Classifies the `error` and `error_codes` of a token error body.
    pub fn classify(error: &str, codes: &[u64]) -> Self {
        let has = |wanted: &[u64]| codes.iter().any(|c| wanted.contains(c));
        if has(&[900023, 90002, 90013, 90023, 900021]) {
            Self::Tenant
        } else if has(&[700016, 700038]) {
            Self::ClientId
        } else if has(&[7000222]) {
            Self::SecretExpired
        } else if has(&[7000215, 7000216, 7000218]) || error == "invalid_client" {
            Self::Secret
        } else {
            Self::Other
        }
    }

    fn advice(self, tenant: &str, client: &str) -> String {
        match self {
            Self::Tenant => format!(
                "the tenant_id `{tenant}` is not a Microsoft Entra tenant; copy the Directory (tenant) ID from the app registration's Overview page"
            ),
            Self::ClientId => format!(
                "no application with client_id `{client}` exists in tenant `{tenant}`; copy the Application (client) ID from the app registration's Overview page (and check tenant_id is the tenant it was registered in)"
            ),
            Self::Secret => "the client secret is wrong; create a new secret under Certificates & secrets and put its Value (not its Secret ID) in the secret file".to_owned(),
            Self::SecretExpired => "the client secret has expired; create a new secret under Certificates & secrets and put its Value in the secret file".to_owned(),
            Self::Other => "check tenant_id, client_id and the client secret of the app registration".to_owned(),
        }
    }
}

/// An error from the Entra ID client. [`EntraError::is_retriable`] says whether the next
/// scheduled run may succeed; [`EntraError::is_config`] whether a person must fix the
/// configuration or the app registration first.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntraError {
    #[error("invalid Entra ID configuration: {field}: {message}")]
    InvalidConfig {
        field: &'static str,
        message: String,
    },

    #[error(
        "cannot use the CA certificate file {}: {message}; it must be a readable PEM file",
        path.display()
    )]
    CaCertificate { path: PathBuf, message: String },

    /// The token endpoint refused the credentials (400/401). Never retried.
    #[error("Entra ID refused to issue a token (HTTP {status}, {error}{}): {}", codes_text(codes), problem.advice(tenant, client))]
    TokenRefused {
        status: u16,
        problem: TokenProblem,
        tenant: String,
        client: String,
        /// The `error` member (`invalid_client`, `invalid_request`...).
        error: String,
        /// The `error_codes` member (AADSTS numbers).
        codes: Vec<u64>,
    },

    /// Graph answered 401 even with a fresh token.
    #[error(
        "Microsoft Graph rejected the access token (401) at {url}: {message}; check that the app registration is in tenant_id's tenant and that graph_url matches login_url's cloud"
    )]
    Unauthorized { url: String, message: String },

    /// Graph answered 403: a missing application permission (or no admin consent).
    #[error(
        "Microsoft Graph refused {url} (403 {code}): {message}; grant the application permission {permission} to the app registration (API permissions > Add a permission > Microsoft Graph > Application permissions) and click 'Grant admin consent'"
    )]
    Forbidden {
        url: String,
        code: String,
        message: String,
        /// The permission the request needs.
        permission: &'static str,
    },

    #[error("Microsoft Graph is throttling requests (429) at {url}{}", retry_after.map(|d| format!("; it asked to wait {} s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        url: String,
        retry_after: Option<Duration>,
    },

    #[error("Microsoft Graph failed with HTTP {status} at {url}: {message}")]
    Server {
        url: String,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },

    #[error("Microsoft Graph refused the request with HTTP {status} at {url}: {message}")]
    Rejected {
        url: String,
        status: u16,
        message: String,
    },

    #[error(
        "the request to {url} timed out; check the network path to Microsoft (proxy, firewall)"
    )]
    Timeout { url: String },

    #[error("cannot reach {url}: {message}; check DNS, the proxy and the firewall")]
    Unreachable { url: String, message: String },

    #[error("the request to {url} failed: {message}")]
    Transport { url: String, message: String },

    #[error("unexpected answer from {url}: {message}")]
    InvalidBody { url: String, message: String },

    /// A redirect to another origin: not followed, so neither the client secret nor the
    /// access token leaves the configured hosts.
    #[error(
        "{url} answered HTTP {status}, a redirect to {location}, another origin; the agent follows redirects only within login_url's and graph_url's own origin: check those settings and any proxy in between"
    )]
    Redirected {
        url: String,
        status: u16,
        location: String,
    },

    #[error(
        "the answer from {url} is larger than {limit} bytes, the most the agent reads from Microsoft; check graph_url and any proxy in between"
    )]
    TooLarge { url: String, limit: usize },

    #[error("{last} (gave up after {attempts} attempts over {} s)", elapsed.as_secs())]
    RetriesExhausted {
        attempts: u32,
        elapsed: Duration,
        last: Box<EntraError>,
    },

    #[error("Microsoft Graph kept sending @odata.nextLink after {pages} pages of {what}; stopped")]
    TooManyPages { what: &'static str, pages: u64 },

    #[error(
        "{bad} of {seen} user records could not be read (e.g. {}); the collection was stopped so that no partial snapshot is sent",
        sample_ids.join(", ")
    )]
    TooManyUnparsable {
        bad: u64,
        seen: u64,
        sample_ids: Vec<String>,
    },
}

fn codes_text(codes: &[u64]) -> String {
    if codes.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = codes.iter().map(|c| format!("AADSTS{c}")).collect();
        format!(" {}", list.join(", "))
    }
}

impl EntraError {
    /// Whether the next scheduled collection may succeed without anyone acting.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::Server { .. }
            | Self::Timeout { .. }
            | Self::Unreachable { .. }
            | Self::Transport { .. } => true,
            Self::RetriesExhausted { last, .. } => last.is_retriable(),
            _ => false,
        }
    }

    /// Whether a person must fix the configuration or the app registration.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            Self::InvalidConfig { .. }
                | Self::CaCertificate { .. }
                | Self::TokenRefused { .. }
                | Self::Forbidden { .. }
                | Self::Unauthorized { .. }
                | Self::Redirected { .. }
        )
    }

    /// Transient failures of one request, retried within the collection.
    pub(crate) fn is_transient_request_error(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Timeout { .. }
                | Self::Unreachable { .. }
                | Self::Transport { .. }
        )
    }

    /// The delay the server asked for.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}
