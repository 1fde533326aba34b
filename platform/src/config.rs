//! Command line of `seatbroker-platform` and the validated serve configuration.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use seatbroker_protocol::Secret;

use crate::auth::Role;
use crate::oidc::{CALLBACK_PATH, LocalPasswords, OidcSettings, RoleMapping, check_provider_url};
use crate::store::sqlite_url;

/// The Seatbroker central platform: agent API, approvals, console and reports.
#[derive(Debug, Parser)]
#[command(name = "seatbroker-platform", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the agent API and the console.
    Serve(Box<ServeArgs>),
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
    pub sso: SsoArgs,
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

/// The role of a single sign-on user whose groups map to no role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DefaultRole {
    /// Refuse the sign-in.
    None,
    Viewer,
    Admin,
}

/// Whether local users sign in with passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LocalPasswordsArg {
    /// Every local user.
    On,
    /// Only the --break-glass-admin (needs single sign-on).
    Off,
}

/// The environment variable that may hold the OpenID Connect client secret.
pub const OIDC_CLIENT_SECRET_ENV: &str = "SEATBROKER_OIDC_CLIENT_SECRET";

/// Single sign-on with an OpenID Connect provider, and local passwords.
#[derive(Debug, Clone, Args)]
pub struct SsoArgs {
    /// Issuer URL of the OpenID Connect provider, exactly as its discovery document names
    /// it (e.g. `https://login.microsoftonline.com/TENANT/v2.0`). Enables single sign-on.
    #[arg(long, env = "SEATBROKER_OIDC_ISSUER", value_name = "URL")]
    pub oidc_issuer: Option<String>,
    /// The client (application) id registered with the provider.
    #[arg(long, env = "SEATBROKER_OIDC_CLIENT_ID", value_name = "ID")]
    pub oidc_client_id: Option<String>,
    /// File whose first line is the client secret. Or set SEATBROKER_OIDC_CLIENT_SECRET;
    /// never on the command line.
    #[arg(long, env = "SEATBROKER_OIDC_CLIENT_SECRET_FILE", value_name = "FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// Scopes to ask for (comma-separated); `openid` is always added.
    #[arg(
        long,
        env = "SEATBROKER_OIDC_SCOPES",
        value_delimiter = ',',
        default_value = "openid,email,profile"
    )]
    pub oidc_scopes: Vec<String>,
    /// The ID token claim that names the console user.
    #[arg(long, env = "SEATBROKER_OIDC_USERNAME_CLAIM", default_value = "email")]
    pub oidc_username_claim: String,
    /// The ID token claim with the user's groups or roles (a dotted path reaches into
    /// objects, e.g. `realm_access.roles`).
    #[arg(long, env = "SEATBROKER_OIDC_ROLE_CLAIM", default_value = "groups")]
    pub oidc_role_claim: String,
    /// Values of the role claim that make an admin (comma-separated).
    #[arg(long, env = "SEATBROKER_OIDC_ADMIN_GROUPS", value_delimiter = ',')]
    pub oidc_admin_groups: Vec<String>,
    /// Values of the role claim that make a viewer (comma-separated).
    #[arg(long, env = "SEATBROKER_OIDC_VIEWER_GROUPS", value_delimiter = ',')]
    pub oidc_viewer_groups: Vec<String>,
    /// The role of a user in none of those groups; `none` refuses the sign-in.
    #[arg(long, env = "SEATBROKER_OIDC_DEFAULT_ROLE", value_enum, default_value_t = DefaultRole::None)]
    pub oidc_default_role: DefaultRole,
    /// The provider's name on the login page's button ("Sign in with ...").
    #[arg(
        long,
        env = "SEATBROKER_OIDC_DISPLAY_NAME",
        default_value = "single sign-on"
    )]
    pub oidc_display_name: String,
    /// `off` switches password sign-in off for everyone but --break-glass-admin.
    #[arg(long, env = "SEATBROKER_LOCAL_PASSWORDS", value_enum, default_value_t = LocalPasswordsArg::On)]
    pub local_passwords: LocalPasswordsArg,
    /// The one admin who still signs in with a password when --local-passwords is off.
    #[arg(long, env = "SEATBROKER_BREAK_GLASS_ADMIN", value_name = "USERNAME")]
    pub break_glass_admin: Option<String>,
}

impl SsoArgs {
    /// Whether local passwords sign in, checked against the rest of the configuration.
    pub(crate) fn local_passwords(&self) -> Result<LocalPasswords, ConfigError> {
        match (self.local_passwords, &self.break_glass_admin) {
            (LocalPasswordsArg::On, _) => Ok(LocalPasswords::On),
            (LocalPasswordsArg::Off, _) if self.oidc_issuer.is_none() => {
                Err(ConfigError::Sso("--local-passwords off needs single sign-on (--oidc-issuer): otherwise nobody but the break-glass admin could sign in".to_owned()))
            }
            (LocalPasswordsArg::Off, Some(name)) if !name.trim().is_empty() => {
                Ok(LocalPasswords::BreakGlassOnly(name.trim().to_owned()))
            }
            (LocalPasswordsArg::Off, _) => Err(ConfigError::Sso("--local-passwords off needs --break-glass-admin USERNAME (SEATBROKER_BREAK_GLASS_ADMIN): one admin who can still sign in when the provider is down".to_owned())),
        }
    }

    /// The provider settings, or `None` without --oidc-issuer. The secret comes from
    /// --oidc-client-secret-file or `env_secret` (SEATBROKER_OIDC_CLIENT_SECRET).
    pub(crate) fn oidc_settings(
        &self,
        public_url: &str,
        env_secret: Option<String>,
    ) -> Result<Option<OidcSettings>, ConfigError> {
        let Some(issuer) = &self.oidc_issuer else {
            return Ok(None);
        };
        let issuer = issuer.trim().to_owned();
        check_provider_url(&issuer)
            .map_err(|reason| ConfigError::Sso(format!("--oidc-issuer {issuer:?}: {reason}")))?;
        let client_id = self
            .oidc_client_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ConfigError::Sso("--oidc-issuer needs --oidc-client-id (SEATBROKER_OIDC_CLIENT_ID): the client id registered with the provider".to_owned()))?
            .to_owned();
        let secret = match (&self.oidc_client_secret_file, env_secret) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Sso(format!(
                    "give the client secret once: --oidc-client-secret-file or {OIDC_CLIENT_SECRET_ENV}, not both"
                )));
            }
            (Some(path), None) => std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read {
                    what: "OpenID Connect client secret file",
                    path: path.clone(),
                    source,
                })?
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_owned(),
            (None, Some(secret)) => secret.trim().to_owned(),
            (None, None) => {
                return Err(ConfigError::Sso(format!(
                    "--oidc-issuer needs the client secret: --oidc-client-secret-file FILE or {OIDC_CLIENT_SECRET_ENV}"
                )));
            }
        };
        if secret.is_empty() {
            return Err(ConfigError::Sso(
                "the OpenID Connect client secret is empty".to_owned(),
            ));
        }
        let groups = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|g| g.trim().to_owned())
                .filter(|g| !g.is_empty())
                .collect()
        };
        let roles = RoleMapping {
            claim: self.oidc_role_claim.trim().to_owned(),
            admin: groups(&self.oidc_admin_groups),
            viewer: groups(&self.oidc_viewer_groups),
            default: match self.oidc_default_role {
                DefaultRole::None => None,
                DefaultRole::Viewer => Some(Role::Viewer),
                DefaultRole::Admin => Some(Role::Admin),
            },
        };
        if roles.admin.is_empty() && roles.viewer.is_empty() && roles.default.is_none() {
            return Err(ConfigError::Sso("single sign-on would refuse everyone: give --oidc-admin-groups and/or --oidc-viewer-groups, or --oidc-default-role".to_owned()));
        }
        let mut scopes = vec!["openid".to_owned()];
        for scope in groups(&self.oidc_scopes) {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        Ok(Some(OidcSettings {
            issuer,
            client_id,
            client_secret: Secret::new(secret),
            redirect_url: format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/')),
            scopes,
            username_claim: self.oidc_username_claim.trim().to_owned(),
            roles,
            display_name: self.oidc_display_name.clone(),
        }))
    }
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
    #[error("single sign-on: {0}")]
    Sso(String),
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
        self.sso.local_passwords()?;
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
            Command::Serve(args) => *args,
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
    fn single_sign_on_settings_are_checked() {
        let base = [
            "--oidc-issuer",
            "https://idp.example.com",
            "--oidc-client-id",
            "sb",
            "--oidc-admin-groups",
            "admins, ops",
        ];
        let secret = || Some("s3cret".to_owned());
        let settings = parse(&base)
            .sso
            .oidc_settings("https://seats.example.com/", secret())
            .unwrap()
            .unwrap();
        assert_eq!(
            settings.redirect_url,
            "https://seats.example.com/login/oidc/callback"
        );
        assert_eq!(settings.scopes, ["openid", "email", "profile"]);
        assert_eq!(settings.roles.admin, ["admins", "ops"]);
        assert_eq!(settings.roles.default, None);
        assert_eq!(format!("{:?}", settings.client_secret), "[REDACTED]");
        // Without an issuer nothing is configured.
        assert!(
            parse(&[])
                .sso
                .oidc_settings("http://x", None)
                .unwrap()
                .is_none()
        );

        let refused = |args: &[&str], secret: Option<String>, needle: &str| {
            let error = parse(args)
                .sso
                .oidc_settings("https://seats.example.com", secret)
                .unwrap_err()
                .to_string();
            assert!(error.contains(needle), "{args:?}: {error}");
        };
        refused(&base, None, "needs the client secret");
        refused(&base, Some(" ".to_owned()), "empty");
        refused(&base[..4], secret(), "would refuse everyone");
        refused(
            &[
                "--oidc-issuer",
                "https://idp.example.com",
                "--oidc-default-role",
                "viewer",
            ],
            secret(),
            "needs --oidc-client-id",
        );
        let mut plain = base.to_vec();
        plain[1] = "http://idp.example.com";
        refused(&plain, secret(), "only to localhost");
        let mut both = base.to_vec();
        both.extend(["--oidc-client-secret-file", "/nonexistent"]);
        refused(&both, secret(), "not both");
        both.truncate(base.len());
        both.extend(["--oidc-client-secret-file", "/nonexistent/secret"]);
        refused(&both, None, "cannot read");
    }

    #[test]
    fn local_passwords_off_needs_sso_and_a_break_glass_admin() {
        let check = |args: &[&str]| parse(args).sso.local_passwords();
        assert_eq!(check(&[]).unwrap(), LocalPasswords::On);
        let sso = ["--oidc-issuer", "https://idp.example.com"];
        let mut off = sso.to_vec();
        off.extend(["--local-passwords", "off"]);
        assert!(
            check(&off)
                .unwrap_err()
                .to_string()
                .contains("--break-glass-admin")
        );
        assert!(
            check(&["--local-passwords", "off", "--break-glass-admin", "root"])
                .unwrap_err()
                .to_string()
                .contains("needs single sign-on")
        );
        off.extend(["--break-glass-admin", "root"]);
        assert_eq!(
            check(&off).unwrap(),
            LocalPasswords::BreakGlassOnly("root".to_owned())
        );
        assert!(parse(&off).validate().is_ok());
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
