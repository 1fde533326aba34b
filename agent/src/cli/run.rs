//! `run`: the agent until it is told to stop. In the foreground Ctrl-C or SIGTERM stops it
//! ([`foreground`]); the Windows service stops it through its own token
//! ([`until_cancelled`]). Both run the same [`Agent`].

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::collector::HumaansCollector;
use crate::logging::{self, LogGuard, LogSettings};
use crate::paths::Paths;
use crate::service::{Service, ServiceOptions};

use super::error::CliError;
use super::{Cli, load_config, open_state};

/// How long a stop may take before the process exits regardless.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// `run` in the foreground: until Ctrl-C, or SIGTERM on Unix.
pub(super) async fn foreground(cli: &Cli, paths: &Paths) -> Result<(), CliError> {
    let agent = Agent::start(cli, paths)?;
    let cancel = CancellationToken::new();
    tokio::spawn(cancel_on_signal(cancel.clone()));
    agent.run(cancel).await
}

/// `run` until `cancel` fires, listening for no signal.
pub(super) async fn until_cancelled(
    cli: &Cli,
    paths: &Paths,
    cancel: CancellationToken,
) -> Result<(), CliError> {
    Agent::start(cli, paths)?.run(cancel).await
}

/// The service, ready to run, with its logging installed.
struct Agent {
    service: Service<HumaansCollector>,
    log_dir: std::path::PathBuf,
    retention_days: u32,
    _log: LogGuard,
}

impl Agent {
    fn start(cli: &Cli, paths: &Paths) -> Result<Self, CliError> {
        let config = load_config(paths)?;
        let settings = LogSettings {
            format: cli.log_format.unwrap_or(config.logging.format),
            level: config.logging.level.clone(),
            dir: Some(paths.log_dir.clone()),
            retention_days: config.logging.retention_days,
        };
        let log = logging::init(&settings)?;
        tracing::info!(config = %paths.config_file.display(), state_dir = %paths.state_dir.display(), log_dir = %paths.log_dir.display(), "Configuration loaded.");
        let store = open_state(paths)?;
        let retention_days = config.logging.retention_days;
        let service = Service::new(
            config,
            store,
            HumaansCollector::default(),
            ServiceOptions::default(),
        )
        .map_err(|error| {
            tracing::error!(%error, "The agent cannot start.");
            CliError::Reported(vec![error.into()])
        })?;
        Ok(Self {
            service,
            log_dir: paths.log_dir.clone(),
            retention_days,
            _log: log,
        })
    }

    /// Runs until `cancel` fires and the service has stopped, or the grace period is over.
    async fn run(self, cancel: CancellationToken) -> Result<(), CliError> {
        tokio::spawn(logging::prune_daily(
            self.log_dir.clone(),
            self.retention_days,
            cancel.clone(),
        ));
        let running = self.service.run(cancel.clone());
        tokio::pin!(running);
        let result = tokio::select! {
            result = &mut running => result,
            () = async {
                cancel.cancelled().await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "The agent did not stop in time; exiting anyway. Nothing is lost: unsent snapshots stay in the spool.");
                return Ok(());
            }
        };
        result.map_err(|error| {
            tracing::error!(%error, "The agent stopped with an error.");
            CliError::Reported(vec![error.into()])
        })
    }
}

/// Cancels on Ctrl-C, and on SIGTERM on Unix.
async fn cancel_on_signal(cancel: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(error) => {
                tracing::error!(%error, "Cannot listen for SIGTERM.");
                let _ = tokio::signal::ctrl_c().await;
                cancel.cancel();
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("Stopping: finishing or abandoning the current step.");
    cancel.cancel();
}
