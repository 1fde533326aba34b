//! Command line of `seatbroker-platform` and the validated serve configuration.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::Role;
use crate::store::sqlite_url;

/// The Seatbroker central platform: agent API, approvals, console and reports.
#[derive(Debug, Parser)]
#[command(name = "seatbroker-platform", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start: the size of the serve variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the agent API and the console.
    Serve(ServeArgs),
    /// Manage console users.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// The SQLite database's file name in the data directory.
pub(crate) const SQLITE_FILE: &str = "seatbroker.db";

/// Where the database is: a SQLite file in the data directory, or a URL.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Directory for the platform's data (the SQLite database when no URL is given).
    #[arg(long, env = "SEATBROKER_DATA_DIR", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Database URL: `postgres://user@host/db` or `sqlite:///path/file.db`. Defaults to
    /// `seatbroker.db` in the data directory. Prefer the environment variable, so a password
    /// in the URL does not show in the process list.
    #[arg(
        long,
        env = "SEATBROKER_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    /// The URL to connect to.
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => sqlite_url(&self.data_dir.join(SQLITE_FILE)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address to listen on, e.g. `0.0.0.0:8443`; port 0 picks a free port.
    #[arg(
        long,
        env = "SEATBROKER_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    pub listen: SocketAddr,
    /// PEM certificate chain for HTTPS. Needs --tls-key.
    #[arg(
        long,
        env = "SEATBROKER_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS. Needs --tls-cert.
    #[arg(
        long,
        env = "SEATBROKER_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// The URL people and agents use to reach the platform, e.g. `https://seats.example.com`.
    /// An `https` URL marks session cookies Secure even when TLS ends at a proxy.
    #[arg(long, env = "SEATBROKER_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// The platform runs behind a reverse proxy that terminates TLS: plain HTTP on a public
    /// address is expected, and the client address is taken from `X-Forwarded-For`.
    #[arg(long, env = "SEATBROKER_BEHIND_PROXY")]
    pub behind_proxy: bool,
    /// Client addresses of the proxies trusted to set `X-Forwarded-For` (comma-separated IP
    /// addresses). Only with --behind-proxy; a request from any other address is counted
    /// under its own address.
    #[arg(
        long,
        env = "SEATBROKER_TRUSTED_PROXIES",
        value_name = "IPS",
        value_delimiter = ',',
        default_value = "127.0.0.1,::1"
    )]
    pub trusted_proxies: Vec<IpAddr>,
    #[arg(long, env = "SEATBROKER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub email: EmailArgs,
}

/// The SMTP server scheduled reports go through. Without --smtp-host no email is sent
/// (subscriptions can still be managed).
#[derive(Debug, Clone, Args)]
pub struct EmailArgs {
    /// SMTP server host name, e.g. `smtp.example.com`. Enables scheduled reports by email.
    #[arg(long, env = "SEATBROKER_SMTP_HOST", value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port. Default: 587 for starttls, 465 for tls, 25 for none.
    #[arg(long, env = "SEATBROKER_SMTP_PORT", value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// How the connection is protected: `starttls` (upgrade, required), `tls` (implicit
    /// TLS) or `none` (plain; only to a server on this machine).
    #[arg(
        long,
        env = "SEATBROKER_SMTP_SECURITY",
        value_enum,
        default_value = "starttls",
        value_name = "MODE"
    )]
    pub smtp_security: crate::email::SmtpSecurity,
    /// SMTP user name, when the server wants a login. Needs --smtp-password-file.
    #[arg(
        long,
        env = "SEATBROKER_SMTP_USER",
        value_name = "USER",
        requires = "smtp_password_file"
    )]
    pub smtp_user: Option<String>,
    /// File whose first line is the SMTP password.
    #[arg(
        long,
        env = "SEATBROKER_SMTP_PASSWORD_FILE",
        value_name = "FILE",
        requires = "smtp_user"
    )]
    pub smtp_password_file: Option<PathBuf>,
    /// The sender of reports, e.g. `Seatbroker <seatbroker@example.com>`. Needed with --smtp-host.
    #[arg(long, env = "SEATBROKER_EMAIL_FROM", value_name = "MAILBOX")]
    pub email_from: Option<String>,
    /// Seconds between two looks at the schedule and the queue (the console also wakes the
    /// sender at once when it queues a message).
    #[arg(
        long,
        env = "SEATBROKER_EMAIL_POLL_SECS",
        default_value_t = 60,
        value_name = "SECS",
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub email_poll_secs: u64,
}

/// Connection and resource limits: what a hostile client can hold.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Seconds a connection may take to send a request's headers, counted from when it
    /// opens or from the end of its previous response (so it is also the keep-alive idle
    /// time). A connection that is silent or sends partial headers is closed.
    #[arg(
        long,
        env = "SEATBROKER_HEADER_TIMEOUT_SECS",
        default_value_t = 10,
        value_name = "SECS",
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub header_timeout_secs: u64,
    /// Seconds a request body may pause between two pieces, and a response may wait for the
    /// client to read it, before the connection is closed.
    #[arg(
        long,
        env = "SEATBROKER_IDLE_TIMEOUT_SECS",
        default_value_t = 30,
        value_name = "SECS",
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub idle_timeout_secs: u64,
    /// Open connections served at once; more are refused at once with 503. Keep it well
    /// under the process's open-file limit (`ulimit -n`), which the database also needs.
    #[arg(
        long,
        env = "SEATBROKER_MAX_CONNECTIONS",
        default_value_t = 512,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub max_connections: u32,
    /// Hours after which a snapshot that received no part is dropped with its parts. The
    /// agent keeps it in its spool and sends it again whole.
    #[arg(
        long,
        env = "SEATBROKER_INCOMPLETE_SNAPSHOT_HOURS",
        default_value_t = 24,
        value_name = "HOURS",
        value_parser = clap::value_parser!(u64).range(1..=24 * 365)
    )]
    pub incomplete_snapshot_hours: u64,
    /// MiB of parts of incomplete snapshots stored per agent (every part counts as 1 MiB,
    /// the most a part holds). Past it, parts are refused with 429 until old snapshots are
    /// completed or expire. The default holds one snapshot of the largest size.
    #[arg(
        long,
        env = "SEATBROKER_MAX_PENDING_MIB_PER_AGENT",
        default_value_t = 1024,
        value_name = "MIB",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub max_pending_mib_per_agent: u64,
    /// Bearer token `/metrics` requires (`Authorization: Bearer TOKEN`). Unset: `/metrics`
    /// is open. Prefer the environment variable, so the token does not show in the process
    /// list.
    #[arg(
        long,
        env = "SEATBROKER_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
}

impl Default for LimitArgs {
    fn default() -> Self {
        Self {
            header_timeout_secs: 10,
            idle_timeout_secs: 30,
            max_connections: 512,
            incomplete_snapshot_hours: 24,
            max_pending_mib_per_agent: 1024,
            metrics_token: None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a console user (or reset an existing user's password and role). The password
    /// is read from --password-file, or from standard input; never from the command line.
    Create {
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// File whose first line is the password.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: crate::auth::UnknownRole| e.to_string())
}

/// A configuration that cannot work, with what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--public-url {0:?} is not an http:// or https:// URL")]
    BadPublicUrl(String),
    #[error(
        "--metrics-token (SEATBROKER_METRICS_TOKEN) is empty or shorter than 16 characters; use a long random value, e.g. `openssl rand -hex 24`"
    )]
    WeakMetricsToken,
    #[error("cannot read {what} {path}: {source}; check the path and its permissions")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "--smtp-host is set but --email-from (SEATBROKER_EMAIL_FROM) is not: give the sender address, e.g. `Seatbroker <seatbroker@example.com>`"
    )]
    NoEmailFrom,
    #[error("--email-from {0:?} is not a valid sender: {1}")]
    BadEmailFrom(String, String),
    #[error(
        "--smtp-security none sends mail (and any SMTP password) unencrypted: it is only allowed to a server on this machine (localhost, 127.0.0.1, ::1), not {0:?}; use starttls or tls"
    )]
    PlainSmtp(String),
    #[error("{path} (--smtp-password-file) is empty; put the SMTP password on its first line")]
    EmptySmtpPassword { path: PathBuf },
    #[error("{path} holds no {what} in PEM format; give a PEM file with a `-----BEGIN` block")]
    NoPem { what: &'static str, path: PathBuf },
    #[error("the TLS certificate {cert} and key {key} do not form a usable pair: {reason}")]
    Tls {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// How the listener is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// HTTPS with the given certificate.
    Tls,
    /// Plain HTTP on a loopback address.
    Loopback,
    /// Plain HTTP behind a TLS-terminating proxy.
    Proxy,
    /// Plain HTTP on a reachable address with nothing in front: warned about.
    Exposed,
}

impl ServeArgs {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::BadPublicUrl(url.clone()));
        }
        if let Some(host) = &self.email.smtp_host {
            let from = self
                .email
                .email_from
                .as_deref()
                .ok_or(ConfigError::NoEmailFrom)?;
            crate::email::check_mailbox(from)
                .map_err(|e| ConfigError::BadEmailFrom(from.to_owned(), e.to_string()))?;
            let loopback = matches!(host.as_str(), "localhost" | "::1" | "[::1]")
                || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if self.email.smtp_security == crate::email::SmtpSecurity::None && !loopback {
                return Err(ConfigError::PlainSmtp(host.clone()));
            }
        }
        if let Some(token) = &self.limits.metrics_token
            && token.trim().len() < 16
        {
            return Err(ConfigError::WeakMetricsToken);
        }
        Ok(())
    }

    pub(crate) fn transport(&self) -> Transport {
        if self.tls_cert.is_some() {
            Transport::Tls
        } else if self.listen.ip().is_loopback() {
            Transport::Loopback
        } else if self.behind_proxy {
            Transport::Proxy
        } else {
            Transport::Exposed
        }
    }

    /// Whether session cookies get the `Secure` attribute.
    pub(crate) fn secure_cookies(&self) -> bool {
        self.tls_cert.is_some()
            || self
                .public_url
                .as_deref()
                .is_some_and(|url| url.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ServeArgs {
        let mut full = vec!["seatbroker-platform", "serve", "--data-dir", "/tmp/x"];
        full.extend_from_slice(args);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Serve(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn transport_and_cookie_security() {
        let check = |args: &[&str], transport: Transport, secure: bool| {
            let parsed = parse(args);
            assert_eq!(parsed.transport(), transport, "{args:?}");
            assert_eq!(parsed.secure_cookies(), secure, "{args:?}");
        };
        check(&["--listen", "127.0.0.1:0"], Transport::Loopback, false);
        check(&["--listen", "[::1]:80"], Transport::Loopback, false);
        check(&["--listen", "0.0.0.0:80"], Transport::Exposed, false);
        check(
            &[
                "--listen",
                "0.0.0.0:80",
                "--behind-proxy",
                "--public-url",
                "https://x",
            ],
            Transport::Proxy,
            true,
        );
        check(
            &[
                "--listen",
                "0.0.0.0:443",
                "--tls-cert",
                "c.pem",
                "--tls-key",
                "k.pem",
            ],
            Transport::Tls,
            true,
        );
    }

    #[test]
    fn cert_without_key_is_refused() {
        let r = Cli::try_parse_from([
            "seatbroker-platform",
            "serve",
            "--data-dir",
            "/tmp/x",
            "--tls-cert",
            "c.pem",
        ]);
        assert!(r.is_err());
    }

    #[test]
    fn default_database_is_sqlite_in_the_data_dir() {
        let parsed = parse(&[]);
        assert_eq!(
            parsed.database.url(),
            "sqlite:///tmp/x/seatbroker.db?mode=rwc"
        );
        assert!(parse(&["--public-url", "ftp://x"]).validate().is_err());
    }

    #[test]
    fn smtp_settings_are_checked() {
        let check = |args: &[&str], ok: bool| {
            let result = parse(args).validate();
            assert_eq!(result.is_ok(), ok, "{args:?}: {result:?}");
        };
        check(&["--smtp-host", "smtp.example.com"], false);
        check(
            &[
                "--smtp-host",
                "smtp.example.com",
                "--email-from",
                "not an address",
            ],
            false,
        );
        check(
            &[
                "--smtp-host",
                "smtp.example.com",
                "--email-from",
                "Seatbroker <sb@example.com>",
            ],
            true,
        );
        let plain = ["--smtp-security", "none", "--email-from", "sb@example.com"];
        check(
            &[&["--smtp-host", "smtp.example.com"], &plain[..]].concat(),
            false,
        );
        check(&[&["--smtp-host", "127.0.0.1"], &plain[..]].concat(), true);
        check(&[&["--smtp-host", "localhost"], &plain[..]].concat(), true);
        // A user needs a password file and the other way round.
        assert!(
            Cli::try_parse_from([
                "seatbroker-platform",
                "serve",
                "--data-dir",
                "/tmp/x",
                "--smtp-user",
                "u",
            ])
            .is_err()
        );
    }
}
