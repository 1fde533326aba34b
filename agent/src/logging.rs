//! Logging: `tracing` to stderr and to daily files in the log directory
//! (`seatbroker-agent.YYYY-MM-DD.log`), text or JSON. Lines carry ANSI colours only when
//! stderr is a terminal (and `NO_COLOR` is not set); files never do. The file writer runs on
//! its own thread and is not lossy: when it falls behind, logging waits rather than dropping
//! lines. Files older than the retention are deleted at start and once a day.
//!
//! Secrets never reach a log line: they are `Secret` values, whose `Debug` and `Display`
//! print `[REDACTED]`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

const PREFIX: &str = "seatbroker-agent";
const SUFFIX: &str = "log";

/// How to log.
#[derive(Debug, Clone)]
pub(crate) struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter; `RUST_LOG` overrides it when set.
    pub level: String,
    /// Where the daily files go; `None` logs to stderr only.
    pub dir: Option<PathBuf>,
    pub retention_days: u32,
}

/// Keeps the file writer alive; logs are flushed when it is dropped.
#[derive(Debug)]
pub(crate) struct LogGuard {
    _file: Option<WorkerGuard>,
}

/// Logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoggingError {
    #[error("cannot create the log directory {}: {source}; pass --log-dir with a directory the agent may write", path.display())]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the log file in {}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

/// Installs the global subscriber. Call once, early in `main`.
pub(crate) fn init(settings: &LogSettings) -> Result<LogGuard, LoggingError> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let mut guard = None;
    let file_writer = match &settings.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| LoggingError::Dir {
                path: dir.clone(),
                source,
            })?;
            prune(dir, settings.retention_days, SystemTime::now());
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix(PREFIX)
                .filename_suffix(SUFFIX)
                .build(dir)
                .map_err(|e| LoggingError::File {
                    path: dir.clone(),
                    message: e.to_string(),
                })?;
            let (writer, file_guard) =
                tracing_appender::non_blocking::NonBlockingBuilder::default()
                    .lossy(false)
                    .finish(appender);
            guard = Some(file_guard);
            Some(writer)
        }
        None => None,
    };
    // Colour only for a person at a terminal: never in a file, a pipe or a journal.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let stderr_layer = match settings.format {
        LogFormat::Text => fmt::layer()
            .with_ansi(colour)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let file_layer = file_writer.map(|file| match settings.format {
        LogFormat::Text => fmt::layer()
            .with_ansi(false)
            .with_writer(file.with_max_level(tracing::Level::TRACE))
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .with_ansi(false)
            .with_writer(file)
            .boxed(),
    });
    let result = tracing_subscriber::registry()
        .with(filter)
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
    // Already installed (tests): keep the existing one.
    let _ = result;
    Ok(LogGuard { _file: guard })
}

/// Deletes this agent's log files last modified more than `retention_days` ago.
/// Returns how many were deleted. Errors are logged, never fatal.
pub(crate) fn prune(dir: &Path, retention_days: u32, now: SystemTime) -> usize {
    let keep = Duration::from_secs(u64::from(retention_days) * 86_400);
    let Ok(items) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut deleted = 0;
    for item in items.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        if !name.starts_with(PREFIX) || !name.ends_with(SUFFIX) {
            continue;
        }
        let old = item
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > keep);
        if old {
            match std::fs::remove_file(item.path()) {
                Ok(()) => deleted += 1,
                Err(error) => {
                    tracing::warn!(path = %item.path().display(), %error, "Cannot delete an old log file.")
                }
            }
        }
    }
    deleted
}

/// Prunes old log files once a day until cancelled.
pub(crate) async fn prune_daily(
    dir: PathBuf,
    retention_days: u32,
    cancel: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(86_400)) => {}
        }
        let deleted = prune(&dir, retention_days, SystemTime::now());
        if deleted > 0 {
            tracing::info!(deleted, "Deleted old log files.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_deletes_only_old_agent_logs() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "seatbroker-agent.2026-01-01.log",
            "seatbroker-agent.2026-01-20.log",
            "other.log",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let old = SystemTime::now() - Duration::from_secs(30 * 86_400);
        let file = std::fs::File::options()
            .write(true)
            .open(dir.path().join("seatbroker-agent.2026-01-01.log"))
            .unwrap();
        file.set_modified(old).unwrap();
        let other = std::fs::File::options()
            .write(true)
            .open(dir.path().join("other.log"))
            .unwrap();
        other.set_modified(old).unwrap();
        assert_eq!(prune(dir.path(), 14, SystemTime::now()), 1);
        assert!(!dir.path().join("seatbroker-agent.2026-01-01.log").exists());
        assert!(dir.path().join("seatbroker-agent.2026-01-20.log").exists());
        assert!(dir.path().join("other.log").exists());
    }
}
