//! Where the agent keeps its configuration, state and logs.
//!
//! Resolution order, for each of the three, first match wins:
//! 1. the command line: `--config`, `--state-dir`, `--log-dir`;
//! 2. under systemd: `$CONFIGURATION_DIRECTORY/config.yaml`, `$STATE_DIRECTORY`,
//!    `$LOGS_DIRECTORY` (set by `ConfigurationDirectory=`, `StateDirectory=`,
//!    `LogsDirectory=`; the first entry when several are listed);
//! 3. as a system service (`--system`, or `SEATBROKER_SYSTEM=1`), the folders the installer
//!    creates (systemd's `ConfigurationDirectory=seatbroker` etc.): Linux
//!    `/etc/seatbroker/config.yaml`, `/var/lib/seatbroker`,
//!    `/var/log/seatbroker`; macOS `/Library/Application Support/Seatbroker/{config.yaml,
//!    state}` and `/Library/Logs/Seatbroker`; Windows `%ProgramData%\Seatbroker\{config.yaml,
//!    state, logs}`;
//! 4. for a user: the platform's per-user directories (`directories::ProjectDirs` for
//!    `io.seatbroker.seatbroker-agent`): on Linux `~/.config/seatbroker-agent/config.yaml`,
//!    `~/.local/share/seatbroker-agent` and its `logs/`.
//!
//! A `--state-dir` without `--log-dir` puts the logs in `STATE_DIR/logs`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The resolved locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Paths {
    pub config_file: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
}

/// What the command line said.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub config: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub log_dir: Option<PathBuf>,
    /// Use the operating system's service locations.
    pub system: bool,
}

/// No location could be found.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot find a home directory for the agent's files; pass --config, --state-dir and --log-dir"
)]
pub(crate) struct PathsError;

/// Resolves the locations from the process environment.
pub(crate) fn resolve(overrides: &Overrides) -> Result<Paths, PathsError> {
    resolve_with(
        overrides,
        &|name| std::env::var_os(name),
        std::env::consts::OS,
    )
}

/// [`resolve`] with an injected environment and OS name, for tests.
pub(crate) fn resolve_with(
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<OsString>,
    os: &str,
) -> Result<Paths, PathsError> {
    let systemd = |var: &str| {
        env(var).and_then(|value| {
            let value = value.to_string_lossy().into_owned();
            value
                .split(':')
                .next()
                .filter(|first| !first.is_empty())
                .map(PathBuf::from)
        })
    };
    let system =
        overrides.system || env("SEATBROKER_SYSTEM").is_some_and(|v| v == "1" || v == "true");
    let defaults = if system {
        system_defaults(os, env)?
    } else {
        user_defaults()?
    };
    let state_dir = overrides
        .state_dir
        .clone()
        .or_else(|| systemd("STATE_DIRECTORY"))
        .unwrap_or(defaults.state_dir);
    let log_dir = overrides
        .log_dir
        .clone()
        .or_else(|| overrides.state_dir.as_ref().map(|d| d.join("logs")))
        .or_else(|| systemd("LOGS_DIRECTORY"))
        .unwrap_or(defaults.log_dir);
    let config_file = overrides
        .config
        .clone()
        .or_else(|| systemd("CONFIGURATION_DIRECTORY").map(|d| d.join("config.yaml")))
        .unwrap_or(defaults.config_file);
    Ok(Paths {
        config_file,
        state_dir,
        log_dir,
    })
}

fn system_defaults(os: &str, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Paths, PathsError> {
    Ok(match os {
        "macos" => {
            let base = Path::new("/Library/Application Support/Seatbroker");
            Paths {
                config_file: base.join("config.yaml"),
                state_dir: base.join("state"),
                log_dir: PathBuf::from("/Library/Logs/Seatbroker"),
            }
        }
        "windows" => {
            let base = PathBuf::from(env("ProgramData").ok_or(PathsError)?).join("Seatbroker");
            Paths {
                config_file: base.join("config.yaml"),
                state_dir: base.join("state"),
                log_dir: base.join("logs"),
            }
        }
        _ => Paths {
            config_file: PathBuf::from("/etc/seatbroker/config.yaml"),
            state_dir: PathBuf::from("/var/lib/seatbroker"),
            log_dir: PathBuf::from("/var/log/seatbroker"),
        },
    })
}

fn user_defaults() -> Result<Paths, PathsError> {
    let dirs =
        directories::ProjectDirs::from("io", "seatbroker", "seatbroker-agent").ok_or(PathsError)?;
    let state_dir = dirs.data_local_dir().to_owned();
    Ok(Paths {
        config_file: dirs.config_dir().join("config.yaml"),
        log_dir: state_dir.join("logs"),
        state_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn resolution_order() {
        let system = Overrides {
            system: true,
            ..Overrides::default()
        };
        let check = |overrides: &Overrides,
                     env: &'static [(&'static str, &'static str)],
                     os: &str,
                     expected: (&str, &str, &str)| {
            let paths = resolve_with(overrides, &env_of(env), os).unwrap();
            assert_eq!(
                (paths.config_file, paths.state_dir, paths.log_dir),
                (expected.0.into(), expected.1.into(), expected.2.into()),
                "{overrides:?} {env:?} {os}"
            );
        };
        check(
            &system,
            &[],
            "linux",
            (
                "/etc/seatbroker/config.yaml",
                "/var/lib/seatbroker",
                "/var/log/seatbroker",
            ),
        );
        check(
            &system,
            &[
                ("STATE_DIRECTORY", "/var/lib/sb:/var/lib/other"),
                ("LOGS_DIRECTORY", "/var/log/sb"),
                ("CONFIGURATION_DIRECTORY", "/etc/sb"),
            ],
            "linux",
            ("/etc/sb/config.yaml", "/var/lib/sb", "/var/log/sb"),
        );
        check(
            &system,
            &[],
            "macos",
            (
                "/Library/Application Support/Seatbroker/config.yaml",
                "/Library/Application Support/Seatbroker/state",
                "/Library/Logs/Seatbroker",
            ),
        );
        check(
            &system,
            &[("ProgramData", "C:\\ProgramData")],
            "windows",
            (
                "C:\\ProgramData/Seatbroker/config.yaml",
                "C:\\ProgramData/Seatbroker/state",
                "C:\\ProgramData/Seatbroker/logs",
            ),
        );
        let flags = Overrides {
            config: Some("/tmp/c.yaml".into()),
            state_dir: Some("/tmp/state".into()),
            log_dir: None,
            system: true,
        };
        check(
            &flags,
            &[
                ("STATE_DIRECTORY", "/var/lib/sb"),
                ("LOGS_DIRECTORY", "/var/log/sb"),
            ],
            "linux",
            ("/tmp/c.yaml", "/tmp/state", "/tmp/state/logs"),
        );
    }
}
