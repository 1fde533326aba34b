//! The configuration file's shape. Every struct rejects unknown keys, and every optional key
//! has the default the README documents.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use seatbroker_protocol::{LicencePolicy, UsagePolicy};
use serde::Deserialize;

use super::secret::SecretRef;
use super::units::{ByteSize, Fraction, HumanDuration};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub platform: PlatformConfig,
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub spool: SpoolConfig,
    #[serde(default)]
    pub logging: LoggingConfig,
}

/// `platform:`: where the agent uploads, and how it enrolls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformConfig {
    /// Base URL of the platform, e.g. `https://seatbroker.example.com`.
    pub url: String,
    /// PEM file with the CA certificate(s) of a private platform CA, trusted in addition to
    /// the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// File holding the enrollment token.
    #[serde(default)]
    pub enrollment_token_file: Option<PathBuf>,
    /// Environment variable holding the enrollment token.
    #[serde(default)]
    pub enrollment_token_env: Option<String>,
    /// systemd credential (`$CREDENTIALS_DIRECTORY/<name>`) holding the enrollment token.
    #[serde(default)]
    pub enrollment_token_credential: Option<String>,
    /// Allow plain `http://` to a host that is not loopback. Off by default: the credential
    /// and the data would travel in clear text.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

impl PlatformConfig {
    /// Where the enrollment token comes from, if configured.
    pub fn enrollment_token(&self) -> Option<SecretRef> {
        SecretRef::from_parts(
            self.enrollment_token_file.clone(),
            self.enrollment_token_env.clone(),
            self.enrollment_token_credential.clone(),
        )
    }
}

/// Kind of a data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKindConfig {
    /// People and seat states from Humaans.
    Humaans,
    /// Microsoft 365 licences and sign-in activity from Microsoft Entra ID (Graph).
    EntraId,
    /// Application seats from CSV files.
    SeatList,
}

impl SourceKindConfig {
    /// The wire kind.
    pub fn wire(self) -> seatbroker_protocol::SourceKind {
        match self {
            Self::Humaans => seatbroker_protocol::SourceKind::Humaans,
            Self::EntraId => seatbroker_protocol::SourceKind::EntraId,
            Self::SeatList => seatbroker_protocol::SourceKind::SeatList,
        }
    }

    /// Whether the source reads application licences (schema-2 snapshots).
    pub fn is_app(self) -> bool {
        !matches!(self, Self::Humaans)
    }

    /// How people read the kind: `Humaans`, `Entra ID`, `seat list`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Humaans => "Humaans",
            Self::EntraId => "Entra ID",
            Self::SeatList => "seat list",
        }
    }
}

/// One entry of `sources:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name of the source in this agent: 1 to 64 characters from `A-Z a-z 0-9 _ -`.
    pub name: String,
    pub kind: SourceKindConfig,
    #[serde(default = "default_humaans_url")]
    pub base_url: String,
    /// File holding the Humaans API token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the Humaans API token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// systemd credential name holding the Humaans API token.
    #[serde(default)]
    pub token_credential: Option<String>,
    /// How often to collect.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// Random spread added to each interval, as a fraction of it (0% to 50%).
    #[serde(default = "default_jitter")]
    pub jitter: Fraction,
    /// Most Humaans requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub pseudonymize: Option<PseudonymizeConfig>,
    /// `entra_id`: the directory (tenant) id or a verified domain.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// `entra_id`: the application (client) id of the app registration.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `entra_id`: file holding the client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// `entra_id`: environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// `entra_id`: systemd credential name holding the client secret.
    #[serde(default)]
    pub client_secret_credential: Option<String>,
    /// `entra_id`: the login host (default `https://login.microsoftonline.com`).
    #[serde(default)]
    pub login_url: Option<String>,
    /// `entra_id`: the Graph host (default `https://graph.microsoft.com`).
    #[serde(default)]
    pub graph_url: Option<String>,
    /// `seat_list`: a CSV file, or a folder whose `*.csv` files are read.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `seat_list`: seats purchased per licence name (or application name, for an
    /// application's single seat type).
    #[serde(default)]
    pub purchased: BTreeMap<String, u64>,
}

impl SourceConfig {
    /// Where the Humaans token comes from. Validation guarantees exactly one is set.
    pub fn token(&self) -> Option<SecretRef> {
        SecretRef::from_parts(
            self.token_file.clone(),
            self.token_env.clone(),
            self.token_credential.clone(),
        )
    }

    pub fn interval(&self) -> Duration {
        self.interval.0
    }

    /// Where the Entra ID client secret comes from. Validation guarantees exactly one is set
    /// for an `entra_id` source.
    pub fn client_secret(&self) -> Option<SecretRef> {
        SecretRef::from_parts(
            self.client_secret_file.clone(),
            self.client_secret_env.clone(),
            self.client_secret_credential.clone(),
        )
    }

    /// The Entra ID login host, without a trailing `/`.
    pub fn login_url(&self) -> String {
        self.login_url
            .as_deref()
            .unwrap_or(DEFAULT_LOGIN_URL)
            .trim()
            .trim_end_matches('/')
            .to_owned()
    }

    /// The Microsoft Graph host, without a trailing `/`.
    pub fn graph_url(&self) -> String {
        self.graph_url
            .as_deref()
            .unwrap_or(DEFAULT_GRAPH_URL)
            .trim()
            .trim_end_matches('/')
            .to_owned()
    }
}

/// Default `login_url` of an `entra_id` source.
pub(crate) const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// Default `graph_url` of an `entra_id` source.
pub(crate) const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";

/// `policy:` of a source: the seat-state rules (DESIGN.md §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    pub leaving_window_days: u32,
    pub unverified_grace_days: u32,
    pub never_verified_rule: bool,
    pub leavers_lookback_days: u32,
    pub upcoming_start_days: u32,
    /// App sources: a licence whose last use is older is `idle` (default 30).
    pub idle_after_days: u32,
    /// App sources: a never-used licence is `in_use` this long after assignment (default 14).
    pub never_used_grace_days: u32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self::from(&UsagePolicy::default())
    }
}

impl PolicyConfig {
    /// The licence rules of an app source.
    pub fn licence_policy(&self) -> LicencePolicy {
        LicencePolicy {
            idle_after_days: self.idle_after_days,
            never_used_grace_days: self.never_used_grace_days,
        }
    }
}

impl From<&UsagePolicy> for PolicyConfig {
    fn from(p: &UsagePolicy) -> Self {
        Self {
            leaving_window_days: p.leaving_window_days,
            unverified_grace_days: p.unverified_grace_days,
            never_verified_rule: p.never_verified_rule,
            leavers_lookback_days: p.leavers_lookback_days,
            upcoming_start_days: p.upcoming_start_days,
            idle_after_days: LicencePolicy::default().idle_after_days,
            never_used_grace_days: LicencePolicy::default().never_used_grace_days,
        }
    }
}

impl PolicyConfig {
    pub fn to_policy(&self) -> UsagePolicy {
        UsagePolicy {
            leaving_window_days: self.leaving_window_days,
            unverified_grace_days: self.unverified_grace_days,
            never_verified_rule: self.never_verified_rule,
            leavers_lookback_days: self.leavers_lookback_days,
            upcoming_start_days: self.upcoming_start_days,
        }
    }
}

/// `pseudonymize:` of a source: replace names and work emails with keyed hashes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PseudonymizeConfig {
    /// File holding the secret key (at least 16 bytes; 32 random bytes recommended).
    pub key_file: PathBuf,
}

/// `spool:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Most bytes the spool keeps before it drops old snapshots (the newest of each source
    /// always stays).
    #[serde(default = "default_spool_bytes")]
    pub max_bytes: ByteSize,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            max_bytes: default_spool_bytes(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `logging:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    #[serde(default)]
    pub format: LogFormat,
    /// Days of log files to keep.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// A tracing filter: `info`, `debug`, `seatbroker_agent=debug,info`...
    #[serde(default = "default_level")]
    pub level: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            retention_days: default_retention(),
            level: default_level(),
        }
    }
}

fn default_humaans_url() -> String {
    crate::humaans::DEFAULT_BASE_URL.to_owned()
}
fn default_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(6 * 3600))
}
fn default_jitter() -> Fraction {
    Fraction(0.1)
}
fn default_concurrency() -> usize {
    crate::humaans::DEFAULT_CONCURRENCY
}
fn default_spool_bytes() -> ByteSize {
    ByteSize(256 << 20)
}
fn default_retention() -> u32 {
    14
}
fn default_level() -> String {
    "info".to_owned()
}
