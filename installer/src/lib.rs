//! Installs, upgrades and removes the Seatbroker agent as a background service: systemd
//! (Linux), launchd (macOS) and the Windows Service Control Manager.
//!
//! The work is split in two: pure functions turn an [`InstallRequest`] plus the [`Facts`]
//! of an earlier install into an [`InstallPlan`] (a list of [`Action`]s, including every
//! generated file's contents, for every target OS on every host), and [`exec::apply`]
//! applies a plan or prints it for `--dry-run`.
//!
//! Every module is private; the public facade below is what `main.rs` and the integration
//! tests use: the subcommands ([`install`], [`uninstall`], [`status`]), the pure planners
//! ([`plan_install`], [`plan_uninstall`]) with their inputs and the plan types, and the
//! generated files per OS so tests can check them (systemd unit, launchd plist, skeleton
//! config, the Windows service commands), and the files the Debian packages ship
//! (`package_files`), built from the same pieces.

mod error;
mod exec;
mod ids;
mod layout;
mod linux;
mod macos;
mod plan;
mod planner;
mod probe;
mod receipt;
mod request;
mod skeleton;
mod status;
mod steps;
mod windows;

use std::io::Write;
use std::path::{Path, PathBuf};

use seatbroker_protocol::Secret;

pub use error::InstallError;
use exec::ExecOptions;
pub use ids::effective_uid;
pub use layout::{Layout, LayoutEnv, UserIdentity};
pub use linux::{package_files, package_layout, systemd_unit};
pub use macos::launchd_plist;
pub use plan::{
    Action, Command, Contents, InstallPlan, OnFailure, Owner, Scope, TargetOs, TargetPath,
};
pub use planner::{plan_install, plan_uninstall};
pub use receipt::Receipt;
pub use request::{Facts, InstallRequest, PlanError, ProvidedConfig};
pub use skeleton::skeleton_config;
pub use status::Status;
pub use windows::{acl_commands, environment_command, sc_create, sc_failure, service_command_line};

/// Options every subcommand shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalOptions {
    pub target: TargetOs,
    pub scope: Scope,
    /// Install under this folder; commands are printed, not run.
    pub root: Option<PathBuf>,
    pub dry_run: bool,
    pub env: LayoutEnv,
}

/// `install`'s inputs as paths, before anything is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallInput {
    pub config: Option<PathBuf>,
    pub humaans_token_file: Option<PathBuf>,
    pub enrollment_token_file: Option<PathBuf>,
    pub platform_url: Option<String>,
    pub binary: PathBuf,
    pub start: bool,
}

/// The `seatbroker-agent` next to the running installer.
pub fn default_agent_binary() -> PathBuf {
    let name = format!("seatbroker-agent{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(&name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Reads a token file: one line, surrounding whitespace removed.
pub(crate) fn read_token_file(path: &Path, what: &'static str) -> Result<Secret, InstallError> {
    let text = std::fs::read_to_string(path).map_err(|source| InstallError::ReadInput {
        what,
        path: path.to_path_buf(),
        source,
    })?;
    let token = text.trim();
    let problem = if token.is_empty() {
        Some("empty")
    } else if token.chars().any(char::is_whitespace) {
        Some("more than one line or word")
    } else {
        None
    };
    if let Some(problem) = problem {
        return Err(InstallError::BadToken {
            what,
            path: path.to_path_buf(),
            problem,
        });
    }
    Ok(Secret::new(token))
}

/// Builds the request from `input`, reading the config and token files.
pub(crate) fn read_request(input: &InstallInput) -> Result<InstallRequest, InstallError> {
    if !input.binary.is_file() {
        return Err(InstallError::BinaryMissing {
            path: input.binary.clone(),
        });
    }
    let config = match &input.config {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|source| InstallError::ReadInput {
                what: "config file",
                path: path.clone(),
                source,
            })?;
            let text = String::from_utf8(bytes)
                .map_err(|_| InstallError::ConfigNotText { path: path.clone() })?;
            Some(ProvidedConfig {
                text,
                from: path.clone(),
            })
        }
        None => None,
    };
    let token = |path: &Option<PathBuf>, what| {
        path.as_deref()
            .map(|p| read_token_file(p, what))
            .transpose()
    };
    Ok(InstallRequest {
        agent_binary: input.binary.clone(),
        config,
        platform_url: input.platform_url.clone(),
        humaans_token: token(&input.humaans_token_file, "Humaans token")?,
        enrollment_token: token(&input.enrollment_token_file, "enrollment token")?,
        start: input.start,
    })
}

/// Refuses to touch the real system without the rights to, or for another OS.
fn check_can_apply(opts: &GlobalOptions, command: &'static str) -> Result<(), InstallError> {
    if opts.dry_run || opts.root.is_some() {
        return Ok(());
    }
    let host = TargetOs::host();
    if opts.target != host {
        return Err(InstallError::ForeignTarget {
            target: opts.target,
            host,
        });
    }
    if opts.scope == Scope::System && !ids::is_privileged() {
        return Err(if host == TargetOs::Windows {
            InstallError::NotAdministrator { command }
        } else {
            InstallError::NotRoot { command }
        });
    }
    Ok(())
}

fn exec_options(opts: &GlobalOptions) -> ExecOptions {
    ExecOptions {
        root: opts.root.clone(),
        dry_run: opts.dry_run,
        apply_ownership: opts.scope == Scope::System
            && cfg!(unix)
            && ids::effective_uid() == Some(0),
    }
}

fn finish(plan: &InstallPlan, opts: &GlobalOptions, out: &mut dyn Write) {
    if opts.dry_run {
        return;
    }
    for note in &plan.notes {
        let _ = writeln!(out, "note: {note}");
    }
}

/// `seatbroker-install install`: plan, then apply or print. Returns the plan applied.
pub fn install(
    opts: &GlobalOptions,
    input: &InstallInput,
    out: &mut dyn Write,
) -> Result<InstallPlan, InstallError> {
    check_can_apply(opts, "install")?;
    let layout = Layout::new(opts.target, opts.scope, &opts.env).map_err(PlanError::from)?;
    let request = read_request(input)?;
    let facts = probe::probe(&layout, opts.root.as_deref());
    let plan = plan_install(&request, &layout, &facts)?;
    let report = exec::apply(&plan, &exec_options(opts), out)?;
    if !report.owner_recorded_only.is_empty() {
        let _ = writeln!(
            out,
            "note: owners of {} paths were recorded in {} but not applied (the names do not exist here)",
            report.owner_recorded_only.len(),
            layout.receipt
        );
    }
    finish(&plan, opts, out);
    if !opts.dry_run {
        let _ = writeln!(
            out,
            "{} Seatbroker agent: check it with `{}`",
            if facts.installed {
                "Upgraded the"
            } else {
                "Installed the"
            },
            layout.agent_status_command()
        );
    }
    Ok(plan)
}

/// `seatbroker-install uninstall [--purge]`.
pub fn uninstall(
    opts: &GlobalOptions,
    purge: bool,
    out: &mut dyn Write,
) -> Result<InstallPlan, InstallError> {
    check_can_apply(opts, "uninstall")?;
    let layout = Layout::new(opts.target, opts.scope, &opts.env).map_err(PlanError::from)?;
    let plan = plan_uninstall(&layout, purge);
    exec::apply(&plan, &exec_options(opts), out)?;
    finish(&plan, opts, out);
    Ok(plan)
}

/// `seatbroker-install status`.
pub fn status(opts: &GlobalOptions, out: &mut dyn Write) -> Result<status::Status, InstallError> {
    let layout = Layout::new(opts.target, opts.scope, &opts.env).map_err(PlanError::from)?;
    let status = status::read(&layout, opts.root.as_deref())?;
    let _ = write!(out, "{status}");
    Ok(status)
}
