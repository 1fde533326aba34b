//! (2) A reinstalled agent (new state folder, so a new install id; same Humaans tenant) is
//! approved and merged into the existing source: one source, its history continuous.

use anyhow::ensure;

use crate::support::{World, count};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinstall_merges_into_the_existing_source() -> anyhow::Result<()> {
    let mut world = World::start(150, 22).await?;
    let (first, first_id) = world.approved_agent("first-install").await?;
    let index = world.start_agent(&first)?;
    let applied = world
        .wait_applied(1)
        .await
        .map_err(|e| e.context(world.logs()))?;
    let source_id = applied[0].applied_to.clone().unwrap_or_default();
    ensure!(
        !source_id.is_empty(),
        "the first snapshot names its source: {applied:?}"
    );
    world.agents[index]
        .stop(std::time::Duration::from_secs(30))
        .await?;

    // The reinstall: a fresh folder, so a new install id and a new agent.
    let second = world.new_agent("second-install").await?;
    let second_id = world.enroll(&second).await?;
    ensure!(second_id != first_id, "a reinstall enrolls as a new agent");
    ensure!(
        first.install_id().is_some() && first.install_id() != second.install_id(),
        "a new state folder means a new install id: {:?} vs {:?}",
        first.install_id(),
        second.install_id()
    );
    let row = world.agent_row(&second_id).await?;
    ensure!(
        row.state == "pending",
        "the reinstalled agent waits for approval: {row:?}"
    );
    let link = row
        .sources
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no source: {row:?}"))?;
    ensure!(
        link.proposed_merge.as_deref() == Some(source_id.as_str()),
        "the console proposes merging into the source of the same tenant {source_id}: {link:?}"
    );
    world.admin.approve_agent(&second_id).await?;
    world.admin.merge_source(&link.link_id, &source_id).await?;

    world.start_agent(&second)?;
    let applied = world
        .wait_applied(2)
        .await
        .map_err(|e| e.context(world.logs()))?;
    ensure!(applied.len() == 2, "two snapshots applied: {applied:?}");
    ensure!(
        applied
            .iter()
            .all(|s| s.applied_to.as_deref() == Some(source_id.as_str())),
        "both installs' snapshots went to the one source {source_id}: {applied:?}"
    );
    ensure!(
        applied[1].agent_id == second_id,
        "the second snapshot came from the reinstall: {applied:?}"
    );

    let row = world.only_source().await?;
    ensure!(
        row.source_id == source_id,
        "the one source is the original: {row:?}"
    );
    world.assert_matches_truth(&row)?;

    // Continuous history: the same company twice changes nobody's seat, so each person
    // still has exactly one history period, open, begun by the first install's snapshot.
    let db = world.platform.database();
    let people = world.truth.total() as i64;
    let periods = count(
        &db,
        &format!("SELECT COUNT(*) FROM seat_history WHERE source_id = '{source_id}'"),
    )
    .await?;
    let open = count(
        &db,
        &format!(
            "SELECT COUNT(*) FROM seat_history WHERE source_id = '{source_id}' AND valid_to IS NULL"
        ),
    )
    .await?;
    let from_first = count(
        &db,
        &format!("SELECT COUNT(*) FROM seat_history WHERE source_id = '{source_id}' AND snapshot_id = '{}'", applied[0].id),
    )
    .await?;
    ensure!(
        periods == people && open == people && from_first == people,
        "history should continue, not restart: {periods} periods, {open} open, {from_first} from the first snapshot, {people} people"
    );
    let sources = count(&db, "SELECT COUNT(*) FROM sources").await?;
    ensure!(sources == 1, "one source in the store, found {sources}");
    Ok(())
}
