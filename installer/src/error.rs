//! The installer's errors. Each says what failed, on what, and what to do next.

use std::path::PathBuf;

use crate::plan::TargetOs;
use crate::request::PlanError;

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "seatbroker-install must run as root (try: sudo seatbroker-install {command} ...), or use \
         --user for a per-user service"
    )]
    NotRoot { command: &'static str },
    #[error(
        "seatbroker-install must run as Administrator: open an elevated prompt (Run as \
         administrator) and run `seatbroker-install {command}` again"
    )]
    NotAdministrator { command: &'static str },
    #[error(
        "cannot apply a {target} plan on this {host} host: use --dry-run to see it, or \
         --root DIR to write its files into a folder"
    )]
    ForeignTarget { target: TargetOs, host: TargetOs },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("cannot read the {what} {path}: {source}; check the path and that you may read it")]
    ReadInput {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the {what} file {path} is {problem}; put exactly the token in it, on one line")]
    BadToken {
        what: &'static str,
        path: PathBuf,
        problem: &'static str,
    },
    #[error("the config file {path} is not UTF-8 text; save it as UTF-8 YAML")]
    ConfigNotText { path: PathBuf },
    #[error(
        "the agent binary {path} does not exist: build it (`cargo build --release -p \
         seatbroker-agent`) or pass --binary PATH"
    )]
    BinaryMissing { path: PathBuf },
    #[error("cannot {op} {path}: {source}; {hint}")]
    Io {
        op: &'static str,
        path: PathBuf,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` could not be started: {program} was not found; {hint}")]
    CommandNotFound {
        command: String,
        program: String,
        hint: String,
    },
    #[error("`{command}` failed ({status}){stderr}; {hint}")]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
        hint: String,
    },
    #[error(
        "Seatbroker is not installed here (no {receipt}); install it with `seatbroker-install \
         install`"
    )]
    NotInstalled { receipt: String },
    #[error("the install receipt {path} is unreadable ({why}); reinstall to rewrite it")]
    BadReceipt { path: PathBuf, why: String },
}

impl InstallError {
    /// Exit code for the binary: 64 for bad input (like the agent's bad config), 3 for
    /// "not installed" (as LSB `status`), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Plan(_)
            | Self::ReadInput { .. }
            | Self::BadToken { .. }
            | Self::ConfigNotText { .. }
            | Self::BinaryMissing { .. }
            | Self::ForeignTarget { .. } => 64,
            Self::NotInstalled { .. } => 3,
            Self::NotRoot { .. } | Self::NotAdministrator { .. } => 77,
            _ => 1,
        }
    }
}
