//! The command line: argument parsing ([`Cli`]) and one function per command. `main` only
//! parses, builds the runtime and calls [`run`].
//!
//! Exit codes: 0 success; 1 failure; 64 bad configuration or usage (EX_USAGE); 69 a service
//! the command needs (platform, Humaans) is unavailable (EX_UNAVAILABLE).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::collector::{CollectError, HumaansCollector};
use crate::config::{Config, ConfigError, LogFormat};
use crate::logging::{self, LogSettings};
use crate::paths::{self, Overrides, Paths};
use crate::service::{self, EnrollError, Service, ServiceOptions};
use crate::spool::Spool;
use crate::state::{AgentRecord, StateStore};
use crate::uplink::{Timeouts, Uplink, UplinkError};

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

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
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

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Exit {
    let paths = match resolve_paths(&cli) {
        Ok(paths) => paths,
        Err(exit) => return exit,
    };
    let mut out = std::io::stdout();
    match &cli.command {
        Command::Run => run_service(&cli, &paths, CancellationToken::new(), true).await,
        Command::Enroll => enroll(&cli, &paths, &mut out).await,
        Command::Status => status(&cli, &paths, &mut out).await,
        Command::Check(args) => check(&cli, &paths, args.offline, &mut out).await,
        Command::Collect(args) if args.dry_run => dry_run(&cli, &paths, args, &mut out).await,
        Command::Collect(args) => collect(&cli, &paths, args, &mut out).await,
        Command::Spool(command) => spool(&cli, &paths, command, &mut out),
    }
}

/// Runs the agent as `run` does until `cancel` fires, without listening for Ctrl-C or
/// SIGTERM: for the Windows service, whose stop requests come from the service control
/// manager.
pub async fn run_until_cancelled(cli: &Cli, cancel: CancellationToken) -> Exit {
    match resolve_paths(cli) {
        Ok(paths) => run_service(cli, &paths, cancel, false).await,
        Err(exit) => exit,
    }
}

fn resolve_paths(cli: &Cli) -> Result<Paths, Exit> {
    let overrides = Overrides {
        config: cli.config.clone(),
        state_dir: cli.state_dir.clone(),
        log_dir: cli.log_dir.clone(),
        system: cli.system,
    };
    paths::resolve(&overrides).map_err(|error| {
        eprintln!("error: {error}");
        Exit::Config
    })
}

fn load_config(paths: &Paths) -> Result<Config, Exit> {
    Config::load(&paths.config_file).map_err(|error| {
        eprintln!("error: {error}");
        if matches!(error, ConfigError::Read { .. }) {
            eprintln!(
                "hint: the agent looked for its configuration at {}; pass --config FILE",
                paths.config_file.display()
            );
        }
        Exit::Config
    })
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
        retention_days: 14,
    };
    logging::init(&settings).ok()
}

fn open_state(paths: &Paths) -> Result<StateStore, Exit> {
    StateStore::open(&paths.state_dir).map_err(|error| {
        eprintln!("error: {error}");
        Exit::Failure
    })
}

/// `run`: the agent until `cancel` fires (or, with `on_signals`, Ctrl-C or SIGTERM).
async fn run_service(
    cli: &Cli,
    paths: &Paths,
    cancel: CancellationToken,
    on_signals: bool,
) -> Exit {
    let config = match load_config(paths) {
        Ok(config) => config,
        Err(exit) => return exit,
    };
    let settings = LogSettings {
        format: cli.log_format.unwrap_or(config.logging.format),
        level: config.logging.level.clone(),
        dir: Some(paths.log_dir.clone()),
        retention_days: config.logging.retention_days,
    };
    let _guard = match logging::init(&settings) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::Failure;
        }
    };
    tracing::info!(config = %paths.config_file.display(), state_dir = %paths.state_dir.display(), log_dir = %paths.log_dir.display(), "Configuration loaded.");
    let store = match open_state(paths) {
        Ok(store) => store,
        Err(exit) => return exit,
    };
    let service = match Service::new(
        config.clone(),
        store,
        HumaansCollector::default(),
        ServiceOptions::default(),
    ) {
        Ok(service) => service,
        Err(error) => {
            tracing::error!(%error, "The agent cannot start.");
            return Exit::Failure;
        }
    };
    tokio::spawn(logging::prune_daily(
        paths.log_dir.clone(),
        config.logging.retention_days,
        cancel.clone(),
    ));
    if on_signals {
        tokio::spawn(cancel_on_signal(cancel.clone()));
    }
    let running = service.run(cancel.clone());
    tokio::pin!(running);
    let result = tokio::select! {
        result = &mut running => result,
        () = async {
            cancel.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {
            tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "The agent did not stop in time; exiting anyway. Nothing is lost: unsent snapshots stay in the spool.");
            return Exit::Ok;
        }
    };
    match result {
        Ok(()) => Exit::Ok,
        Err(error) => {
            tracing::error!(%error, "The agent stopped with an error.");
            Exit::Failure
        }
    }
}

/// How long a stop may take before the process exits regardless.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

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

async fn enroll(cli: &Cli, paths: &Paths, out: &mut dyn Write) -> Exit {
    let config = match load_config(paths) {
        Ok(config) => config,
        Err(exit) => return exit,
    };
    let _log = stderr_logging(cli, Some(&config));
    let store = match open_state(paths) {
        Ok(store) => store,
        Err(exit) => return exit,
    };
    let uplink = match Uplink::new(&config.platform) {
        Ok(uplink) => uplink,
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::Config;
        }
    };
    let previous = store.load().unwrap_or_default();
    match service::enroll(&config, &store, &uplink, &HumaansCollector::default()).await {
        Ok(response) => {
            let _ = writeln!(
                out,
                "Enrolled with {} as agent {}.",
                uplink.base_url(),
                response.agent_id
            );
            if previous.agent_id.is_some() {
                let _ = writeln!(
                    out,
                    "This replaces the earlier enrollment (agent {}); spooled snapshots are kept and will be uploaded once the new agent is approved.",
                    previous.agent_id.as_deref().unwrap_or("?")
                );
            }
            let _ = writeln!(
                out,
                "Next: an administrator approves the agent and each source in the console (Pending approvals). Until then the agent collects and keeps the snapshots."
            );
            for source in &response.sources {
                let _ = writeln!(out, "  source {}: {}", source.local_name, source.state);
            }
            Exit::Ok
        }
        Err(error) => {
            eprintln!("error: {error}");
            enroll_exit(&error)
        }
    }
}

fn enroll_exit(error: &EnrollError) -> Exit {
    match error {
        EnrollError::NoToken | EnrollError::Token(_) => Exit::Config,
        EnrollError::Uplink(UplinkError::Transport { .. }) => Exit::Unavailable,
        EnrollError::Tenant(CollectError::Token { .. }) => Exit::Config,
        EnrollError::Tenant(CollectError::Humaans { error, .. }) if error.is_retriable() => {
            Exit::Unavailable
        }
        _ => Exit::Failure,
    }
}

async fn status(cli: &Cli, paths: &Paths, out: &mut dyn Write) -> Exit {
    let config = match load_config(paths) {
        Ok(config) => config,
        Err(exit) => return exit,
    };
    let _log = stderr_logging(cli, Some(&config));
    let store = match open_state(paths) {
        Ok(store) => store,
        Err(exit) => return exit,
    };
    let live = match store.credential() {
        Ok(Some(credential)) => {
            let timeouts = Timeouts {
                connect: Duration::from_secs(5),
                request: Duration::from_secs(15),
            };
            match Uplink::with_timeouts(&config.platform, timeouts) {
                Ok(uplink) => Some(uplink.status(&credential).await),
                Err(error) => Some(Err(error)),
            }
        }
        _ => None,
    };
    let now = Utc::now();
    let live_line = match live {
        None => "not asked (the agent is not enrolled)".to_owned(),
        Some(Ok(status)) => {
            let _ = store.update(|r| r.apply_status(&status, now));
            "reachable; the states below are the platform's answer just now".to_owned()
        }
        Some(Err(error)) => format!(
            "not reachable or refused ({error}); the states below are what the agent last knew"
        ),
    };
    let record = store.load().unwrap_or_default();
    let spool = Spool::open(&store.spool_dir(), config.spool.max_bytes.0);
    let text = render_status(&config, &record, spool.as_ref().ok(), &live_line, now);
    let _ = out.write_all(text.as_bytes());
    Exit::Ok
}

/// The `status` report, in words.
pub fn render_status(
    config: &Config,
    record: &AgentRecord,
    spool: Option<&Spool>,
    platform: &str,
    now: DateTime<Utc>,
) -> String {
    let mut text = String::new();
    let agent = match (record.agent_id.as_deref(), record.agent_state.as_deref()) {
        (None, _) => "not enrolled; run `seatbroker-agent enroll`".to_owned(),
        (Some(id), Some("pending")) => {
            format!("{id}, waiting for an administrator to approve it in the console")
        }
        (Some(id), Some("approved")) => format!("{id}, approved"),
        (Some(id), Some("rejected")) => {
            format!("{id}, rejected by an administrator; nothing is uploaded")
        }
        (Some(id), Some("revoked")) => format!(
            "{id}, revoked: uploads stopped, the spool is kept; run `seatbroker-agent enroll` with a new enrollment token"
        ),
        (Some(id), state) => format!("{id}, state {}", state.unwrap_or("unknown")),
    };
    text.push_str(&format!("Agent:    {agent}\n"));
    if let Some(message) = &record.agent_message {
        text.push_str(&format!("          platform says: {message}\n"));
    }
    text.push_str(&format!("Platform: {} — {platform}\n", config.platform.url));
    for source in &config.sources {
        let r = record
            .sources
            .get(&source.name)
            .cloned()
            .unwrap_or_default();
        let state = match r.state.as_deref() {
            None => "not known to the platform yet".to_owned(),
            Some("pending") => "waiting for approval; snapshots are collected and kept".to_owned(),
            Some("approved") => format!(
                "approved; uploads go to source {}",
                r.source_id.as_deref().unwrap_or("?")
            ),
            Some("merged") => format!(
                "approved and merged into source {}; uploads go there",
                r.source_id.as_deref().unwrap_or("?")
            ),
            Some("rejected") => "rejected: no longer collected or uploaded".to_owned(),
            Some("revoked") => "revoked: no longer collected or uploaded".to_owned(),
            Some(other) => other.to_owned(),
        };
        text.push_str(&format!(
            "\nSource {} ({}): {state}\n",
            source.name,
            crate::appsource::describe(source)
        ));
        if let Some(message) = &r.message {
            text.push_str(&format!("  platform says: {message}\n"));
        }
        match &r.last_collection {
            Some(last) if last.succeeded => text.push_str(&format!(
                "  last collection: succeeded {} ({} {})\n",
                ago(last.at, now),
                last.people,
                if source.kind.is_app() {
                    "accounts"
                } else {
                    "people"
                }
            )),
            Some(last) => text.push_str(&format!(
                "  last collection: FAILED {}: {}\n",
                ago(last.at, now),
                last.error.as_deref().unwrap_or("unknown error")
            )),
            None => text.push_str("  last collection: none yet\n"),
        }
        if let Some(warning) = r.last_collection.as_ref().and_then(|l| l.warning.as_ref()) {
            text.push_str(&format!("  WARNING: {warning}\n"));
        }
        match r.next_collection_at {
            Some(at) if at > now => text.push_str(&format!(
                "  next collection: {} ({})\n",
                until(at, now),
                at.format("%Y-%m-%d %H:%M UTC")
            )),
            Some(_) => text.push_str("  next collection: due now (if the agent is running)\n"),
            None => text.push_str("  next collection: when the agent runs\n"),
        }
        if let Some(at) = r.last_upload_at {
            text.push_str(&format!("  last upload: {}\n", ago(at, now)));
        }
        if let Some(spool) = spool {
            let pending = spool.pending(&source.name).unwrap_or_default();
            let bytes: u64 = pending.iter().map(|e| e.bytes).sum();
            text.push_str(&format!(
                "  waiting to upload: {} snapshot(s), {}\n",
                pending.len(),
                human_bytes(bytes)
            ));
        }
    }
    if let Some(spool) = spool {
        let quarantined = spool.quarantined().map(|q| q.len()).unwrap_or(0);
        if quarantined > 0 {
            text.push_str(&format!(
                "\nSet aside: {quarantined} file(s) in {} (damaged or refused for good)\n",
                spool.dir().join("quarantine").display()
            ));
        }
    }
    match (&record.last_error, record.last_error_at) {
        (Some(error), Some(at)) => {
            text.push_str(&format!("\nLast error ({}): {error}\n", ago(at, now)))
        }
        (Some(error), None) => text.push_str(&format!("\nLast error: {error}\n")),
        _ => text.push_str("\nLast error: none\n"),
    }
    text
}

fn words(duration: chrono::TimeDelta) -> String {
    let secs = duration.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs / 60 % 60),
        _ => format!("{} days {} h", secs / 86_400, secs / 3600 % 24),
    }
}

fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ago", words(now - at))
}

fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("in {}", words(at - now))
}

fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

async fn check(cli: &Cli, paths: &Paths, offline: bool, out: &mut dyn Write) -> Exit {
    let config = match load_config(paths) {
        Ok(config) => config,
        Err(exit) => return exit,
    };
    let _log = stderr_logging(cli, Some(&config));
    let mut worst = Exit::Ok;
    let note = |exit: Exit, worst: &mut Exit| {
        let rank = |e: Exit| match e {
            Exit::Ok => 0,
            Exit::Failure => 1,
            Exit::Unavailable => 2,
            Exit::Config => 3,
        };
        if rank(exit) > rank(*worst) {
            *worst = exit;
        }
    };
    let _ = writeln!(out, "ok    configuration {}", paths.config_file.display());
    match config.platform.enrollment_token() {
        Some(token) => match token.resolve() {
            Ok(_) => {
                let _ = writeln!(out, "ok    enrollment token ({})", token.describe());
            }
            // Offline (before a service start) the token may be absent on purpose: it is
            // needed only to enroll, and the installer passes it only when it has one.
            Err(error) if offline => {
                let _ = writeln!(
                    out,
                    "WARN  enrollment token: {error} (needed only to enroll)"
                );
            }
            Err(error) => {
                let _ = writeln!(out, "FAIL  enrollment token: {error}");
                note(Exit::Config, &mut worst);
            }
        },
        None => {
            let _ = writeln!(
                out,
                "note  no enrollment token configured (needed only to enroll)"
            );
        }
    }
    match StateStore::open(&paths.state_dir).and_then(|s| s.install_id().map(|_| s)) {
        Ok(_) => {
            let _ = writeln!(out, "ok    state directory {}", paths.state_dir.display());
        }
        Err(error) => {
            let _ = writeln!(out, "FAIL  state directory: {error}");
            note(Exit::Failure, &mut worst);
        }
    }
    let mut secret_files: Vec<PathBuf> = config
        .platform
        .enrollment_token_file
        .iter()
        .cloned()
        .collect();
    secret_files.extend(config.sources.iter().filter_map(|s| s.token_file.clone()));
    secret_files.extend(
        config
            .sources
            .iter()
            .filter_map(|s| s.pseudonymize.as_ref().map(|p| p.key_file.clone())),
    );
    secret_files.extend(
        config
            .sources
            .iter()
            .filter_map(|s| s.client_secret_file.clone()),
    );
    for file in secret_files {
        if let Some(mode) = crate::config::loose_permissions(&file) {
            let _ = writeln!(
                out,
                "WARN  {} can be read by other users (mode {mode:o}); restrict it with `chmod 600 {}`",
                file.display(),
                file.display()
            );
            if !offline {
                note(Exit::Failure, &mut worst);
            }
        }
    }
    if offline {
        for source in &config.sources {
            if source.kind.is_app() {
                check_app_source(source, offline, out, &mut worst).await;
                continue;
            }
            let resolved = source
                .token()
                .map(|token| (token.describe(), token.resolve()));
            match resolved {
                Some((what, Ok(_))) => {
                    let _ = writeln!(out, "ok    source {}: Humaans token ({what})", source.name);
                }
                Some((what, Err(error))) => {
                    let _ = writeln!(
                        out,
                        "FAIL  source {}: Humaans token ({what}): {error}",
                        source.name
                    );
                    note(Exit::Config, &mut worst);
                }
                None => {
                    let _ = writeln!(out, "FAIL  source {}: no Humaans token", source.name);
                    note(Exit::Config, &mut worst);
                }
            }
        }
        if worst == Exit::Ok {
            let _ = writeln!(
                out,
                "Offline checks passed (Humaans and the platform not contacted)."
            );
        }
        return worst;
    }
    let collector = HumaansCollector::default();
    for source in &config.sources {
        if source.kind.is_app() {
            check_app_source(source, offline, out, &mut worst).await;
            continue;
        }
        match collector.check_access(source).await {
            Ok(access) => match access.warning() {
                Some(warning) => {
                    let _ = writeln!(
                        out,
                        "WARN  source {}: the token works, but {warning}",
                        source.name
                    );
                    note(Exit::Failure, &mut worst);
                }
                None => {
                    let _ = writeln!(
                        out,
                        "ok    source {}: the Humaans token can read public and private data",
                        source.name
                    );
                }
            },
            Err(error) => {
                let _ = writeln!(out, "FAIL  {error}");
                let exit = match &error {
                    CollectError::Token { .. }
                    | CollectError::KeyFile { .. }
                    | CollectError::Key { .. } => Exit::Config,
                    CollectError::Humaans { error, .. } if error.is_retriable() => {
                        Exit::Unavailable
                    }
                    _ => Exit::Failure,
                };
                note(exit, &mut worst);
            }
        }
    }
    match Uplink::with_timeouts(
        &config.platform,
        Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(15),
        },
    ) {
        Ok(uplink) => match uplink.probe().await {
            Ok(code) if code < 500 => {
                let _ = writeln!(
                    out,
                    "ok    platform {} answers (HTTP {code})",
                    config.platform.url
                );
            }
            Ok(code) => {
                let _ = writeln!(
                    out,
                    "FAIL  platform {} answers HTTP {code}; it is up but failing",
                    config.platform.url
                );
                note(Exit::Unavailable, &mut worst);
            }
            Err(error) => {
                let _ = writeln!(out, "FAIL  {error}");
                note(Exit::Unavailable, &mut worst);
            }
        },
        Err(error) => {
            let _ = writeln!(out, "FAIL  {error}");
            note(Exit::Config, &mut worst);
        }
    }
    if worst == Exit::Ok {
        let _ = writeln!(out, "All checks passed.");
    }
    worst
}

/// The exit code for a failed collection.
fn collect_exit(error: &CollectError) -> Exit {
    if error.is_config() {
        Exit::Config
    } else if error.is_retriable() {
        Exit::Unavailable
    } else {
        Exit::Failure
    }
}

/// `check` of an `entra_id` or `seat_list` source (see `appsource::check`).
async fn check_app_source(
    source: &crate::config::SourceConfig,
    offline: bool,
    out: &mut dyn Write,
    worst: &mut Exit,
) {
    let exit = match crate::appsource::check(source, offline, out).await {
        crate::appsource::CheckOutcome::Ok => Exit::Ok,
        crate::appsource::CheckOutcome::Warning if offline => Exit::Ok,
        crate::appsource::CheckOutcome::Warning => Exit::Failure,
        crate::appsource::CheckOutcome::Failed(error) => collect_exit(&error),
    };
    let rank = |e: Exit| match e {
        Exit::Ok => 0,
        Exit::Failure => 1,
        Exit::Unavailable => 2,
        Exit::Config => 3,
    };
    if rank(exit) > rank(*worst) {
        *worst = exit;
    }
}

async fn dry_run(cli: &Cli, paths: &Paths, args: &CollectArgs, out: &mut dyn Write) -> Exit {
    let _log = stderr_logging(cli, None);
    // The configuration is optional for a dry run: flags win, the config fills the gaps.
    let config = if args.token_file.is_some() {
        Config::load(&paths.config_file).ok()
    } else {
        match load_config(paths) {
            Ok(config) => Some(config),
            Err(exit) => {
                eprintln!(
                    "hint: without a configuration file, pass --token-file FILE (and --humaans-url URL)"
                );
                return exit;
            }
        }
    };
    let source = config.as_ref().and_then(|c| match &args.source {
        Some(name) => c.source(name).cloned(),
        None => c.sources.first().cloned(),
    });
    if let (Some(name), None) = (&args.source, &source)
        && config.is_some()
    {
        eprintln!(
            "error: no source named `{name}` in {}",
            paths.config_file.display()
        );
        return Exit::Config;
    }
    if let Some(app) = source.as_ref().filter(|s| s.kind.is_app()) {
        return match crate::appsource::dry_run(app, args.as_of, args.json, out).await {
            Ok(()) => Exit::Ok,
            Err(error) => {
                eprintln!("error: {error}");
                collect_exit(&error)
            }
        };
    }
    let token_file = match args
        .token_file
        .clone()
        .or(source.as_ref().and_then(|s| s.token_file.clone()))
    {
        Some(file) => file,
        None => {
            eprintln!(
                "error: collect --dry-run needs the Humaans token in a file: pass --token-file FILE"
            );
            return Exit::Config;
        }
    };
    let dry = crate::dryrun::DryRunArgs {
        humaans_url: args
            .humaans_url
            .clone()
            .or(source.as_ref().map(|s| s.base_url.clone()))
            .unwrap_or_else(|| "https://app.humaans.io".to_owned()),
        token_file,
        as_of: args.as_of,
        json: args.json,
        csv: args.csv.clone(),
        concurrency: args
            .concurrency
            .or(source.as_ref().map(|s| s.concurrency))
            .unwrap_or(4),
        allow_insecure_http: args.allow_insecure_http,
    };
    match crate::dryrun::run(&dry, out).await {
        Ok(()) => Exit::Ok,
        Err(error) => {
            eprintln!("error: {error}");
            match &error {
                crate::dryrun::DryRunError::TokenFile { .. }
                | crate::dryrun::DryRunError::TokenEmpty { .. }
                | crate::dryrun::DryRunError::Policy(_) => Exit::Config,
                crate::dryrun::DryRunError::Humaans(e) if e.is_retriable() => Exit::Unavailable,
                _ => Exit::Failure,
            }
        }
    }
}

async fn collect(cli: &Cli, paths: &Paths, args: &CollectArgs, out: &mut dyn Write) -> Exit {
    let config = match load_config(paths) {
        Ok(config) => config,
        Err(exit) => return exit,
    };
    let _log = stderr_logging(cli, Some(&config));
    let sources: Vec<_> = match &args.source {
        Some(name) => match config.source(name) {
            Some(source) => vec![source.clone()],
            None => {
                eprintln!(
                    "error: no source named `{name}` in {}",
                    paths.config_file.display()
                );
                return Exit::Config;
            }
        },
        None => config.sources.clone(),
    };
    let store = match open_state(paths) {
        Ok(store) => store,
        Err(exit) => return exit,
    };
    let service = match Service::new(
        config,
        store,
        HumaansCollector::default(),
        ServiceOptions::default(),
    ) {
        Ok(service) => service,
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::Failure;
        }
    };
    let mut exit = Exit::Ok;
    for source in &sources {
        match service.collect_once(source).await {
            Ok(sequence) => {
                let _ = writeln!(
                    out,
                    "Collected source {} into the spool as snapshot #{sequence}; the running agent uploads it once the source is approved.",
                    source.name
                );
            }
            Err(error) => {
                eprintln!("error: {error}");
                exit = match &error {
                    CollectError::Token { .. }
                    | CollectError::KeyFile { .. }
                    | CollectError::Key { .. } => Exit::Config,
                    CollectError::Humaans { error, .. } if error.is_retriable() => {
                        Exit::Unavailable
                    }
                    _ => Exit::Failure,
                };
            }
        }
    }
    exit
}

fn spool(cli: &Cli, paths: &Paths, command: &SpoolCommand, out: &mut dyn Write) -> Exit {
    let config = Config::load(&paths.config_file).ok();
    let _log = stderr_logging(cli, config.as_ref());
    let max_bytes = config.as_ref().map_or(256 << 20, |c| c.spool.max_bytes.0);
    let spool = match Spool::open(&paths.state_dir.join("spool"), max_bytes) {
        Ok(spool) => spool,
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::Failure;
        }
    };
    match command {
        SpoolCommand::List => {
            let entries = match spool.entries() {
                Ok(entries) => entries,
                Err(error) => {
                    eprintln!("error: {error}");
                    return Exit::Failure;
                }
            };
            if entries.is_empty() {
                let _ = writeln!(
                    out,
                    "The spool is empty: every snapshot has been uploaded (or none was collected yet)."
                );
            } else {
                let _ = writeln!(
                    out,
                    "{:<20} {:>8}  {:<32}  {:<20}  {:>10}",
                    "SOURCE", "SEQUENCE", "SNAPSHOT", "COLLECTED (UTC)", "SIZE"
                );
                for e in &entries {
                    let _ = writeln!(
                        out,
                        "{:<20} {:>8}  {:<32}  {:<20}  {:>10}",
                        e.source,
                        e.sequence,
                        e.snapshot_id,
                        e.collected_at.format("%Y-%m-%d %H:%M:%S"),
                        human_bytes(e.bytes)
                    );
                }
                let total: u64 = entries.iter().map(|e| e.bytes).sum();
                let _ = writeln!(
                    out,
                    "{} snapshot(s), {} of {} allowed.",
                    entries.len(),
                    human_bytes(total),
                    human_bytes(max_bytes)
                );
            }
            let quarantined = spool.quarantined().unwrap_or_default();
            if !quarantined.is_empty() {
                let _ = writeln!(
                    out,
                    "{} file(s) set aside in {}.",
                    quarantined.len(),
                    spool.dir().join("quarantine").display()
                );
            }
            Exit::Ok
        }
        SpoolCommand::Purge { source } => match spool.purge(source) {
            Ok(count) => {
                let _ = writeln!(
                    out,
                    "Deleted {count} spooled snapshot(s) of source {source}; they will not be uploaded."
                );
                Exit::Ok
            }
            Err(error) => {
                eprintln!("error: {error}");
                Exit::Failure
            }
        },
    }
}
