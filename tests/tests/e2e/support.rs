//! A world of real processes for one test: a platform on SQLite, a simulated Humaans
//! company, an admin session, and agents, each in the test's own temporary folder.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use seatbroker_tests::agent::{AgentInstall, AgentSettings};
use seatbroker_tests::bins::Bins;
use seatbroker_tests::console::{AgentRow, OverviewRow, Session};
use seatbroker_tests::platform::{self, Platform};
use seatbroker_tests::process::{Finished, Proc};
use seatbroker_tests::sim::{self, Company, Sim, Truth};
use seatbroker_tests::wait;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

pub(crate) const ADMIN: &str = "admin";
/// Deadline for anything the agent does after a state change (status polls every 30 s).
pub(crate) const AGENT_DEADLINE: Duration = Duration::from_secs(120);
pub(crate) const POLL: Duration = Duration::from_millis(250);
/// Deadline of one short agent command.
pub(crate) const COMMAND_DEADLINE: Duration = Duration::from_secs(120);

/// Today (UTC): the agent evaluates seat states as of today, so the simulator must too.
pub(crate) fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// One test's processes and folders. Dropping it kills every process and deletes the folder.
pub(crate) struct World {
    pub(crate) bins: Bins,
    pub(crate) company: Company,
    pub(crate) truth: Truth,
    pub(crate) platform: Platform,
    pub(crate) sim: Sim,
    pub(crate) admin: Session,
    pub(crate) admin_password: String,
    /// `seatbroker-agent run` processes started with [`World::start_agent`].
    pub(crate) agents: Vec<Proc>,
    pub(crate) platform_log_level: String,
    /// Collection interval written into new agents' configuration (`1m` unless a test
    /// needs the running agent to stay quiet, as the outage test does).
    pub(crate) agent_interval: String,
    // Last: the folder outlives the processes above.
    pub(crate) tmp: tempfile::TempDir,
}

impl World {
    pub(crate) async fn start(people: usize, seed: u64) -> anyhow::Result<Self> {
        Self::start_with(people, seed, "info", &[]).await
    }

    /// `sim_flags` are extra `humaans-sim serve` flags (latency, faults); `--unstable-order`
    /// is always on.
    pub(crate) async fn start_with(
        people: usize,
        seed: u64,
        platform_log_level: &str,
        sim_flags: &[&str],
    ) -> anyhow::Result<Self> {
        let bins = Bins::for_tests()?;
        let tmp = tempfile::Builder::new()
            .prefix("seatbroker-e2e-")
            .tempdir()?;
        let company = Company {
            people,
            seed,
            as_of: today(),
        };
        let data_dir = tmp.path().join("platform");
        let admin_password = seatbroker_tests::random_password(20);
        platform::create_user(&bins.platform, &data_dir, ADMIN, "admin", &admin_password).await?;
        let platform = Platform::start(
            &bins.platform,
            &data_dir,
            "127.0.0.1:0",
            &tmp.path().join("platform.log"),
            platform_log_level,
        )
        .await?;
        // Every world's Humaans serves an unstable order unless the agent sorts, as a
        // database without an explicit order may: a missing `$sort` fails every test.
        let flags: Vec<&str> = std::iter::once("--unstable-order")
            .chain(
                sim_flags
                    .iter()
                    .copied()
                    .filter(|f| *f != "--unstable-order"),
            )
            .collect();
        let sim = Sim::start(&bins.sim, &company, &flags, &tmp.path().join("sim.log")).await?;
        let truth = sim::truth(&bins.sim, &company).await?;
        let admin = Session::login(&platform.url, ADMIN, &admin_password).await?;
        Ok(Self {
            bins,
            company,
            truth,
            platform,
            sim,
            admin,
            admin_password,
            agents: Vec::new(),
            platform_log_level: platform_log_level.to_owned(),
            agent_interval: "1m".to_owned(),
            tmp,
        })
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Settings for an agent that reads this world's simulator.
    pub(crate) fn settings(&self) -> AgentSettings {
        let mut settings =
            AgentSettings::new(&self.platform.url, &self.sim.url, &self.sim.token_full);
        settings.interval = self.agent_interval.clone();
        settings
    }

    /// A new agent installation in folder `name`, with a fresh one-use enrollment token.
    pub(crate) async fn new_agent(&self, name: &str) -> anyhow::Result<AgentInstall> {
        let mut settings = self.settings();
        settings.enrollment_token = Some(self.admin.create_enrollment_token(name, Some(1)).await?);
        AgentInstall::create(&self.bins.agent, &self.path(name), &settings)
    }

    /// Runs `seatbroker-agent enroll`; returns the agent id from its state file.
    pub(crate) async fn enroll(&self, agent: &AgentInstall) -> anyhow::Result<String> {
        let out = agent.run(&["enroll"], COMMAND_DEADLINE).await?;
        ensure!(
            out.status.success(),
            "seatbroker-agent enroll failed: {out}"
        );
        agent_id(&agent.state_dir)
    }

    /// The console's row of `agent_id` (from the sources report: every agent).
    pub(crate) async fn agent_row(&self, agent_id: &str) -> anyhow::Result<AgentRow> {
        self.admin
            .sources()
            .await?
            .agents
            .into_iter()
            .find(|a| a.agent_id == agent_id)
            .with_context(|| format!("the console does not list agent {agent_id}"))
    }

    /// Approves the agent and each of its pending sources as new, as the admin.
    pub(crate) async fn approve_as_new(&self, agent_id: &str) -> anyhow::Result<()> {
        self.admin.approve_agent(agent_id).await?;
        for link in self.agent_row(agent_id).await?.sources {
            if link.state == "pending" {
                self.admin.approve_source(&link.link_id).await?;
            }
        }
        Ok(())
    }

    /// Enrolls a new agent in folder `name`, approves it and its source as new.
    pub(crate) async fn approved_agent(
        &self,
        name: &str,
    ) -> anyhow::Result<(AgentInstall, String)> {
        let agent = self.new_agent(name).await?;
        let id = self.enroll(&agent).await?;
        self.approve_as_new(&id).await?;
        Ok((agent, id))
    }

    /// Starts `seatbroker-agent run` for `agent`; returns its index in `self.agents`.
    pub(crate) fn start_agent(&mut self, agent: &AgentInstall) -> anyhow::Result<usize> {
        self.agents.push(agent.start()?);
        Ok(self.agents.len() - 1)
    }

    /// Stops the platform (SIGTERM, then SIGKILL after 15 s).
    pub(crate) async fn stop_platform(&mut self) -> anyhow::Result<()> {
        self.platform.proc.stop(Duration::from_secs(15)).await?;
        Ok(())
    }

    /// Starts the platform again on the same data folder and port.
    pub(crate) async fn restart_platform(&mut self) -> anyhow::Result<()> {
        let addr = self.platform.addr()?;
        let log = self.path("platform.log");
        // The port was just freed; another process could take it, so retry a little.
        let mut last = None;
        for _ in 0..20 {
            match Platform::start(
                &self.bins.platform,
                &self.platform.data_dir,
                &addr.to_string(),
                &log,
                &self.platform_log_level,
            )
            .await
            {
                Ok(platform) => {
                    self.platform = platform;
                    self.admin =
                        Session::login(&self.platform.url, ADMIN, &self.admin_password).await?;
                    return Ok(());
                }
                Err(error) => {
                    last = Some(error);
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("the platform did not restart")))
    }

    /// Snapshots the platform has received, in the order they were applied.
    pub(crate) async fn snapshots(&self) -> anyhow::Result<Vec<SnapshotRow>> {
        read_snapshots(&self.platform.database()).await
    }

    /// The seat history a snapshot applied twice, or out of order, would leave behind: more
    /// than one open row for a person, a row that ends before it starts, or a current seat
    /// without its open history row.
    pub(crate) async fn assert_history_sound(&self) -> anyhow::Result<()> {
        let database = self.platform.database();
        let pool = read_only_pool(&database).await?;
        let count = |sql: &'static str| {
            let pool = pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await?;
                anyhow::Ok(n)
            }
        };
        let doubled = count(
            "SELECT COUNT(*) FROM (SELECT source_id, person_id FROM seat_history \
             WHERE valid_to IS NULL GROUP BY source_id, person_id HAVING COUNT(*) > 1)",
        )
        .await?;
        let backwards =
            count("SELECT COUNT(*) FROM seat_history WHERE valid_to IS NOT NULL AND valid_to < valid_from")
                .await?;
        let orphans = count(
            "SELECT COUNT(*) FROM seats_current c WHERE NOT EXISTS (SELECT 1 FROM seat_history h \
             WHERE h.source_id = c.source_id AND h.person_id = c.person_id AND h.valid_to IS NULL)",
        )
        .await?;
        pool.close().await;
        ensure!(
            (doubled, backwards, orphans) == (0, 0, 0),
            "seat history is unsound: {doubled} people with two open rows, {backwards} rows ending \
             before they start, {orphans} current seats without an open row"
        );
        Ok(())
    }

    /// Waits until `count` snapshots are applied; returns all applied ones.
    pub(crate) async fn wait_applied(&self, count: usize) -> anyhow::Result<Vec<SnapshotRow>> {
        wait::until(
            &format!("{count} applied snapshot(s)"),
            AGENT_DEADLINE,
            POLL,
            || async {
                let applied: Vec<SnapshotRow> = self
                    .snapshots()
                    .await?
                    .into_iter()
                    .filter(|s| s.state == "applied")
                    .collect();
                Ok((applied.len() >= count).then_some(applied))
            },
        )
        .await
    }

    /// The overview row of the only source; fails if there is not exactly one.
    pub(crate) async fn only_source(&self) -> anyhow::Result<OverviewRow> {
        let rows = self.admin.overview().await?;
        ensure!(
            rows.len() == 1,
            "expected exactly one source, the console shows {}: {rows:?}",
            rows.len()
        );
        Ok(rows.into_iter().next().unwrap_or_else(|| unreachable!()))
    }

    /// Asserts that the console's counts of `row` equal the simulator's truth.
    pub(crate) fn assert_matches_truth(&self, row: &OverviewRow) -> anyhow::Result<()> {
        let mut differences = Vec::new();
        for (state, expected) in &self.truth.counts {
            let got = row.count(state);
            if got != *expected as i64 {
                differences.push(format!("{state}: console {got}, truth {expected}"));
            }
        }
        if row.people != self.truth.total() as i64 {
            differences.push(format!(
                "people: console {}, truth {}",
                row.people,
                self.truth.total()
            ));
        }
        if !differences.is_empty() {
            bail!(
                "the console's numbers differ from humaans-sim truth: {}",
                differences.join("; ")
            );
        }
        Ok(())
    }

    /// The agent processes' and the platform's logs, for failure messages.
    pub(crate) fn logs(&self) -> String {
        let mut text = format!("--- platform log\n{}\n", self.platform.proc.log_tail());
        for agent in &self.agents {
            text.push_str(&format!(
                "--- {} ({})\n{}\n",
                agent.name,
                agent.log.display(),
                agent.log_tail()
            ));
        }
        text
    }
}

/// A row of the platform's `snapshots` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotRow {
    pub(crate) id: String,
    pub(crate) agent_id: String,
    pub(crate) sequence: i64,
    pub(crate) state: String,
    pub(crate) applied_at: Option<String>,
    pub(crate) applied_to: Option<String>,
    pub(crate) people: Option<i64>,
    pub(crate) private_access: Option<i64>,
}

/// Reads the platform's snapshots (read-only), applied ones first in order of application.
/// A read-only connection to the platform's SQLite database, next to the running platform.
async fn read_only_pool(database: &Path) -> anyhow::Result<sqlx::SqlitePool> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", database.display()))?
        .read_only(true)
        .busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open {}", database.display()))
}

pub(crate) async fn read_snapshots(database: &Path) -> anyhow::Result<Vec<SnapshotRow>> {
    let pool = read_only_pool(database).await?;
    let rows = sqlx::query(
        "SELECT id, agent_id, sequence, state, applied_at, applied_to, people, private_access \
         FROM snapshots ORDER BY applied_at IS NULL, applied_at, received_at",
    )
    .fetch_all(&pool)
    .await
    .context("cannot read the snapshots table")?;
    pool.close().await;
    rows.iter()
        .map(|r| {
            Ok(SnapshotRow {
                id: r.try_get("id")?,
                agent_id: r.try_get("agent_id")?,
                sequence: r.try_get("sequence")?,
                state: r.try_get("state")?,
                applied_at: r.try_get("applied_at")?,
                applied_to: r.try_get("applied_to")?,
                people: r.try_get("people")?,
                private_access: r.try_get("private_access")?,
            })
        })
        .collect()
}

/// Runs one query returning a single integer (read-only).
pub(crate) async fn count(database: &Path, sql: &str) -> anyhow::Result<i64> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", database.display()))?
        .read_only(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let value: i64 = sqlx::query_scalar(sql)
        .fetch_one(&pool)
        .await
        .with_context(|| sql.to_owned())?;
    pool.close().await;
    Ok(value)
}

/// The agent id from the agent's state file.
pub(crate) fn agent_id(state_dir: &Path) -> anyhow::Result<String> {
    let path = state_dir.join("state.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)?;
    value
        .get("agent_id")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .with_context(|| format!("{} has no agent_id", path.display()))
}

/// Whether any file in `dir` (the agent's log folder) contains `needle`.
pub(crate) fn logs_contain(dir: &Path, needle: &str) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|text| text.contains(needle)))
        })
        .unwrap_or(false)
}

/// `seatbroker-agent status`, which must succeed.
pub(crate) async fn status(agent: &AgentInstall) -> anyhow::Result<Finished> {
    let out = agent.run(&["status"], COMMAND_DEADLINE).await?;
    ensure!(
        out.status.success(),
        "seatbroker-agent status failed: {out}"
    );
    Ok(out)
}

/// Asserts the applied snapshots of one agent are in strictly increasing sequence order.
/// (That none was applied twice is [`World::assert_history_sound`]'s job: snapshot ids are
/// the table's key, so a second apply would not add a row but would corrupt the history.)
pub(crate) fn assert_in_order_once(applied: &[SnapshotRow]) -> anyhow::Result<()> {
    for pair in applied.windows(2) {
        if pair[0].agent_id == pair[1].agent_id {
            ensure!(
                pair[0].sequence < pair[1].sequence,
                "snapshots applied out of order: #{} then #{}: {applied:?}",
                pair[0].sequence,
                pair[1].sequence
            );
        }
    }
    Ok(())
}
