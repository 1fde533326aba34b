//! Application sources for the demo and the end-to-end tests: `humaans-sim graph-serve`
//! as a child process, seat-list CSV files, their truths (`graph-truth`,
//! `seat-list-truth`: the `joined` figures the platform must report), the agent
//! configuration for `entra_id` and `seat_list` sources, and the platform's
//! `/api/v1/reports/licences` summed per source kind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::process::Command;

use crate::process::{self, Proc};
use crate::sim::Company;

/// The nine licence seat states, in the platform's rule order.
pub const LICENCE_STATES: &[&str] = &[
    "excluded",
    "orphaned",
    "disabled_holding",
    "unidentified",
    "pre_hire",
    "unknown_activity",
    "never_used",
    "idle",
    "in_use",
];

fn company_args(company: &Company) -> Vec<String> {
    vec![
        "--people".into(),
        company.people.to_string(),
        "--seed".into(),
        company.seed.to_string(),
        "--as-of".into(),
        company.as_of.to_string(),
    ]
}

/// A running `humaans-sim graph-serve`.
#[derive(Debug)]
pub struct GraphSim {
    pub proc: Proc,
    pub login_url: String,
    pub graph_url: String,
    pub tenant_id: String,
    pub client_id: String,
    /// The client secret with every permission the agent needs.
    pub secret_full: String,
}

impl GraphSim {
    pub async fn start(bin: &Path, company: &Company, log: &Path) -> anyhow::Result<Self> {
        let mut command = Command::new(bin);
        command.arg("graph-serve").args(company_args(company));
        command.env("HUMAANS_SIM_LOG", "info");
        let (proc, line) = Proc::spawn_with_json_line(
            "humaans-sim graph-serve",
            command,
            log,
            Duration::from_secs(30),
        )
        .await?;
        let text = |pointer: &str| -> anyhow::Result<String> {
            line.pointer(pointer)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .with_context(|| format!("graph-serve's listening line has no {pointer}: {line}"))
        };
        Ok(Self {
            login_url: text("/login_url")?,
            graph_url: text("/graph_url")?,
            tenant_id: text("/tenant_id")?,
            client_id: text("/client_id")?,
            secret_full: text("/client_secrets/full")?,
            proc,
        })
    }
}

/// The platform's figures for some licence pools, as a truth's `joined` gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Joined {
    pub counts: BTreeMap<String, u64>,
    #[serde(default)]
    pub unassigned: Option<u64>,
    pub reclaimable: u64,
}

impl Joined {
    pub fn count(&self, state: &str) -> u64 {
        self.counts.get(state).copied().unwrap_or(0)
    }

    pub fn unassigned(&self) -> u64 {
        self.unassigned.unwrap_or(0)
    }
}

#[derive(Debug, Deserialize)]
struct TruthWithJoined {
    joined: Joined,
}

async fn joined(bin: &Path, what: &str, args: Vec<String>) -> anyhow::Result<Joined> {
    let mut command = Command::new(bin);
    command.args(&args);
    let out = process::run(what, command, Duration::from_secs(60)).await?;
    if !out.status.success() {
        bail!("{what} failed: {out}");
    }
    let truth: TruthWithJoined = serde_json::from_str(out.stdout.trim())
        .with_context(|| format!("{what} printed no joined truth: {}", out.stdout))?;
    Ok(truth.joined)
}

/// `humaans-sim graph-truth`'s `joined`: every Entra ID pool, summed.
pub async fn graph_truth(bin: &Path, company: &Company) -> anyhow::Result<Joined> {
    let mut args = vec!["graph-truth".to_owned()];
    args.extend(company_args(company));
    joined(bin, "humaans-sim graph-truth", args).await
}

/// A seat-list source: the application, its CSV file and the purchased seats per licence.
#[derive(Debug, Clone)]
pub struct SeatListFile {
    pub app: String,
    pub path: PathBuf,
    pub purchased: Vec<(String, u64)>,
}

impl SeatListFile {
    /// Writes `humaans-sim seat-list --app APP` of `company` to `path`.
    pub async fn write(
        bin: &Path,
        company: &Company,
        app: &str,
        path: &Path,
        purchased: &[(&str, u64)],
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(bin);
        command
            .arg("seat-list")
            .args(company_args(company))
            .args(["--app", app]);
        let out = process::run("humaans-sim seat-list", command, Duration::from_secs(60)).await?;
        if !out.status.success() {
            bail!("humaans-sim seat-list failed: {out}");
        }
        std::fs::write(path, out.stdout.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self {
            app: app.to_owned(),
            path: path.to_owned(),
            purchased: purchased
                .iter()
                .map(|(name, n)| ((*name).to_owned(), *n))
                .collect(),
        })
    }

    /// `humaans-sim seat-list-truth`'s `joined` for this file.
    pub async fn truth(&self, bin: &Path, company: &Company) -> anyhow::Result<Joined> {
        let mut args = vec!["seat-list-truth".to_owned()];
        args.extend(company_args(company));
        args.extend(["--app".to_owned(), self.app.clone()]);
        for (name, n) in &self.purchased {
            args.extend(["--purchased".to_owned(), format!("{name}={n}")]);
        }
        joined(bin, "humaans-sim seat-list-truth", args).await
    }
}

/// How an `entra_id` source reaches its tenant.
#[derive(Debug, Clone)]
pub struct EntraSource {
    pub login_url: String,
    pub graph_url: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
}

/// The app sources an agent configuration gets next to its Humaans source.
#[derive(Debug, Clone, Default)]
pub struct AppSources {
    pub entra: Option<EntraSource>,
    pub seat_list: Option<SeatListFile>,
    pub interval: String,
}

impl AppSources {
    /// An `entra_id` source reading `graph` with its full secret.
    pub fn with_entra(mut self, graph: &GraphSim) -> Self {
        self.entra = Some(EntraSource {
            login_url: graph.login_url.clone(),
            graph_url: graph.graph_url.clone(),
            tenant_id: graph.tenant_id.clone(),
            client_id: graph.client_id.clone(),
            client_secret: graph.secret_full.clone(),
        });
        self
    }

    pub fn with_seat_list(mut self, file: SeatListFile) -> Self {
        self.seat_list = Some(file);
        self
    }

    /// Adds the sources to the agent configuration at `config` (written by
    /// `AgentInstall::write_config`), the client secret in a 0600 file next to it.
    pub fn add_to_config(&self, config: &Path) -> anyhow::Result<()> {
        let dir = config
            .parent()
            .context("the agent configuration has no folder")?;
        let text = std::fs::read_to_string(config)
            .with_context(|| format!("cannot read {}", config.display()))?;
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
        let interval = if self.interval.is_empty() {
            "1m"
        } else {
            self.interval.as_str()
        };
        let mut yaml = String::new();
        if let Some(entra) = &self.entra {
            let secret_file = dir.join("entra-client-secret");
            crate::write_secret_file(&secret_file, &entra.client_secret)?;
            yaml.push_str("  - name: \"m365\"\n    kind: entra_id\n");
            yaml.push_str(&format!("    tenant_id: {}\n", q(&entra.tenant_id)));
            yaml.push_str(&format!("    client_id: {}\n", q(&entra.client_id)));
            yaml.push_str(&format!(
                "    client_secret_file: {}\n",
                q(&secret_file.to_string_lossy())
            ));
            yaml.push_str(&format!("    login_url: {}\n", q(&entra.login_url)));
            yaml.push_str(&format!("    graph_url: {}\n", q(&entra.graph_url)));
            yaml.push_str(&format!(
                "    interval: {}\n    jitter: \"0%\"\n",
                q(interval)
            ));
        }
        if let Some(file) = &self.seat_list {
            yaml.push_str(&format!(
                "  - name: {}\n    kind: seat_list\n",
                q(&file.app.to_lowercase())
            ));
            yaml.push_str(&format!("    path: {}\n", q(&file.path.to_string_lossy())));
            if !file.purchased.is_empty() {
                yaml.push_str("    purchased:\n");
                for (name, n) in &file.purchased {
                    yaml.push_str(&format!("      {}: {n}\n", q(name)));
                }
            }
            yaml.push_str(&format!(
                "    interval: {}\n    jitter: \"0%\"\n",
                q(interval)
            ));
        }
        let Some(at) = text.find("\nlogging:") else {
            bail!(
                "{} has no logging section to insert sources before",
                config.display()
            );
        };
        let mut out = text[..=at].to_owned();
        out.push_str(&yaml);
        out.push_str(&text[at + 1..]);
        std::fs::write(config, out).with_context(|| format!("cannot write {}", config.display()))
    }
}

/// `/api/v1/reports/licences`, as far as the checks read it.
#[derive(Debug, Clone, Deserialize)]
pub struct LicenceReport {
    pub organisations: Vec<OrganisationLicences>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrganisationLicences {
    pub name: String,
    pub counts: BTreeMap<String, u64>,
    pub unassigned: u64,
    pub reclaimable: u64,
    pub monthly_savings: BTreeMap<String, f64>,
    pub applications: Vec<ApplicationLicences>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApplicationLicences {
    pub name: String,
    pub source_kind: String,
    pub pool: String,
    pub purchased: Option<u64>,
    pub assigned: u64,
    pub unassigned: u64,
    pub reclaimable: u64,
    pub counts: BTreeMap<String, u64>,
}

impl LicenceReport {
    /// Every application entry of `kind` (`entra_id`, `seat_list`), summed like a truth's
    /// `joined`.
    pub fn sum(&self, kind: &str) -> Joined {
        let mut out = Joined {
            unassigned: Some(0),
            ..Joined::default()
        };
        for app in self
            .organisations
            .iter()
            .flat_map(|o| o.applications.iter())
            .filter(|a| a.source_kind == kind)
        {
            for (state, n) in &app.counts {
                *out.counts.entry(state.clone()).or_default() += n;
            }
            out.unassigned = Some(out.unassigned() + app.unassigned);
            out.reclaimable += app.reclaimable;
        }
        out
    }

    /// Licences held by sources of `kind` (for "has everything arrived").
    pub fn assigned(&self, kind: &str) -> u64 {
        self.organisations
            .iter()
            .flat_map(|o| o.applications.iter())
            .filter(|a| a.source_kind == kind)
            .map(|a| a.assigned)
            .sum()
    }
}

/// The differences between the platform's figures and a truth (empty: equal).
pub fn differences(platform: &Joined, truth: &Joined) -> Vec<String> {
    let mut out = Vec::new();
    for state in LICENCE_STATES {
        if platform.count(state) != truth.count(state) {
            out.push(format!(
                "{state}: platform {}, truth {}",
                platform.count(state),
                truth.count(state)
            ));
        }
    }
    if platform.unassigned() != truth.unassigned() {
        out.push(format!(
            "unassigned: platform {}, truth {}",
            platform.unassigned(),
            truth.unassigned()
        ));
    }
    if platform.reclaimable != truth.reclaimable {
        out.push(format!(
            "reclaimable: platform {}, truth {}",
            platform.reclaimable, truth.reclaimable
        ));
    }
    out
}

/// Prints the platform's figures next to a truth's, one line per state.
pub fn print_side_by_side(title: &str, platform: &Joined, truth: &Joined) -> bool {
    println!("{title}");
    println!("    {:<18} {:>8} {:>8}", "state", "console", "truth");
    let line = |name: &str, p: u64, t: u64| {
        let mark = if p == t { "" } else { "  <- differs" };
        println!("    {name:<18} {p:>8} {t:>8}{mark}");
    };
    for state in LICENCE_STATES {
        line(state, platform.count(state), truth.count(state));
    }
    line("unassigned", platform.unassigned(), truth.unassigned());
    line("reclaimable", platform.reclaimable, truth.reclaimable);
    differences(platform, truth).is_empty()
}
