//! (1) Enroll → pending → approve over HTTP as an admin → upload → the console's numbers
//! equal `humaans-sim truth`.

use anyhow::ensure;

use crate::support::{World, status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_approve_upload_matches_truth() -> anyhow::Result<()> {
    let mut world = World::start(250, 11).await?;
    let agent = world.new_agent("agent").await?;
    let agent_id = world.enroll(&agent).await?;

    // Pending, as the agent and the console see it.
    let out = status(&agent).await?;
    ensure!(
        out.stdout
            .contains("waiting for an administrator to approve it"),
        "status should say the agent waits for approval: {out}"
    );
    let pending = world.admin.pending().await?;
    let row = pending
        .iter()
        .find(|a| a.agent_id == agent_id)
        .ok_or_else(|| {
            anyhow::anyhow!("the approvals page does not list agent {agent_id}: {pending:?}")
        })?;
    ensure!(
        row.state == "pending",
        "agent state in the console: {}",
        row.state
    );
    ensure!(
        row.sources.len() == 1 && row.sources[0].state == "pending",
        "the agent's source should be pending: {:?}",
        row.sources
    );
    ensure!(
        world.admin.overview().await?.is_empty(),
        "no source exists before approval"
    );

    world.approve_as_new(&agent_id).await?;
    world.start_agent(&agent)?;
    let applied = world
        .wait_applied(1)
        .await
        .map_err(|e| e.context(world.logs()))?;
    ensure!(
        applied.len() == 1,
        "exactly one snapshot applied: {applied:?}"
    );
    ensure!(
        applied[0].people == Some(world.truth.total() as i64),
        "the snapshot holds every person: {applied:?}"
    );

    let row = world.only_source().await?;
    world.assert_matches_truth(&row)?;
    ensure!(
        row.health == "healthy",
        "a fresh source is healthy: {row:?}"
    );
    ensure!(
        row.billable == row.active + row.leaving + row.inactive,
        "billable = active + leaving + inactive: {row:?}"
    );
    ensure!(
        row.in_use == row.active + row.leaving,
        "in use = active + leaving: {row:?}"
    );
    if let Some(soon) = world.truth.pre_hires_starting_soon {
        ensure!(
            row.pre_hires_starting_soon == soon as i64,
            "pre-hires starting soon: console {}, truth {soon}",
            row.pre_hires_starting_soon
        );
    }
    if let Some(leavers) = world.truth.recent_leavers {
        ensure!(
            row.recent_leavers == leavers as i64,
            "recent leavers: console {}, truth {leavers}",
            row.recent_leavers
        );
    }

    let out = status(&agent).await?;
    ensure!(
        out.stdout.contains(", approved"),
        "status should say approved: {out}"
    );
    ensure!(
        out.stdout.contains("waiting to upload: 0 snapshot(s)"),
        "the spool is empty after the upload: {out}"
    );
    Ok(())
}
