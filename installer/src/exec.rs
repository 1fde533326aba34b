//! Applies a plan to the file system and runs its commands, or prints it (`--dry-run`).
//! The only module that changes anything; its OS-specific calls (modes, ownership) are
//! behind `cfg(unix)`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::InstallError;
use crate::plan::{Action, Command, InstallPlan, OnFailure, Owner};

/// How an executor treats a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecOptions {
    /// Prefix for every path; commands are printed, never run, under a root.
    pub root: Option<PathBuf>,
    /// Print the plan and change nothing.
    pub dry_run: bool,
    /// Apply ownership (only possible, and only tried, when running as root).
    pub apply_ownership: bool,
}

/// What applying a plan did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ApplyReport {
    /// Commands printed but not run (under `--root`).
    pub skipped_commands: Vec<Command>,
    /// Paths whose owner could only be recorded (the name does not resolve here).
    pub owner_recorded_only: Vec<PathBuf>,
}

/// Applies (or prints) `plan`, writing progress lines to `out`.
pub(crate) fn apply(
    plan: &InstallPlan,
    opts: &ExecOptions,
    out: &mut dyn Write,
) -> Result<ApplyReport, InstallError> {
    let mut report = ApplyReport::default();
    if opts.dry_run {
        let _ = writeln!(out, "# dry run: nothing is changed");
        if let Some(root) = &opts.root {
            let _ = writeln!(
                out,
                "# paths are under --root {}; commands would not be run",
                root.display()
            );
        }
        let _ = write!(out, "{plan}");
        return Ok(report);
    }
    let root = opts.root.as_deref();
    for action in &plan.actions {
        match action {
            Action::CreateDir { path, mode, owner } => {
                let host = path.on_host(root);
                fs::create_dir_all(&host).map_err(|e| io_err("create the folder", &host, e))?;
                set_mode(&host, *mode)?;
                set_owner(&host, owner, opts, &mut report)?;
                let _ = writeln!(out, "created {path}");
            }
            Action::WriteFile {
                path,
                mode,
                owner,
                contents,
            } => {
                let host = path.on_host(root);
                write_atomically(&host, *mode, owner, opts, &mut report, |file| {
                    file.write_all(contents.bytes())
                })?;
                let _ = writeln!(out, "wrote   {path} ({})", contents.summary());
            }
            Action::Copy {
                from,
                to,
                mode,
                owner,
            } => {
                let host = to.on_host(root);
                let mut source = fs::File::open(from).map_err(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        InstallError::BinaryMissing { path: from.clone() }
                    } else {
                        io_err("read", from, e)
                    }
                })?;
                write_atomically(&host, *mode, owner, opts, &mut report, |file| {
                    io::copy(&mut source, file).map(drop)
                })?;
                let _ = writeln!(out, "copied  {} -> {to}", from.display());
            }
            Action::RemoveFile { path } => {
                let host = path.on_host(root);
                match fs::remove_file(&host) {
                    Ok(()) => {
                        let _ = writeln!(out, "removed {path}");
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err("remove", &host, e)),
                }
            }
            Action::RemoveTree { path } => {
                let host = path.on_host(root);
                let result = match fs::symlink_metadata(&host) {
                    Ok(meta) if meta.is_dir() => fs::remove_dir_all(&host),
                    Ok(_) => fs::remove_file(&host),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => Err(e),
                };
                result.map_err(|e| io_err("remove", &host, e))?;
                let _ = writeln!(out, "removed {path} (and everything in it)");
            }
            Action::Run {
                command,
                why,
                on_failure,
                hint,
            } => {
                if root.is_some() {
                    let _ = writeln!(out, "skipped (--root) {}  # {why}", command.display());
                    report.skipped_commands.push(command.clone());
                    continue;
                }
                let _ = writeln!(out, "running {}  # {why}", command.display());
                match run_command(command, hint, out) {
                    Ok(()) => {}
                    Err(e) if *on_failure == OnFailure::Continue => {
                        let _ = writeln!(out, "  (ignored: {e})");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(report)
}

fn io_err(op: &'static str, path: &Path, source: io::Error) -> InstallError {
    let hint = if source.kind() == io::ErrorKind::PermissionDenied {
        "run as root (sudo), or install under a folder you own with --root DIR"
    } else {
        "check the path and free disk space, then run the command again"
    };
    InstallError::Io {
        op,
        path: path.to_path_buf(),
        hint,
        source,
    }
}

/// Temporary file (readable by its owner only), sync, mode, owner, rename, sync folder: a
/// reader sees the old file or the new one, never half of one, and a secret is never
/// briefly world-readable.
fn write_atomically(
    target: &Path,
    mode: Option<u32>,
    owner: &Owner,
    opts: &ExecOptions,
    report: &mut ApplyReport,
    fill: impl FnOnce(&mut fs::File) -> io::Result<()>,
) -> Result<(), InstallError> {
    let parent = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| io_err("create the folder", parent, e))?;
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".seatbroker-install.tmp");
    let tmp = parent.join(name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp).map_err(|e| io_err("write", &tmp, e))?;
        fill(&mut file).map_err(|e| io_err("write", &tmp, e))?;
        file.sync_all().map_err(|e| io_err("write", &tmp, e))?;
        drop(file);
        set_mode(&tmp, mode)?;
        set_owner_as(&tmp, target, owner, opts, report)?;
        fs::rename(&tmp, target).map_err(|e| io_err("replace", target, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    if let Ok(dir) = fs::File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn set_mode(path: &Path, mode: Option<u32>) -> Result<(), InstallError> {
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| io_err("set the mode of", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn set_owner(
    path: &Path,
    owner: &Owner,
    opts: &ExecOptions,
    report: &mut ApplyReport,
) -> Result<(), InstallError> {
    set_owner_as(path, path, owner, opts, report)
}

/// Chowns `path` (reported as `shown`) when running as root and both names resolve;
/// otherwise the owner is only recorded in the receipt.
fn set_owner_as(
    path: &Path,
    shown: &Path,
    owner: &Owner,
    opts: &ExecOptions,
    report: &mut ApplyReport,
) -> Result<(), InstallError> {
    if !opts.apply_ownership {
        return Ok(());
    }
    #[cfg(unix)]
    {
        let ids = crate::ids::resolve(owner, opts.root.as_deref());
        match ids {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| io_err("change the owner of", path, e))?,
            None => report.owner_recorded_only.push(shown.to_path_buf()),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, owner);
        report.owner_recorded_only.push(shown.to_path_buf());
    }
    Ok(())
}

/// Runs one command (no shell), echoing its output; a failure carries the step's hint.
fn run_command(command: &Command, hint: &str, out: &mut dyn Write) -> Result<(), InstallError> {
    let output = std::process::Command::new(&command.program)
        .args(&command.args)
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                InstallError::CommandNotFound {
                    command: command.display(),
                    program: command.program.clone(),
                    hint: if hint.is_empty() {
                        "install it or fix $PATH".to_owned()
                    } else {
                        hint.to_owned()
                    },
                }
            } else {
                InstallError::CommandFailed {
                    command: command.display(),
                    status: e.to_string(),
                    stderr: String::new(),
                    hint: hint.to_owned(),
                }
            }
        })?;
    let _ = out.write_all(&output.stdout);
    if output.status.success() {
        let _ = out.write_all(&output.stderr);
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    let stderr = if tail.is_empty() {
        String::new()
    } else {
        format!(
            ": {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        )
    };
    Err(InstallError::CommandFailed {
        command: command.display(),
        status: output.status.to_string(),
        stderr,
        hint: if hint.is_empty() {
            "see the output above".to_owned()
        } else {
            hint.to_owned()
        },
    })
}
