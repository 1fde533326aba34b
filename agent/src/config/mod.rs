//! The agent's configuration: one YAML file, read with `serde_norway`, every struct
//! rejecting unknown keys. Errors name the file, the line, the column and the key path, so a
//! person can go straight to the mistake.

mod locate;
mod model;
mod secret;
mod units;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

pub use model::{Config, SourceConfig, SourceKindConfig};
pub(crate) use model::{
    DEFAULT_GRAPH_URL, DEFAULT_LOGIN_URL, LogFormat, LoggingConfig, PlatformConfig,
};
pub use secret::SecretRef;
pub(crate) use secret::{SecretError, loose_permissions};

/// A configuration that cannot be used. Its `Display` is the whole message a person reads:
/// `FILE:LINE:COLUMN: KEY: what is wrong`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {}: {source}; pass the right file with --config", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", Located { path, line: *line, column: *column, key, message })]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
        /// Dotted key path, e.g. `sources[0].interval`; empty for the whole file.
        key: String,
        message: String,
    },
}

struct Located<'a> {
    path: &'a Path,
    line: Option<usize>,
    column: Option<usize>,
    key: &'a str,
    message: &'a str,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl Config {
    /// Reads, parses and validates the configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let deserializer = serde_norway::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let key = error.path().to_string();
            let inner = error.into_inner();
            let syntax = key == "?";
            let key = if key == "." || syntax {
                String::new()
            } else {
                key
            };
            // serde_norway places errors raised by a value's own parser at the start of the
            // enclosing mapping; the key's own line is more useful then.
            let reported = inner.location().map(|l| (l.line(), l.column()));
            let (line, column) = match (reported, locate::find(text, &key)) {
                (Some(at), Some(key_at)) if at.0 < key_at.0 => (Some(key_at.0), Some(key_at.1)),
                (Some(at), _) => (Some(at.0), Some(at.1)),
                (None, key_at) => key_at.unzip(),
            };
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                key,
                message: if syntax {
                    format!("not valid YAML: {}", strip_location(&inner.to_string()))
                } else {
                    strip_location(&inner.to_string())
                },
            }
        })?;
        config.validate(text, path)?;
        Ok(config)
    }

    /// The source named `name`.
    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }

    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let fail = |key: String, message: String| {
            let (line, column) = locate::find(text, &key).unzip();
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                key,
                message,
            }
        };
        check_url(
            &self.platform.url,
            self.platform.allow_insecure_http,
            "platform.url",
        )
        .map_err(|m| fail("platform.url".into(), m))?;
        let token_keys = [
            self.platform.enrollment_token_file.is_some(),
            self.platform.enrollment_token_env.is_some(),
            self.platform.enrollment_token_credential.is_some(),
        ];
        if token_keys.iter().filter(|set| **set).count() > 1 {
            return Err(fail(
                "platform".into(),
                "set only one of enrollment_token_file, enrollment_token_env and enrollment_token_credential".into(),
            ));
        }
        if self.sources.is_empty() {
            return Err(fail(
                "sources".into(),
                "no source configured; add at least one source (humaans, entra_id or seat_list)"
                    .into(),
            ));
        }
        let mut names = HashSet::new();
        for (index, source) in self.sources.iter().enumerate() {
            let key = |field: &str| match field {
                "" => format!("sources[{index}]"),
                field => format!("sources[{index}].{field}"),
            };
            if !seatbroker_protocol::is_valid_id(&source.name) {
                return Err(fail(
                    key("name"),
                    format!(
                        "`{}` is not a valid source name; use 1 to 64 characters from A-Z, a-z, 0-9, `_` and `-`",
                        source.name
                    ),
                ));
            }
            if !names.insert(source.name.as_str()) {
                return Err(fail(
                    key("name"),
                    format!(
                        "the source name `{}` is used twice; give every source its own name",
                        source.name
                    ),
                ));
            }
            if let Some((field, message)) = kind_mismatch(text, index, source.kind) {
                return Err(fail(key(&field), message));
            }
            match source.kind {
                SourceKindConfig::Humaans => {
                    validate_humaans(source).map_err(|(field, m)| fail(key(field), m))?
                }
                SourceKindConfig::EntraId => {
                    validate_entra(source).map_err(|(field, m)| fail(key(field), m))?
                }
                SourceKindConfig::SeatList => {
                    if source
                        .path
                        .as_ref()
                        .is_none_or(|p| p.as_os_str().is_empty())
                    {
                        return Err(fail(
                            format!("sources[{index}]"),
                            "a seat_list source needs `path`: a CSV file, or a folder of *.csv files".into(),
                        ));
                    }
                }
            }
            if source.interval.0.as_secs() > 366 * 24 * 3600 {
                return Err(fail(
                    key("interval"),
                    format!(
                        "{} is too long; collect at least once a year (e.g. `6h`)",
                        source.interval
                    ),
                ));
            }
            if source.interval.0.as_secs() < 60 {
                return Err(fail(
                    key("interval"),
                    format!(
                        "{} is too short; collect at most once a minute (e.g. `6h`)",
                        source.interval
                    ),
                ));
            }
            if !(1..=32).contains(&source.concurrency) {
                return Err(fail(
                    key("concurrency"),
                    format!("{} is out of range; use 1 to 32", source.concurrency),
                ));
            }
            let policy_check = if source.kind.is_app() {
                source.policy.licence_policy().validate()
            } else {
                source.policy.to_policy().validate()
            };
            if let Err(error) = policy_check {
                return Err(fail(
                    key(&format!("policy.{}", error.field)),
                    format!("{} {}", error.value, error.reason),
                ));
            }
        }
        if !(1..=3650).contains(&self.logging.retention_days) {
            return Err(fail(
                "logging.retention_days".into(),
                format!(
                    "{} is out of range; keep logs 1 to 3650 days",
                    self.logging.retention_days
                ),
            ));
        }
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&self.logging.level) {
            return Err(fail(
                "logging.level".into(),
                format!(
                    "`{}` is not a log level or filter ({error}); use error, warn, info, debug or trace",
                    self.logging.level
                ),
            ));
        }
        if self.spool.max_bytes.0 < 1 << 20 {
            return Err(fail(
                "spool.max_bytes".into(),
                format!(
                    "{} bytes is too small; give the spool at least 1 MiB",
                    self.spool.max_bytes.0
                ),
            ));
        }
        Ok(())
    }
}

/// The checks of a `humaans` source; the error names the field (empty: the source).
fn validate_humaans(source: &SourceConfig) -> Result<(), (&'static str, String)> {
    check_url(&source.base_url, false, "base_url").map_err(|m| ("base_url", m))?;
    // The Humaans client's own rules (no `/api` suffix, no query, no credentials in
    // the URL), so that `check --offline` catches what every collection would reject.
    if let Err(crate::humaans::HumaansError::InvalidConfig { message, .. }) =
        crate::humaans::config::validate_base_url(&source.base_url, false)
    {
        return Err(("base_url", message));
    }
    let set = [
        source.token_file.is_some(),
        source.token_env.is_some(),
        source.token_credential.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if set != 1 {
        return Err((
                    "",
                    "set exactly one of token_file, token_env and token_credential for the Humaans API token".into(),
                ));
    }
    Ok(())
}

/// The checks of an `entra_id` source; the error names the field (empty: the source).
fn validate_entra(source: &SourceConfig) -> Result<(), (&'static str, String)> {
    let tenant = source.tenant_id.as_deref().unwrap_or("").trim();
    if tenant.is_empty() {
        return Err((
            "",
            "an entra_id source needs `tenant_id`: the Directory (tenant) ID shown on the app registration's Overview page".into(),
        ));
    }
    if !tenant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err((
            "tenant_id",
            format!(
                "`{tenant}` is not a tenant id; use the Directory (tenant) ID, a GUID such as 6f1c2a9e-3b7d-4c1e-9a55-0d2f8e4b7c31"
            ),
        ));
    }
    if source.client_id.as_deref().unwrap_or("").trim().is_empty() {
        return Err((
            "",
            "an entra_id source needs `client_id`: the Application (client) ID shown on the app registration's Overview page".into(),
        ));
    }
    let secrets = [
        source.client_secret_file.is_some(),
        source.client_secret_env.is_some(),
        source.client_secret_credential.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if secrets != 1 {
        return Err((
            "",
            "set exactly one of client_secret_file, client_secret_env and client_secret_credential for the Entra ID client secret".into(),
        ));
    }
    for (field, url) in [
        ("login_url", source.login_url()),
        ("graph_url", source.graph_url()),
    ] {
        check_url(&url, false, field).map_err(|m| (field, m))?;
        let parsed = reqwest::Url::parse(&url).map_err(|e| (field, e.to_string()))?;
        if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty()
        {
            return Err((
                field,
                format!(
                    "`{url}` must be a plain host URL without query, fragment or credentials, e.g. https://graph.microsoft.com"
                ),
            ));
        }
    }
    Ok(())
}

/// Keys that belong to another kind of source, in the order they are checked.
const HUMAANS_KEYS: &[&str] = &[
    "base_url",
    "token_file",
    "token_env",
    "token_credential",
    "policy.leaving_window_days",
    "policy.unverified_grace_days",
    "policy.never_verified_rule",
    "policy.leavers_lookback_days",
    "policy.upcoming_start_days",
];
const ENTRA_KEYS: &[&str] = &[
    "tenant_id",
    "client_id",
    "client_secret_file",
    "client_secret_env",
    "client_secret_credential",
    "login_url",
    "graph_url",
];
const SEAT_LIST_KEYS: &[&str] = &["path", "purchased"];
const APP_KEYS: &[&str] = &["policy.idle_after_days", "policy.never_used_grace_days"];

/// The first key set on source `index` that its kind does not use, with the message.
fn kind_mismatch(text: &str, index: usize, kind: SourceKindConfig) -> Option<(String, String)> {
    let value: serde_norway::Value = serde_norway::from_str(text).ok()?;
    let source = value.get("sources")?.get(index)?.as_mapping()?;
    let mut present: Vec<String> = Vec::new();
    for (k, v) in source {
        let Some(k) = k.as_str() else { continue };
        present.push(k.to_owned());
        if k == "policy"
            && let Some(policy) = v.as_mapping()
        {
            present.extend(
                policy
                    .keys()
                    .filter_map(|p| p.as_str())
                    .map(|p| format!("policy.{p}")),
            );
        }
    }
    let foreign: Vec<(&[&str], &str)> = match kind {
        SourceKindConfig::Humaans => vec![
            (ENTRA_KEYS, "an entra_id"),
            (SEAT_LIST_KEYS, "a seat_list"),
            (APP_KEYS, "an entra_id or seat_list"),
        ],
        SourceKindConfig::EntraId => {
            vec![(HUMAANS_KEYS, "a humaans"), (SEAT_LIST_KEYS, "a seat_list")]
        }
        SourceKindConfig::SeatList => vec![
            (HUMAANS_KEYS, "a humaans"),
            (ENTRA_KEYS, "an entra_id"),
            (&["concurrency"], "a humaans or entra_id"),
        ],
    };
    let kind_name = match kind {
        SourceKindConfig::Humaans => "a humaans",
        SourceKindConfig::EntraId => "an entra_id",
        SourceKindConfig::SeatList => "a seat_list",
    };
    for (keys, owner) in foreign {
        if let Some(found) = keys.iter().find(|k| present.iter().any(|p| p == *k)) {
            return Some((
                (*found).to_owned(),
                format!(
                    "`{found}` is a setting of {owner} source, not of {kind_name} source; remove it or change `kind`"
                ),
            ));
        }
    }
    None
}

/// Checks a URL: http(s), a host, and plain http only to loopback unless allowed.
fn check_url(url: &str, allow_insecure_http: bool, what: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        format!("`{url}` is not a URL ({e}); write e.g. https://seatbroker.example.com")
    })?;
    if what == "platform.url"
        && (parsed.query().is_some()
            || parsed.fragment().is_some()
            || !parsed.username().is_empty()
            || parsed.password().is_some())
    {
        // Never echo the URL: it may hold a password.
        return Err(
            "platform.url must not hold credentials, a query or a fragment; write only the scheme, host and port, e.g. https://seatbroker.example.com (the agent authenticates with its own credential)".to_owned(),
        );
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(&parsed) => Ok(()),
        "http" => Err(format!(
            "`{url}` uses plain http to a host that is not this machine; use https{}",
            if what == "platform.url" {
                ", or set platform.allow_insecure_http: true if you really mean it"
            } else {
                ""
            }
        )),
        other => Err(format!("`{url}` has scheme `{other}`; use https")),
    }
}

/// Whether the URL's host is this machine.
pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// serde_norway prefixes its messages with its own key path and appends
/// ` at line L column C`; both are printed separately, so drop them.
fn strip_location(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    match message.split_once(": ") {
        Some((prefix, rest))
            if !prefix.is_empty()
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._[]-".contains(c)) =>
        {
            rest.to_owned()
        }
        _ => message.to_owned(),
    }
}
