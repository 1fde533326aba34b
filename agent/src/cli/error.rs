//! Why a command failed, how it is told to a person, and which exit code it ends with.
//!
//! [`CliError::exit_code`] is the only place that decides an exit code.

use std::io;
use std::path::PathBuf;

use crate::collector::CollectError;
use crate::config::{ConfigError, SecretError};
use crate::dryrun::DryRunError;
use crate::logging::LoggingError;
use crate::paths::PathsError;
use crate::service::{EnrollError, ServiceError};
use crate::spool::SpoolError;
use crate::state::StateError;
use crate::uplink::UplinkError;

use super::Exit;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// clap refused the command line, or it asked for help or the version.
    #[error(transparent)]
    Usage(clap::Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] io::Error),
    #[error(transparent)]
    Paths(#[from] PathsError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `--source NAME` names no configured source.
    #[error("no source named `{name}` in {}", file.display())]
    NoSuchSource { name: String, file: PathBuf },
    #[error("collect --dry-run needs the Humaans token in a file: pass --token-file FILE")]
    NoTokenFile,
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A source with no token configured (`check --offline`).
    #[error("source {0}: no Humaans token")]
    NoSourceToken(String),
    #[error(transparent)]
    Logging(#[from] LoggingError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Platform(#[from] UplinkError),
    /// The platform answers, but with a server error (`check`).
    #[error("platform {url} answers HTTP {code}; it is up but failing")]
    PlatformFailing { url: String, code: u16 },
    #[error(transparent)]
    Enroll(#[from] EnrollError),
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error(transparent)]
    DryRun(#[from] DryRunError),
    /// A check passed with a warning a person must act on (`check` online fails on it).
    #[error("{0}")]
    Warning(String),
    /// Writing the command's output failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
    /// Failures already told where they happened (the FAIL lines of `check`, each failed
    /// source of `collect`, the log of `run`); only the exit code is left to give.
    #[error("{} failure(s), reported above", .0.len())]
    Reported(Vec<CliError>),
    /// An error and what to try next.
    #[error("{error}")]
    Hinted {
        error: Box<CliError>,
        hint: &'static str,
    },
}

impl CliError {
    /// The error followed by a `hint:` line.
    pub(crate) fn hint(self, hint: &'static str) -> Self {
        Self::Hinted {
            error: Box::new(self),
            hint,
        }
    }

    /// The exit code a command that failed this way ends with. When several failures were
    /// reported, the most serious decides: configuration, then unavailable, then failure.
    pub(crate) fn exit_code(&self) -> Exit {
        match self {
            Self::Usage(error) if !error.use_stderr() => Exit::Ok,
            _ if self.is_closed_pipe() => Exit::Ok,
            Self::Usage(_)
            | Self::Paths(_)
            | Self::Config(_)
            | Self::NoSuchSource { .. }
            | Self::NoTokenFile
            | Self::Secret(_)
            | Self::NoSourceToken(_) => Exit::Config,
            Self::Platform(error) => uplink_exit(error),
            Self::PlatformFailing { .. } => Exit::Unavailable,
            Self::Enroll(error) => match error {
                EnrollError::NoToken | EnrollError::Token(_) => Exit::Config,
                EnrollError::Uplink(error) => uplink_exit(error),
                EnrollError::Tenant(error) => collect_exit(error),
                EnrollError::State(_) => Exit::Failure,
            },
            Self::Collect(error) => collect_exit(error),
            Self::DryRun(error) => match error {
                DryRunError::TokenFile { .. }
                | DryRunError::TokenEmpty { .. }
                | DryRunError::Policy(_) => Exit::Config,
                DryRunError::Humaans(error) if error.is_retriable() => Exit::Unavailable,
                _ => Exit::Failure,
            },
            Self::Reported(errors) => errors
                .iter()
                .map(Self::exit_code)
                .max_by_key(|exit| severity(*exit))
                .unwrap_or(Exit::Failure),
            Self::Hinted { error, .. } => error.exit_code(),
            Self::Runtime(_)
            | Self::Logging(_)
            | Self::State(_)
            | Self::Spool(_)
            | Self::Service(_)
            | Self::Warning(_)
            | Self::Output(_) => Exit::Failure,
        }
    }

    /// Tells a person on stderr: `error: ...` and any `hint: ...` lines. Says nothing for a
    /// closed pipe and for failures already reported.
    pub(crate) fn report(&self) {
        match self {
            Self::Usage(error) => {
                let _ = error.print();
            }
            _ if self.is_closed_pipe() => {}
            Self::Reported(_) => {}
            Self::Hinted { error, hint } => {
                error.report();
                eprintln!("hint: {hint}");
            }
            Self::Config(ConfigError::Read { path, .. }) => {
                eprintln!("error: {self}");
                eprintln!(
                    "hint: the agent looked for its configuration at {}; pass --config FILE",
                    path.display()
                );
            }
            _ => eprintln!("error: {self}"),
        }
    }

    /// The reader of the output went away (`status | head -1`): not worth a word.
    fn is_closed_pipe(&self) -> bool {
        let error = match self {
            Self::Output(error) | Self::DryRun(DryRunError::Output(error)) => error,
            _ => return false,
        };
        error.kind() == io::ErrorKind::BrokenPipe
    }
}

/// The platform: unreachable is 69; a client that cannot be built from the configuration
/// (URL, CA file) is 64; a refusal is 1.
fn uplink_exit(error: &UplinkError) -> Exit {
    match error {
        UplinkError::Client(_) | UplinkError::CaFile { .. } | UplinkError::Redirected { .. } => {
            Exit::Config
        }
        UplinkError::Transport { .. } => Exit::Unavailable,
        _ => Exit::Failure,
    }
}

/// A collection: an unreadable token or key is 64; Humaans unavailable for now is 69.
fn collect_exit(error: &CollectError) -> Exit {
    if error.is_config() {
        Exit::Config
    } else if error.is_retriable() {
        Exit::Unavailable
    } else {
        Exit::Failure
    }
}

/// How serious an outcome is, when several failures must give one exit code.
fn severity(exit: Exit) -> u8 {
    match exit {
        Exit::Ok => 0,
        Exit::Failure => 1,
        Exit::Unavailable => 2,
        Exit::Config => 3,
    }
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;

    use crate::entra::{EntraError, TokenProblem};
    use crate::humaans::HumaansError;

    use super::*;

    fn check(error: CliError, expected: Exit) {
        let shown = error.to_string();
        assert_eq!(error.exit_code(), expected, "{shown}");
    }

    fn humaans_down() -> HumaansError {
        HumaansError::Unreachable {
            url: "https://app.humaans.io/api/me".into(),
            message: "connection refused".into(),
        }
    }

    fn humaans_refuses() -> HumaansError {
        HumaansError::Unauthorized {
            url: "https://app.humaans.io/api/me".into(),
        }
    }

    fn collect(error: HumaansError) -> CollectError {
        CollectError::Humaans {
            source_name: "acme".into(),
            error,
        }
    }

    fn token_missing() -> SecretError {
        SecretError::Env {
            name: "HUMAANS_TOKEN".into(),
        }
    }

    fn platform_down() -> UplinkError {
        UplinkError::Transport {
            what: "enrollment",
            url: "https://platform.example".into(),
            message: "connection refused".into(),
        }
    }

    #[test]
    fn each_failure_ends_with_its_exit_code() {
        check(CliError::Paths(PathsError), Exit::Config);
        check(CliError::NoTokenFile, Exit::Config);
        check(CliError::Secret(token_missing()), Exit::Config);
        check(
            CliError::Collect(CollectError::Token {
                source_name: "acme".into(),
                error: token_missing(),
            }),
            Exit::Config,
        );
        check(
            CliError::Collect(collect(humaans_down())),
            Exit::Unavailable,
        );
        check(CliError::Collect(collect(humaans_refuses())), Exit::Failure);
        check(
            CliError::Enroll(EnrollError::Tenant(collect(humaans_down()))),
            Exit::Unavailable,
        );
        check(CliError::Enroll(EnrollError::NoToken), Exit::Config);
        check(
            CliError::Enroll(EnrollError::Uplink(platform_down())),
            Exit::Unavailable,
        );
        check(
            CliError::Enroll(EnrollError::Uplink(UplinkError::NotEnrolled)),
            Exit::Failure,
        );
        check(
            CliError::Platform(UplinkError::Client("platform.url `x`".into())),
            Exit::Config,
        );
        check(CliError::Platform(platform_down()), Exit::Unavailable);
        check(
            CliError::PlatformFailing {
                url: "https://platform.example".into(),
                code: 502,
            },
            Exit::Unavailable,
        );
        check(
            CliError::DryRun(DryRunError::Humaans(humaans_down())),
            Exit::Unavailable,
        );
        check(
            CliError::DryRun(DryRunError::TokenEmpty { path: "/t".into() }),
            Exit::Config,
        );
        check(CliError::Warning("mode 644".into()), Exit::Failure);
        check(CliError::NoSourceToken("acme".into()), Exit::Config);
        check(
            CliError::NoSourceToken("acme".into()).hint("pass --token-file FILE"),
            Exit::Config,
        );
        // Entra ID: a page failing for good is unavailable; a refused secret or a missing
        // permission is configuration.
        check(
            CliError::Collect(entra(EntraError::RetriesExhausted {
                attempts: 6,
                elapsed: std::time::Duration::from_secs(21),
                last: Box::new(EntraError::Server {
                    url: "https://graph.microsoft.com/v1.0/users".into(),
                    status: 500,
                    message: "General exception while processing.".into(),
                    retry_after: None,
                }),
            })),
            Exit::Unavailable,
        );
        check(
            CliError::Collect(entra(EntraError::TokenRefused {
                status: 401,
                problem: TokenProblem::Secret,
                tenant: "t".into(),
                client: "c".into(),
                error: "invalid_client".into(),
                codes: vec![7000215],
            })),
            Exit::Config,
        );
        check(
            CliError::Collect(entra(EntraError::Forbidden {
                url: "https://graph.microsoft.com/v1.0/users".into(),
                code: "Authorization_RequestDenied".into(),
                message: "Insufficient privileges".into(),
                permission: "User.Read.All",
            })),
            Exit::Config,
        );
    }

    fn entra(error: EntraError) -> CollectError {
        CollectError::Entra {
            source_name: "m365".into(),
            error: Box::new(error),
        }
    }

    #[test]
    fn several_failures_end_with_the_most_serious() {
        let reported = |errors: Vec<CliError>| CliError::Reported(errors);
        check(reported(vec![CliError::Warning("w".into())]), Exit::Failure);
        check(
            reported(vec![
                CliError::Warning("w".into()),
                CliError::Platform(platform_down()),
            ]),
            Exit::Unavailable,
        );
        check(
            reported(vec![
                CliError::Platform(platform_down()),
                CliError::Secret(token_missing()),
                CliError::Warning("w".into()),
            ]),
            Exit::Config,
        );
    }

    #[test]
    fn a_closed_pipe_is_success_and_other_output_errors_are_not() {
        let closed = || std::io::Error::from(ErrorKind::BrokenPipe);
        check(CliError::Output(closed()), Exit::Ok);
        check(CliError::DryRun(DryRunError::Output(closed())), Exit::Ok);
        check(
            CliError::Output(std::io::Error::from(ErrorKind::StorageFull)),
            Exit::Failure,
        );
        check(
            CliError::DryRun(DryRunError::Output(std::io::Error::from(
                ErrorKind::PermissionDenied,
            ))),
            Exit::Failure,
        );
    }
}
