//! The Humaans simulator as a child process, and its ground truth.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use serde::Deserialize;
use tokio::process::Command;

use crate::process::{self, Proc};

/// The simulated company.
#[derive(Debug, Clone)]
pub struct Company {
    pub people: usize,
    pub seed: u64,
    pub as_of: NaiveDate,
}

impl Company {
    fn args(&self) -> Vec<String> {
        vec![
            "--people".into(),
            self.people.to_string(),
            "--seed".into(),
            self.seed.to_string(),
            "--as-of".into(),
            self.as_of.to_string(),
        ]
    }
}

/// A running `humaans-sim serve`.
#[derive(Debug)]
pub struct Sim {
    pub proc: Proc,
    pub url: String,
    /// Token with public:read and private:read.
    pub token_full: String,
    /// Token with public:read only.
    pub token_public_only: String,
}

impl Sim {
    /// Starts the simulator; `faults` are extra `serve` flags (e.g. `--server-error-every 3`).
    pub async fn start(
        bin: &Path,
        company: &Company,
        faults: &[&str],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(bin);
        command.arg("serve").args(company.args()).args(faults);
        command.env("HUMAANS_SIM_LOG", "info");
        let (proc, line) =
            Proc::spawn_with_json_line("humaans-sim", command, log, Duration::from_secs(30))
                .await?;
        let text = |pointer: &str| -> anyhow::Result<String> {
            line.pointer(pointer)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .with_context(|| format!("humaans-sim's listening line has no {pointer}: {line}"))
        };
        Ok(Self {
            url: text("/url")?,
            token_full: text("/tokens/full")?,
            token_public_only: text("/tokens/public_only")?,
            proc,
        })
    }
}

/// What `humaans-sim truth` prints.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Truth {
    /// Seat-state counts: pre_hire, active, leaving, inactive, offboarded, unknown.
    pub counts: BTreeMap<String, u64>,
    pub inactive_reasons: BTreeMap<String, u64>,
    #[serde(default)]
    pub pre_hires_starting_soon: Option<u64>,
    #[serde(default)]
    pub recent_leavers: Option<u64>,
}

impl Truth {
    pub fn count(&self, state: &str) -> u64 {
        self.counts.get(state).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// Runs `humaans-sim truth` for `company`.
pub async fn truth(bin: &Path, company: &Company) -> anyhow::Result<Truth> {
    let mut command = Command::new(bin);
    command.arg("truth").args(company.args());
    let out = process::run("humaans-sim truth", command, Duration::from_secs(60)).await?;
    if !out.status.success() {
        bail!("humaans-sim truth failed: {out}");
    }
    serde_json::from_str(out.stdout.trim()).with_context(|| {
        format!(
            "humaans-sim truth printed something else than the truth: {}",
            out.stdout
        )
    })
}
