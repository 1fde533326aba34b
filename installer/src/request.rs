//! What a person asked for ([`InstallRequest`]), what is already on the system ([`Facts`]),
//! and why a plan cannot be made ([`PlanError`]). The plans themselves are made in
//! `planner.rs` from the steps in `steps.rs` and the target OS's module.

use std::path::PathBuf;

use seatbroker_protocol::Secret;

/// A config file given with `--config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvidedConfig {
    pub text: String,
    pub from: PathBuf,
}

/// Everything `install` was asked to do, with files already read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallRequest {
    /// The `seatbroker-agent` binary to install.
    pub agent_binary: PathBuf,
    pub config: Option<ProvidedConfig>,
    /// Fills the skeleton config when no `--config` is given.
    pub platform_url: Option<String>,
    pub humaans_token: Option<Secret>,
    pub enrollment_token: Option<Secret>,
    /// Start (or restart) the service at the end.
    pub start: bool,
}

/// What is already installed, probed (read-only) from the target or `--root`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub config_exists: bool,
    /// Credential files already present (`humaans-token`, `enrollment-token`).
    pub credentials: Vec<String>,
    /// A service file or receipt from an earlier install exists: this is an upgrade.
    pub installed: bool,
    /// macOS: the `_seatbroker` account exists already.
    pub service_user_exists: bool,
    /// macOS: a free id (< 500) for the `_seatbroker` user and group.
    pub free_service_id: Option<u32>,
}

impl Facts {
    pub(crate) fn has_credential(&self, name: &str) -> bool {
        self.credentials.iter().any(|c| c == name)
    }
}

/// Why a plan cannot be made. Every message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "no configuration: pass --config FILE, or --platform-url URL to write a commented \
         skeleton config at {path}"
    )]
    NoConfig { path: String },
    #[error(
        "--platform-url `{url}` is not usable: {why}; pass the console's address, e.g. \
         --platform-url https://seatbroker.example.com"
    )]
    BadPlatformUrl { url: String, why: &'static str },
    #[error(
        "no Humaans token: pass --humaans-token-file FILE (a file holding a token with the \
         scopes public:read and private:read), or --no-start to install without starting, then \
         put the token in {path} and start the service"
    )]
    NoHumaansToken { path: String },
    #[error(transparent)]
    Layout(#[from] crate::layout::LayoutError),
}

/// Checks a platform URL enough to write it into YAML safely; the agent checks the rest.
pub(crate) fn check_platform_url(url: &str) -> Result<(), PlanError> {
    let bad = |why| {
        Err(PlanError::BadPlatformUrl {
            url: url.to_owned(),
            why,
        })
    };
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return bad("it must start with https:// (or http:// for a local test platform)");
    };
    if rest.is_empty() || rest.starts_with('/') {
        return bad("it has no host name");
    }
    if url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '"' || c == '\\')
    {
        return bad("it contains spaces, quotes, backslashes or control characters");
    }
    Ok(())
}
