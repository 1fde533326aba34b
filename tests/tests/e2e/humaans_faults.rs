//! (5) Humaans misbehaves: 429 bursts, 5xx, truncated bodies, a token without private
//! read, a revoked token. Faults the agent can retry through give complete snapshots;
//! the others give a clear status and no snapshot at all.

use anyhow::ensure;
use seatbroker_tests::agent::AgentInstall;
use seatbroker_tests::sim::Sim;

use crate::support::{COMMAND_DEADLINE, World, status};

/// A simulator with `flags`, for the same company as `world`'s.
async fn faulty_sim(world: &World, name: &str, flags: &[&str]) -> anyhow::Result<Sim> {
    Sim::start(
        &world.bins.sim,
        &world.company,
        flags,
        &world.path(&format!("sim-{name}.log")),
    )
    .await
}

/// Snapshots waiting in `agent`'s spool, from `status`.
async fn waiting(agent: &AgentInstall) -> anyhow::Result<String> {
    let out = status(agent).await?;
    Ok(out
        .stdout
        .lines()
        .find(|l| l.contains("waiting to upload"))
        .unwrap_or("")
        .trim()
        .to_owned())
}

/// A fault the agent must not get past: `collect` fails with `expected` in its message and
/// `status`, and nothing is spooled.
async fn check_refused(
    world: &World,
    name: &str,
    flags: &[&str],
    token: Option<&str>,
    expected: &[&str],
) -> anyhow::Result<()> {
    let sim = faulty_sim(world, name, flags).await?;
    let mut settings = world.settings();
    settings.humaans_url = sim.url.clone();
    settings.humaans_token = token
        .map(str::to_owned)
        .unwrap_or_else(|| sim.token_full.clone());
    let agent = AgentInstall::create(
        &world.bins.agent,
        &world.path(&format!("agent-{name}")),
        &settings,
    )?;
    let out = agent.run(&["collect"], COMMAND_DEADLINE).await?;
    ensure!(
        !out.status.success(),
        "{name}: the collection should fail: {out}"
    );
    for phrase in expected {
        ensure!(
            out.stderr.contains(phrase),
            "{name}: the error should say {phrase:?}: {out}"
        );
    }
    let st = status(&agent).await?;
    ensure!(
        st.stdout.contains("last collection: FAILED"),
        "{name}: status shows the failed collection: {st}"
    );
    ensure!(
        st.stdout.contains(expected[0]),
        "{name}: status says why ({:?}): {st}",
        expected[0]
    );
    let waiting = waiting(&agent).await?;
    ensure!(
        waiting.starts_with("waiting to upload: 0 snapshot"),
        "{name}: no partial snapshot is kept: {waiting}"
    );
    let list = agent.run(&["spool", "list"], COMMAND_DEADLINE).await?;
    ensure!(
        list.stdout.contains("The spool is empty"),
        "{name}: the spool is empty: {list}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_that_do_not_pass_leave_a_clear_status_and_no_snapshot() -> anyhow::Result<()> {
    let world = World::start(100, 55).await?;
    let revoked = "hsim_full_ThisTokenWasRevokedInHumaans0000";
    let (a, b, c, d) = tokio::join!(
        check_refused(
            &world,
            "revoked-token",
            &[],
            Some(revoked),
            &["rejected (401)", "revoked"]
        ),
        check_refused(
            &world,
            "always-5xx",
            &["--server-error-every", "1"],
            None,
            &["Humaans answered 502", "gave up after"]
        ),
        check_refused(
            &world,
            "always-truncated",
            &["--truncate-every", "1"],
            None,
            &["gave up after"]
        ),
        check_refused(
            &world,
            "always-429",
            &["--rate-limit-every", "1", "--retry-after-secs", "1"],
            None,
            &["rate limiting", "gave up after"]
        ),
    );
    a?;
    b?;
    c?;
    d?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_the_agent_retries_through_give_complete_snapshots() -> anyhow::Result<()> {
    let mut world = World::start(150, 56).await?;
    let (agent, _) = world.approved_agent("agent").await?;
    let cases: &[(&str, &[&str])] = &[
        (
            "429-burst",
            &[
                "--rate-limit-from",
                "2",
                "--rate-limit-count",
                "4",
                "--retry-after-secs",
                "1",
            ],
        ),
        ("5xx-every-3rd", &["--server-error-every", "3"]),
        (
            "truncated-json",
            &["--truncate-every", "3", "--truncate-mode", "cut-json"],
        ),
        (
            "connection-closed-mid-body",
            &["--truncate-every", "4", "--truncate-mode", "close-mid-body"],
        ),
    ];
    let mut expected = 0;
    for (name, flags) in cases {
        let sim = faulty_sim(&world, name, flags).await?;
        let mut settings = world.settings();
        settings.humaans_url = sim.url.clone();
        settings.humaans_token = sim.token_full.clone();
        agent.write_config(&settings)?;
        let out = agent.run(&["collect"], COMMAND_DEADLINE).await?;
        ensure!(
            out.status.success(),
            "{name}: the agent should retry through the fault: {out}"
        );
        expected += 1;
    }
    world.start_agent(&agent)?;
    let applied = world
        .wait_applied(expected)
        .await
        .map_err(|e| e.context(world.logs()))?;
    let total = world.truth.total() as i64;
    ensure!(
        applied
            .iter()
            .all(|s| s.people == Some(total) && s.private_access == Some(1)),
        "every snapshot is complete ({total} people, private access): {applied:?}"
    );
    let row = world.only_source().await?;
    world.assert_matches_truth(&row)?;
    Ok(())
}

/// A token without private read hides pre-hires and leavers: `check` says so, and what
/// the agent uploads is flagged, so the console never shows its counts as the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_without_private_read_is_reported() -> anyhow::Result<()> {
    let mut world = World::start(100, 57).await?;
    let mut settings = world.settings();
    settings.humaans_token = world.sim.token_public_only.clone();
    settings.enrollment_token = Some(
        world
            .admin
            .create_enrollment_token("public", Some(1))
            .await?,
    );
    let agent = AgentInstall::create(&world.bins.agent, &world.path("agent-public"), &settings)?;
    let out = agent.run(&["check"], COMMAND_DEADLINE).await?;
    ensure!(
        !out.status.success(),
        "check fails for a token without private read: {out}"
    );
    ensure!(
        out.stdout.contains("lacks private:read")
            && out.stdout.contains("View public and private data"),
        "check says what is missing and how to fix it: {out}"
    );

    let agent_id = world.enroll(&agent).await?;
    world.approve_as_new(&agent_id).await?;
    world.start_agent(&agent)?;
    let applied = world
        .wait_applied(1)
        .await
        .map_err(|e| e.context(world.logs()))?;
    ensure!(
        applied[0].private_access == Some(0),
        "the snapshot is flagged as public-only: {applied:?}"
    );
    let row = world.only_source().await?;
    ensure!(
        row.private_access == Some(false),
        "the console's report flags the source: {row:?}"
    );
    ensure!(
        row.offboarded == 0 && row.people < world.truth.total() as i64,
        "a public-only token sees no leavers and fewer people (the simulator hides them), and the console keeps its numbers apart: {row:?}"
    );
    let status = agent.run(&["status"], COMMAND_DEADLINE).await?;
    ensure!(
        status
            .stdout
            .contains("WARNING: the Humaans token lacks private:read"),
        "status warns that the collection undercounts: {status}"
    );
    Ok(())
}
