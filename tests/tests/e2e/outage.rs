//! (3) The platform is down for several collection cycles: when it returns, every snapshot
//! is delivered, none twice, in order.
//!
//! The agent's configuration allows one collection a minute at most, so the cycles are
//! `seatbroker-agent collect` runs next to the running agent (the spool is shared by
//! design: every call lists the directory).

use anyhow::ensure;

use crate::support::{COMMAND_DEADLINE, World, assert_in_order_once, status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_down_for_several_cycles_loses_nothing() -> anyhow::Result<()> {
    let mut world = World::start(120, 33).await?;
    // The running agent collects once at start and then stays quiet, so the only other
    // collections are the counted `collect` runs below, however slow the machine.
    world.agent_interval = "1h".to_owned();
    let (agent, _) = world.approved_agent("agent").await?;
    world.start_agent(&agent)?;
    world
        .wait_applied(1)
        .await
        .map_err(|e| e.context(world.logs()))?;

    world.stop_platform().await?;
    const CYCLES: usize = 4;
    for cycle in 1..=CYCLES {
        let out = agent.run(&["collect"], COMMAND_DEADLINE).await?;
        ensure!(
            out.status.success(),
            "collection {cycle} with the platform down failed: {out}"
        );
    }
    let out = status(&agent).await?;
    ensure!(
        out.stdout
            .contains(&format!("waiting to upload: {CYCLES} snapshot(s)")),
        "the spool holds every collection while the platform is down: {out}"
    );
    ensure!(
        world.agents[0].is_running(),
        "the agent keeps running while the platform is down:\n{}",
        world.logs()
    );

    world.restart_platform().await?;
    let applied = world
        .wait_applied(1 + CYCLES)
        .await
        .map_err(|e| e.context(world.logs()))?;
    ensure!(
        applied.len() == 1 + CYCLES,
        "every snapshot applied exactly once: {applied:?}"
    );
    assert_in_order_once(&applied)?;
    world.assert_history_sound().await?;
    let sequences: Vec<i64> = applied.iter().map(|s| s.sequence).collect();
    ensure!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "applied in the order collected: {sequences:?}"
    );
    let out = crate::support::status(&agent).await?;
    ensure!(
        out.stdout.contains("waiting to upload: 0 snapshot(s)"),
        "the spool is empty: {out}"
    );

    // Nothing half-received or applied twice stays behind.
    let rows = world.snapshots().await?;
    ensure!(
        rows.len() == applied.len() && rows.iter().all(|s| s.state == "applied"),
        "every snapshot row is applied, none extra: {rows:?}"
    );
    let row = world.only_source().await?;
    world.assert_matches_truth(&row)?;
    Ok(())
}
