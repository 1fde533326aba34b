//! (4) The agent is killed with SIGKILL at random (seeded) points during collection and
//! upload, round after round. After a normal restart nothing is lost, nothing is applied
//! twice, and the spool stays readable.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::ensure;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use seatbroker_tests::process::Proc;
use seatbroker_tests::wait;

use crate::support::{AGENT_DEADLINE, COMMAND_DEADLINE, World, assert_in_order_once};

const ROUNDS: usize = 20;
/// Change it to explore other kill points; a failure prints the seed it ran with.
const SEED: u64 = 0x5EA7_B40C;

/// Snapshot ids `seatbroker-agent spool list` shows; fails if the spool cannot be read or
/// has set files aside.
async fn spooled(
    agent: &seatbroker_tests::agent::AgentInstall,
) -> anyhow::Result<BTreeSet<String>> {
    let out = agent.run(&["spool", "list"], COMMAND_DEADLINE).await?;
    ensure!(out.status.success(), "the spool is not readable: {out}");
    ensure!(
        !out.stdout.contains("set aside"),
        "the spool set files aside: {out}"
    );
    Ok(out
        .stdout
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .filter(|word| word.len() == 32 && word.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
        .collect())
}

/// Starts `args`, lets it run `after`, then SIGKILLs it. Returns whether it had already
/// finished successfully by itself.
async fn kill_after(
    agent: &seatbroker_tests::agent::AgentInstall,
    args: &[&str],
    after: Duration,
    log: &std::path::Path,
) -> anyhow::Result<bool> {
    let mut proc = Proc::spawn_logged(
        &format!("seatbroker-agent {}", args.join(" ")),
        agent.command(args),
        log,
    )?;
    tokio::time::sleep(after).await;
    let finished = proc
        .child
        .try_wait()?
        .map(|status| status.success())
        .unwrap_or(false);
    proc.kill().await?;
    Ok(finished)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_collection_and_upload_loses_nothing() -> anyhow::Result<()> {
    // Latency on every Humaans request widens the collection window the kills aim at.
    let mut world = World::start_with(200, 44, "info", &["--latency-ms", "15"]).await?;
    let (agent, _) = world.approved_agent("agent").await?;
    std::fs::create_dir_all(&agent.log_dir)?;
    let log = agent.log_dir.join("killed.out");
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut seen = BTreeSet::new();
    let mut completed_collections = 0usize;

    for round in 1..=ROUNDS {
        let collect_for = Duration::from_millis(rng.random_range(0..600));
        if kill_after(&agent, &["collect"], collect_for, &log).await? {
            completed_collections += 1;
        }
        seen.extend(
            spooled(&agent)
                .await
                .map_err(|e| e.context(format!("round {round}, seed {SEED:#x}")))?,
        );
        let run_for = Duration::from_millis(rng.random_range(0..900));
        kill_after(&agent, &["run"], run_for, &log).await?;
        seen.extend(
            spooled(&agent)
                .await
                .map_err(|e| e.context(format!("round {round}, seed {SEED:#x}")))?,
        );
    }

    // Restart normally and let it drain the spool.
    world.start_agent(&agent)?;
    wait::until(
        "the spool to drain",
        AGENT_DEADLINE,
        Duration::from_millis(500),
        || async { Ok(spooled(&agent).await?.is_empty().then_some(())) },
    )
    .await
    .map_err(|e| e.context(world.logs()))?;

    // Each completed collection was listed in the spool before the next `run` started.
    ensure!(
        seen.len() >= completed_collections,
        "{completed_collections} collections completed but the spool listed only {} snapshots (seed {SEED:#x})",
        seen.len()
    );
    let rows = world.snapshots().await?;
    let applied: Vec<_> = rows
        .iter()
        .filter(|s| s.state == "applied")
        .cloned()
        .collect();
    ensure!(
        rows.len() == applied.len(),
        "a snapshot is stuck half-received after the drain: {rows:?}"
    );
    assert_in_order_once(&applied).map_err(|e| e.context(format!("seed {SEED:#x}")))?;
    world.assert_history_sound().await?;
    let applied_ids: BTreeSet<String> = applied.iter().map(|s| s.id.clone()).collect();
    let lost: Vec<&String> = seen.difference(&applied_ids).collect();
    ensure!(
        lost.is_empty(),
        "snapshots seen in the spool but never applied (seed {SEED:#x}): {lost:?}"
    );
    ensure!(
        applied.len() >= completed_collections,
        "{completed_collections} collections completed but only {} snapshots applied (seed {SEED:#x})",
        applied.len()
    );
    let total = world.truth.total() as i64;
    ensure!(
        applied.iter().all(|s| s.people == Some(total)),
        "every applied snapshot is complete ({total} people): {applied:?}"
    );
    ensure!(
        !applied.is_empty(),
        "at least one collection survived {ROUNDS} rounds (seed {SEED:#x})"
    );
    let row = world.only_source().await?;
    world.assert_matches_truth(&row)?;
    eprintln!(
        "crashes: {ROUNDS} rounds, seed {SEED:#x}: {completed_collections} collections finished before their kill, {} snapshots applied",
        applied.len()
    );
    Ok(())
}
