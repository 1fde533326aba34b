//! The platform as a child process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Command;

use crate::process::{self, Proc};

/// A running `seatbroker-platform serve`.
#[derive(Debug)]
pub struct Platform {
    pub proc: Proc,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    pub data_dir: PathBuf,
}

impl Platform {
    /// Starts the platform on SQLite in `data_dir`, listening on `listen` (port 0 picks one).
    /// `log_level` is a tracing filter for `SEATBROKER_LOG`.
    pub async fn start(
        bin: &Path,
        data_dir: &Path,
        listen: &str,
        log: &Path,
        log_level: &str,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir).with_context(|| {
            format!(
                "cannot create the platform's data folder {}",
                data_dir.display()
            )
        })?;
        let mut command = Command::new(bin);
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(listen)
            .env("SEATBROKER_LOG", log_level)
            .env_remove("SEATBROKER_DATABASE_URL");
        let (proc, line) = Proc::spawn_with_json_line(
            "seatbroker-platform",
            command,
            log,
            Duration::from_secs(60),
        )
        .await?;
        let url = line
            .get("url")
            .and_then(|v| v.as_str())
            .with_context(|| format!("the platform's listening line has no url: {line}"))?
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            proc,
            url,
            data_dir: data_dir.to_owned(),
        })
    }

    /// The address the platform listens on (to restart it on the same port).
    pub fn addr(&self) -> anyhow::Result<SocketAddr> {
        let host_port = self
            .url
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(&self.url);
        host_port
            .parse()
            .with_context(|| format!("cannot read an address from {}", self.url))
    }

    /// The SQLite database file.
    pub fn database(&self) -> PathBuf {
        self.data_dir.join("seatbroker.db")
    }
}

/// Creates (or resets) a console user with `seatbroker-platform admin create`; the
/// password goes through a file only the caller can read, never the command line.
pub async fn create_user(
    bin: &Path,
    data_dir: &Path,
    username: &str,
    role: &str,
    password: &str,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir).with_context(|| {
        format!(
            "cannot create the platform's data folder {}",
            data_dir.display()
        )
    })?;
    let file = data_dir.join(".new-user-password");
    crate::write_secret_file(&file, password)?;
    let mut command = Command::new(bin);
    command
        .arg("admin")
        .arg("create")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--username")
        .arg(username)
        .arg("--role")
        .arg(role)
        .arg("--password-file")
        .arg(&file)
        .env("SEATBROKER_LOG", "warn")
        .env_remove("SEATBROKER_DATABASE_URL");
    let out = process::run(
        "seatbroker-platform admin create",
        command,
        Duration::from_secs(60),
    )
    .await;
    let _ = std::fs::remove_file(&file);
    let out = out?;
    if !out.status.success() {
        bail!("seatbroker-platform admin create failed: {out}");
    }
    Ok(())
}
