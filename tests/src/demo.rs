//! The one-command demo: a platform on SQLite, a simulated Humaans company, the same
//! company's Entra ID tenant (`humaans-sim graph-serve`) and a Slack seat list, and one agent
//! with three sources, walked through enrollment, approval and the first uploads, then left
//! running. It prints the HR seat states and the licence figures next to the simulators'
//! truths.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::agent::{AgentInstall, AgentSettings};
use crate::apps::{self, AppSources, GraphSim, Joined, LicenceReport, SeatListFile};
use crate::bins::Bins;
use crate::console::{AgentRow, OverviewRow, Session};
use crate::platform::{self, Platform};
use crate::process::Proc;
use crate::sim::{self, Company, Sim, Truth};
use crate::wait;

/// File that marks a folder as the demo's, so `--clean` never deletes anything else.
const MARKER: &str = ".seatbroker-demo";
/// The console user the demo creates.
pub const ADMIN_USER: &str = "admin";
/// Seat states in the order the summary prints them.
const STATES: &[&str] = &[
    "active",
    "leaving",
    "inactive",
    "pre_hire",
    "offboarded",
    "unknown",
];

/// What the demo's command line says.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub data_dir: PathBuf,
    pub clean: bool,
    pub auto_approve: bool,
    pub people: usize,
    pub seed: u64,
    /// Port of the console; 0 picks a free one.
    pub port: u16,
}

/// Prints a progress line.
fn step(text: impl AsRef<str>) {
    println!("==> {}", text.as_ref());
}

fn note(text: impl AsRef<str>) {
    println!("    {}", text.as_ref());
}

/// The running parts, stopped in reverse order.
#[derive(Debug, Default)]
struct Children {
    platform: Option<Platform>,
    sim: Option<Sim>,
    graph: Option<GraphSim>,
    agent: Option<Proc>,
}

impl Children {
    async fn stop(&mut self) {
        let grace = Duration::from_secs(10);
        if let Some(agent) = &mut self.agent {
            let _ = agent.stop(grace).await;
        }
        if let Some(sim) = &mut self.sim {
            let _ = sim.proc.stop(grace).await;
        }
        if let Some(graph) = &mut self.graph {
            let _ = graph.proc.stop(grace).await;
        }
        if let Some(platform) = &mut self.platform {
            let _ = platform.proc.stop(grace).await;
        }
    }

    /// The first child that is no longer running, with its log.
    fn dead(&mut self) -> Option<String> {
        let check = |proc: Option<&mut Proc>| {
            let proc = proc?;
            (!proc.is_running()).then(|| {
                format!(
                    "{} stopped unexpectedly; the end of its log {}:\n{}",
                    proc.name,
                    proc.log.display(),
                    proc.log_tail()
                )
            })
        };
        check(self.platform.as_mut().map(|p| &mut p.proc))
            .or_else(|| check(self.sim.as_mut().map(|s| &mut s.proc)))
            .or_else(|| check(self.graph.as_mut().map(|g| &mut g.proc)))
            .or_else(|| check(self.agent.as_mut()))
    }
}

/// Runs the demo until Ctrl-C (or SIGTERM). Children are stopped on every way out.
pub async fn run(options: DemoOptions, bins: Bins) -> anyhow::Result<()> {
    let mut children = Children::default();
    let result = tokio::select! {
        result = walk(&options, &bins, &mut children) => result,
        () = stop_signal() => {
            println!();
            step("Stopping (interrupted).");
            Ok(())
        }
    };
    children.stop().await;
    if result.is_ok() {
        step(format!(
            "Stopped. The demo's data stays in {}; run again to continue, or pass --clean (or delete the folder) to start over.",
            options.data_dir.display()
        ));
    }
    result
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn prepare_folder(options: &DemoOptions) -> anyhow::Result<PathBuf> {
    let dir = &options.data_dir;
    if dir.exists() {
        let marked = dir.join(MARKER).exists();
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !marked && !empty {
            bail!(
                "{} exists and is not a demo folder (no {MARKER} file); choose another with --data-dir",
                dir.display()
            );
        }
        if options.clean && marked {
            step(format!(
                "Removing the earlier demo's data in {} (--clean).",
                dir.display()
            ));
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "Created by seatbroker-demo; safe to delete.\n",
    )
    .with_context(|| format!("cannot write in {}", dir.display()))?;
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
    Ok(dir)
}

async fn walk(options: &DemoOptions, bins: &Bins, children: &mut Children) -> anyhow::Result<()> {
    let dir = prepare_folder(options)?;
    let logs = dir.join("logs");
    step(format!(
        "Demo data folder: {} (remove it with --clean, or delete it)",
        dir.display()
    ));

    let platform_dir = dir.join("platform");
    let password = crate::random_password(16);
    let reused = platform_dir.join("seatbroker.db").exists();
    platform::create_user(
        &bins.platform,
        &platform_dir,
        ADMIN_USER,
        "admin",
        &password,
    )
    .await?;
    if reused {
        step(format!(
            "Reset the console user {ADMIN_USER}'s password to {password}"
        ));
    } else {
        step(format!(
            "Created the console user {ADMIN_USER} with password {password}"
        ));
    }

    let listen = format!("127.0.0.1:{}", options.port);
    let p = Platform::start(
        &bins.platform,
        &platform_dir,
        &listen,
        &logs.join("platform.log"),
        "info",
    )
    .await?;
    step(format!(
        "Platform running on SQLite at {} (log: logs/platform.log)",
        p.url
    ));
    let console_url = p.url.clone();
    children.platform = Some(p);

    let company = Company {
        people: options.people,
        seed: options.seed,
        as_of: chrono::Utc::now().date_naive(),
    };
    let s = Sim::start(&bins.sim, &company, &[], &logs.join("humaans-sim.log")).await?;
    step(format!(
        "Simulated Humaans company: {} people (seed {}) at {} (log: logs/humaans-sim.log)",
        company.people, company.seed, s.url
    ));
    let sim_url = s.url.clone();
    let humaans_token = s.token_full.clone();
    children.sim = Some(s);
    let truth = sim::truth(&bins.sim, &company).await?;

    let graph = GraphSim::start(&bins.sim, &company, &logs.join("graph-sim.log")).await?;
    step(format!(
        "Simulated Entra ID tenant of the same company at {} (log: logs/graph-sim.log)",
        graph.graph_url
    ));
    let graph_truth = apps::graph_truth(&bins.sim, &company).await?;
    let app_sources = AppSources::default().with_entra(&graph);
    children.graph = Some(graph);
    let seat_list_dir = dir.join("seat-lists");
    std::fs::create_dir_all(&seat_list_dir)
        .with_context(|| format!("cannot create {}", seat_list_dir.display()))?;
    let seat_list = SeatListFile::write(
        &bins.sim,
        &company,
        "Slack",
        &seat_list_dir.join("slack.csv"),
        &[("Pro", 40)],
    )
    .await?;
    let seat_list_truth = seat_list.truth(&bins.sim, &company).await?;
    step(format!(
        "Slack seat list of the same company: {}",
        seat_list.path.display()
    ));
    let app_sources = app_sources.with_seat_list(seat_list);

    let session = Session::login(&console_url, ADMIN_USER, &password).await?;
    step(format!(
        "Logged in to the console as {ADMIN_USER} over HTTP."
    ));

    let mut settings = AgentSettings::new(&console_url, &sim_url, &humaans_token);
    let agent_dir = dir.join("agent");
    let already_enrolled = agent_dir.join("state").join("credential").exists();
    if !already_enrolled {
        let token = session
            .create_enrollment_token("demo agent", Some(1))
            .await?;
        step("Created a one-use enrollment token in the console (Enrollment tokens page).");
        settings.enrollment_token = Some(token);
    }
    let install = AgentInstall::create(&bins.agent, &agent_dir, &settings)?;
    app_sources.add_to_config(&install.config)?;
    step(format!(
        "Agent configuration with three sources (humaans, m365 as entra_id, slack as seat_list): {}",
        install.config.display()
    ));
    if already_enrolled {
        step("The agent enrolled in an earlier run; it keeps its credential.");
    } else {
        let out = install.run(&["enroll"], Duration::from_secs(120)).await?;
        if !out.status.success() {
            bail!("seatbroker-agent enroll failed:\n{}", out.all());
        }
        step("The agent enrolled with the token.");
        // The token was for one use; the agent no longer needs it.
        settings.enrollment_token = None;
        install.write_config(&settings)?;
        app_sources.add_to_config(&install.config)?;
        let _ = std::fs::remove_file(agent_dir.join("enrollment-token"));
    }
    let agent_id = agent_id(&install.state_dir)?;

    let before = upload_marker(&session).await?;
    if options.auto_approve {
        // Approve first, so the agent's first check-in already finds itself approved.
        approve(
            options,
            &session,
            &agent_id,
            &console_url,
            &password,
            children,
        )
        .await?;
        children.agent = Some(install.start()?);
        step("Agent running (log: agent/logs/).");
    } else {
        // Start first, so the console shows the agent's heartbeat while it waits.
        children.agent = Some(install.start()?);
        step("Agent running (log: agent/logs/).");
        approve(
            options,
            &session,
            &agent_id,
            &console_url,
            &password,
            children,
        )
        .await?;
    }

    step(if options.auto_approve {
        "Waiting for the agent to collect from Humaans, Entra ID and the seat list and upload..."
    } else {
        "Waiting for the agent to notice the approval (it checks in every 30 s), collect and upload..."
    });
    let sources = wait::until(
        "the first upload of every source to be applied",
        Duration::from_secs(600),
        Duration::from_millis(500),
        || {
            let session = &session;
            let before = &before;
            let dead = children.dead();
            async move {
                if let Some(dead) = dead {
                    bail!(dead);
                }
                let rows = session.overview().await?;
                let fresh: Vec<OverviewRow> = rows
                    .into_iter()
                    .filter(|r| r.last_upload_at.is_some() && r.last_upload_at != *before)
                    .collect();
                let kinds = ["humaans", "entra_id", "seat_list"];
                Ok(kinds
                    .iter()
                    .all(|k| fresh.iter().any(|r| r.kind == *k))
                    .then_some(fresh))
            }
        },
    )
    .await?;
    step("Uploads applied.");
    let row = sources
        .into_iter()
        .find(|r| r.kind == "humaans")
        .context("the overview lists no Humaans source")?;
    println!();
    print_summary(&row, &truth);
    let report: LicenceReport = session.json("/api/v1/reports/licences").await?;
    println!();
    print_licences(&report, &graph_truth, &seat_list_truth);
    println!();
    println!(
        "Console:  {console_url}/   (reclaim: {console_url}/reclaim, applications: {console_url}/applications, inactive seats: {console_url}/seats, approvals: {console_url}/approvals)"
    );
    println!("Login:    {ADMIN_USER} / {password}");
    println!("Data:     {}", dir.display());
    println!("The agent collects again every minute. Press Ctrl-C to stop everything.");

    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(dead) = children.dead() {
            bail!(dead);
        }
    }
}

/// The agent id from the agent's state file.
fn agent_id(state_dir: &Path) -> anyhow::Result<String> {
    let path = state_dir.join("state.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    value
        .get("agent_id")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "{} names no agent_id; did the enrollment work?",
                path.display()
            )
        })
}

/// When the newest upload was applied, before the agent starts (a re-run waits for a new one).
async fn upload_marker(session: &Session) -> anyhow::Result<Option<String>> {
    Ok(session
        .overview()
        .await?
        .into_iter()
        .filter_map(|r| r.last_upload_at)
        .max())
}

async fn approve(
    options: &DemoOptions,
    session: &Session,
    agent_id: &str,
    console_url: &str,
    password: &str,
    children: &mut Children,
) -> anyhow::Result<()> {
    let find = |agents: Vec<AgentRow>| agents.into_iter().find(|a| a.agent_id == agent_id);
    let current = find(session.sources().await?.agents);
    let Some(agent) = current else {
        bail!("the console does not list the agent {agent_id}; see logs/platform.log");
    };
    let decided = |a: &AgentRow| {
        a.state == "approved"
            && a.sources
                .iter()
                .all(|l| l.state == "approved" || l.state == "merged")
    };
    if decided(&agent) {
        step(format!(
            "Agent {} ({agent_id}) and its sources are already approved.",
            agent.host_name
        ));
        return Ok(());
    }
    step(format!(
        "The console shows the agent {} ({agent_id}) as {}; its source {} is {}.",
        agent.host_name,
        agent.state,
        agent
            .sources
            .first()
            .map(|l| l.local_name.as_str())
            .unwrap_or("?"),
        agent
            .sources
            .first()
            .map(|l| l.state.as_str())
            .unwrap_or("?"),
    ));
    if options.auto_approve {
        if agent.state == "pending" {
            session.approve_agent(agent_id).await?;
        }
        for link in agent.sources.iter().filter(|l| l.state == "pending") {
            match &link.proposed_merge {
                Some(target) => session.merge_source(&link.link_id, target).await?,
                None => session.approve_source(&link.link_id).await?,
            }
        }
        step(format!(
            "Approved the agent and its sources on your behalf (--auto-approve), as admin in the console at {console_url}/approvals."
        ));
        return Ok(());
    }
    step("Your turn: approve the agent in the console.");
    note(format!(
        "Open {console_url}/approvals and log in as {ADMIN_USER} / {password}"
    ));
    note("Click \"Approve agent\", then \"Approve as new\" for each of its sources.");
    note("(Or run the demo with --auto-approve to have it done for you.)");
    wait::until(
        "you to approve the agent and its source in the console",
        Duration::from_secs(24 * 3600),
        Duration::from_secs(1),
        || {
            let dead = children.dead();
            async move {
                if let Some(dead) = dead {
                    bail!(dead);
                }
                let agent = find(session.sources().await?.agents);
                match agent {
                    Some(a) if decided(&a) => Ok(Some(())),
                    Some(a) if a.state == "rejected" || a.state == "revoked" => bail!(
                        "the agent was {} in the console; run the demo again with --clean to start over",
                        a.state
                    ),
                    _ => Ok(None),
                }
            }
        },
    )
    .await?;
    step("Approved in the console. Thank you.");
    Ok(())
}

fn print_summary(row: &OverviewRow, truth: &Truth) {
    println!(
        "Seat states of {} ({} people), as the console reports them next to humaans-sim truth:",
        row.name, row.people
    );
    println!("    {:<12} {:>8} {:>8}", "state", "console", "truth");
    let mut all_match = true;
    for state in STATES {
        let console = row.count(state);
        let expected = truth.count(state) as i64;
        let mark = if console == expected {
            ""
        } else {
            "  <- differs"
        };
        all_match &= console == expected;
        println!("    {state:<12} {console:>8} {expected:>8}{mark}");
    }
    println!("    {:<12} {:>8} {:>8}", "total", row.people, truth.total());
    let utilisation = if row.billable > 0 {
        format!("{:.1}%", 100.0 * row.in_use as f64 / row.billable as f64)
    } else {
        "n/a".to_owned()
    };
    println!(
        "Billable seats {}, in use {}, utilisation {utilisation}; inactive seats to reclaim: {} (ended but not offboarded {}, never verified {}).",
        row.billable,
        row.in_use,
        row.inactive,
        truth
            .inactive_reasons
            .get("ended_not_offboarded")
            .copied()
            .unwrap_or(0),
        truth
            .inactive_reasons
            .get("never_verified")
            .copied()
            .unwrap_or(0),
    );
    if all_match {
        println!("Every count matches the simulator's ground truth.");
    } else {
        println!("Some counts differ from the simulator's ground truth (see above).");
    }
}

/// The licence figures of the Entra ID tenant and the seat list next to their truths.
fn print_licences(report: &LicenceReport, graph: &Joined, seat_list: &Joined) {
    let entra = report.sum("entra_id");
    let slack = report.sum("seat_list");
    let entra_ok = apps::print_side_by_side(
        "Licences of the Entra ID tenant (every SKU), as the console reports them next to graph-truth's joined figures:",
        &entra,
        graph,
    );
    let slack_ok = apps::print_side_by_side(
        "Licences of the Slack seat list, next to seat-list-truth's joined figures:",
        &slack,
        seat_list,
    );
    if let Some(org) = report.organisations.first() {
        println!(
            "Organisation {}: {} reclaimable seats ({} unassigned); set prices under Applications to see the savings.",
            org.name, org.reclaimable, org.unassigned
        );
    }
    if entra_ok && slack_ok {
        println!("Every licence figure matches the simulators' joined truth.");
    } else {
        println!("Some licence figures differ from the simulators' joined truth (see above).");
    }
}
