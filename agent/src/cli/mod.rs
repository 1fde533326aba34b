//! The command line: argument parsing ([`Cli`]), the dispatch to one module per command, and
//! the helpers they share. `main` only parses and calls [`run_blocking`].
//!
//! Every command returns `Result<(), CliError>` and writes its output through a
//! `&mut dyn Write`, so `?` carries a failure to `finish`, the one place that reports it
//! and turns it into an exit code (`CliError::exit_code`): 0 success; 1 failure; 64 bad
//! configuration or usage (EX_USAGE); 69 a service the command needs (platform, Humaans) is
//! unavailable (EX_UNAVAILABLE). Output to a closed pipe (`status | head -1`) ends the
//! command quietly with success.
//!
//! A new source kind hooks in where a command works per source: `collect::dry_run` and
//! `check::check_source` dispatch on `SourceKindConfig`, `status::kind_label` names it.

mod check;
mod collect;
mod enroll;
mod error;
mod run;
mod spool;
mod status;

use std::io::{self, Write};
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, LogFormat, LoggingConfig};
use crate::logging::{self, LogSettings};
use crate::paths::{self, Overrides, Paths};
use crate::state::StateStore;

use error::CliError;

/// For the Windows service's stop hint.
#[cfg(windows)]
pub(crate) use run::SHUTDOWN_GRACE;

/// Exit codes of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failure = 1,
    /// Bad configuration or usage (EX_USAGE).
    Config = 64,
    /// The platform or Humaans cannot be reached (EX_UNAVAILABLE).
    Unavailable = 69,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit as u8)
    }
}

/// The Seatbroker agent: reads Humaans, works out seat usage, and uploads it to the
/// Seatbroker platform once an administrator has approved it.
#[derive(Debug, Parser)]
#[command(name = "seatbroker-agent", version, about, long_about = None)]
pub struct Cli {
    /// The configuration file [default: see "Paths" in the README].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the agent keeps its state and spool.
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Where the agent writes its daily log files.
    #[arg(long, global = true, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Log line format (overrides logging.format).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Use the operating system's service locations (as the installed service does).
    #[arg(long, global = true, env = "SEATBROKER_SYSTEM")]
    pub system: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run in the foreground: collect on schedule, spool, upload once approved. This is what
    /// the service runs.
    Run,
    /// Enroll with the platform using the configured enrollment token (again after a
    /// revocation: the spool is kept).
    Enroll,
    /// Show approval state per source, spool depth, last and next collection, last error.
    Status,
    /// Check the configuration, the Humaans tokens and the platform, without uploading.
    Check(CheckArgs),
    /// Collect once: into the spool, or with --dry-run, print the results and keep nothing.
    Collect(CollectArgs),
    /// Inspect or empty the spool.
    #[command(subcommand)]
    Spool(SpoolCommand),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check only what needs no network: the configuration and that every secret can be
    /// read. Warnings do not fail it. The systemd unit runs this before each start, so an
    /// outage of Humaans or the platform never keeps the agent from starting.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Print the seat summary instead of spooling; nothing is uploaded or kept.
    #[arg(long)]
    pub dry_run: bool,
    /// Only this source (default: every configured source; for --dry-run, the first).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// --dry-run: Humaans URL (default: the source's base_url, else https://app.humaans.io).
    #[arg(long, value_name = "URL", requires = "dry_run")]
    pub humaans_url: Option<String>,
    /// --dry-run: file holding the Humaans token (default: the source's token_file).
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    pub token_file: Option<PathBuf>,
    /// --dry-run: compute states as of this day (YYYY-MM-DD) instead of today.
    #[arg(long, value_name = "DATE", requires = "dry_run")]
    pub as_of: Option<NaiveDate>,
    /// --dry-run: print JSON.
    #[arg(long, requires = "dry_run")]
    pub json: bool,
    /// --dry-run: also write the seat records to this CSV file.
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    pub csv: Option<PathBuf>,
    /// --dry-run: Humaans pages fetched at once.
    #[arg(long, value_name = "N", requires = "dry_run")]
    pub concurrency: Option<usize>,
    /// --dry-run: allow plain http to a Humaans host that is not this machine.
    #[arg(long, requires = "dry_run")]
    pub allow_insecure_http: bool,
}

#[derive(Debug, Subcommand)]
pub enum SpoolCommand {
    /// List the snapshots waiting to be uploaded.
    List,
    /// Delete every spooled snapshot of a source.
    Purge {
        #[arg(long, value_name = "NAME")]
        source: String,
    },
}

/// What `main` does with a command line clap refused: prints clap's message. Help and
/// version are not errors (0); anything else is a usage error (64).
pub fn parse_failed(error: clap::Error) -> Exit {
    finish(Err(CliError::Usage(error)))
}

/// Runs the parsed command line on a runtime of its own: the whole program after parsing.
pub fn run_blocking(cli: Cli) -> Exit {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => finish(Err(CliError::Runtime(error))),
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Exit {
    finish(try_run(&cli).await)
}

/// Runs the agent as `run` does until `cancel` fires, without listening for Ctrl-C or
/// SIGTERM: for the Windows service, whose stop requests come from the service control
/// manager.
pub async fn run_until_cancelled(cli: &Cli, cancel: CancellationToken) -> Exit {
    let result = match resolve_paths(cli) {
        Ok(paths) => run::until_cancelled(cli, &paths, cancel).await,
        Err(error) => Err(error),
    };
    finish(result)
}

async fn try_run(cli: &Cli) -> Result<(), CliError> {
    let paths = resolve_paths(cli)?;
    let mut stdout = io::stdout();
    let out: &mut dyn Write = &mut stdout;
    let result = match &cli.command {
        Command::Run => run::foreground(cli, &paths).await,
        Command::Enroll => enroll::enroll(cli, &paths, out).await,
        Command::Status => status::status(cli, &paths, out).await,
        Command::Check(args) => check::check(cli, &paths, args, out).await,
        Command::Collect(args) if args.dry_run => collect::dry_run(cli, &paths, args, out).await,
        Command::Collect(args) => collect::collect(cli, &paths, args, out).await,
        Command::Spool(command) => spool::spool(cli, &paths, command, out),
    };
    let flushed = out.flush();
    result?;
    flushed.map_err(CliError::from)
}

/// The one place a command's outcome becomes an exit code: reports the error, if any.
fn finish(result: Result<(), CliError>) -> Exit {
    match result {
        Ok(()) => Exit::Ok,
        Err(error) => {
            error.report();
            error.exit_code()
        }
    }
}

fn resolve_paths(cli: &Cli) -> Result<Paths, CliError> {
    let overrides = Overrides {
        config: cli.config.clone(),
        state_dir: cli.state_dir.clone(),
        log_dir: cli.log_dir.clone(),
        system: cli.system,
    };
    Ok(paths::resolve(&overrides)?)
}

fn load_config(paths: &Paths) -> Result<Config, CliError> {
    Ok(Config::load(&paths.config_file)?)
}

fn open_state(paths: &Paths) -> Result<StateStore, CliError> {
    Ok(StateStore::open(&paths.state_dir)?)
}

/// Logging to stderr only, for the short commands.
fn stderr_logging(cli: &Cli, config: Option<&Config>) -> Option<logging::LogGuard> {
    let settings = LogSettings {
        format: cli
            .log_format
            .or(config.map(|c| c.logging.format))
            .unwrap_or_default(),
        level: std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        dir: None,
        retention_days: LoggingConfig::default().retention_days,
    };
    logging::init(&settings).ok()
}

/// A size in words: `512 B`, `1.5 KiB`, `3.2 MiB`.
fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}
