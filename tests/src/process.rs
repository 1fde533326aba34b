//! Child processes: started with their output in a log file, killed when dropped.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// A running child process. Dropping it kills the process (`kill_on_drop`).
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    pub child: Child,
    /// Where its standard error (and standard output after the first line) goes.
    pub log: PathBuf,
}

/// Output of a command that ran to the end.
#[derive(Debug, Clone)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Standard output and error together, for messages and scans.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

fn append(log: &Path) -> anyhow::Result<std::fs::File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open the log file {}", log.display()))
}

impl Proc {
    /// Starts `command` with standard error appended to `log`, and waits up to `timeout`
    /// for the first line of standard output, which it returns parsed as JSON (the
    /// "listening" line of the platform and the simulator). Later output goes to `log`.
    pub async fn spawn_with_json_line(
        name: &str,
        mut command: Command,
        log: &Path,
        timeout: Duration,
    ) -> anyhow::Result<(Self, serde_json::Value)> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(append(log)?)
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {name} ({command:?})"))?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(timeout, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) | Ok(Err(_)) => {
                let status = child.wait().await.ok();
                let tail = tail_of(log);
                bail!(
                    "{name} ended before saying where it listens ({status:?}); its log {}:\n{tail}",
                    log.display()
                );
            }
            Err(_) => {
                let _ = child.start_kill();
                bail!(
                    "{name} did not say where it listens within {timeout:?}; its log {}:\n{}",
                    log.display(),
                    tail_of(log)
                );
            }
        };
        let value: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{name} printed a first line that is not JSON: {line:?}"))?;
        // Keep draining standard output into the log, so the child never blocks on it.
        let log_path = log.to_owned();
        tokio::spawn(async move {
            let Ok(file) = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .await
            else {
                return;
            };
            let mut file = file;
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = file.write_all(format!("{line}\n").as_bytes()).await;
            }
        });
        Ok((
            Self {
                name: name.to_owned(),
                child,
                log: log.to_owned(),
            },
            value,
        ))
    }

    /// Starts `command` with standard output and error appended to `log`.
    pub fn spawn_logged(name: &str, mut command: Command, log: &Path) -> anyhow::Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(append(log)?)
            .stderr(append(log)?)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name} ({command:?})"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL on Unix) and reaps it.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child.start_kill().ok();
        self.child
            .wait()
            .await
            .with_context(|| format!("cannot reap {}", self.name))?;
        Ok(())
    }

    /// Asks the process to stop (SIGTERM on Unix), waits up to `grace`, then kills it.
    /// Returns the exit status, or `None` when it had to be killed.
    pub async fn stop(&mut self, grace: Duration) -> anyhow::Result<Option<ExitStatus>> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Ok(Some(status));
        }
        if let Some(pid) = self.child.id() {
            terminate(pid);
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => Ok(Some(
                status.with_context(|| format!("cannot reap {}", self.name))?,
            )),
            Err(_) => {
                self.kill().await?;
                Ok(None)
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self) -> String {
        tail_of(&self.log)
    }
}

/// Sends SIGTERM (Unix, through `kill(1)`: this workspace forbids `unsafe`, so no libc).
/// Elsewhere nothing: the caller kills after the grace period.
fn terminate(pid: u32) {
    #[cfg(unix)]
    {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
    }
}

/// Runs `command` to the end (killed after `timeout`), capturing its output.
pub async fn run(name: &str, mut command: Command, timeout: Duration) -> anyhow::Result<Finished> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .with_context(|| format!("cannot start {name} ({command:?})"))?;
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .with_context(|| format!("{name} did not finish within {timeout:?}"))?
        .with_context(|| format!("cannot wait for {name}"))?;
    Ok(Finished {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// The last 40 lines of a file, or a note that it cannot be read.
pub fn tail_of(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        }
        Err(error) => format!("(cannot read {}: {error})", path.display()),
    }
}
