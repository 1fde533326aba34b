//! (6) A revoked agent: its uploads are refused, and `seatbroker-agent status` says so and
//! how to fix it.

use anyhow::ensure;
use seatbroker_tests::wait;

use crate::support::{AGENT_DEADLINE, COMMAND_DEADLINE, POLL, World, logs_contain, status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_agent_is_refused_and_says_how_to_fix_it() -> anyhow::Result<()> {
    let mut world = World::start(100, 66).await?;
    let (agent, agent_id) = world.approved_agent("agent").await?;
    let index = world.start_agent(&agent)?;
    world
        .wait_applied(1)
        .await
        .map_err(|e| e.context(world.logs()))?;
    world.agents[index]
        .stop(std::time::Duration::from_secs(30))
        .await?;

    world.admin.revoke_agent(&agent_id).await?;
    let row = world.agent_row(&agent_id).await?;
    ensure!(
        row.state == "revoked",
        "the console shows the agent revoked: {row:?}"
    );

    // A new collection, then the agent runs: the upload must be refused and kept.
    let out = agent.run(&["collect"], COMMAND_DEADLINE).await?;
    ensure!(
        out.status.success(),
        "collecting still works while revoked: {out}"
    );
    world.start_agent(&agent)?;
    // The running agent learns it from the platform and says so in its log.
    wait::until(
        "the running agent to log the revocation",
        AGENT_DEADLINE,
        POLL,
        || async {
            Ok(
                logs_contain(&agent.log_dir, "The platform no longer accepts this agent")
                    .then_some(()),
            )
        },
    )
    .await
    .map_err(|e| e.context(world.logs()))?;
    let said = status(&agent).await?;
    ensure!(
        said.stdout.contains("revoked"),
        "status says the agent is revoked: {said}"
    );
    ensure!(
        said.stdout.contains("seatbroker-agent enroll"),
        "status says how to fix it (enroll again): {said}"
    );
    ensure!(
        said.stdout.contains("waiting to upload: 1 snapshot(s)"),
        "the refused snapshot stays in the spool: {said}"
    );
    let rows = world.snapshots().await?;
    ensure!(
        rows.len() == 1,
        "nothing from the revoked agent was stored: {rows:?}"
    );

    // The platform refuses the revoked credential's uploads and heartbeats (403
    // agent_revoked) before reading anything else of the request.
    let credential = std::fs::read_to_string(agent.state_dir.join("credential"))?;
    let client = reqwest::Client::new();
    let snapshot_id = "0123456789abcdef0123456789abcdef";
    for request in [
        client.put(format!(
            "{}/api/agent/v1/snapshots/{snapshot_id}/parts/1",
            world.platform.url
        )),
        client.post(format!("{}/api/agent/v1/heartbeat", world.platform.url)),
    ] {
        let response = request
            .header("seatbroker-protocol", "1")
            .bearer_auth(credential.trim())
            .json(&serde_json::json!({}))
            .send()
            .await?;
        let code = response.status();
        let body = response.text().await?;
        ensure!(
            code == reqwest::StatusCode::FORBIDDEN && body.contains("agent_revoked"),
            "a revoked credential is refused with 403 agent_revoked, got {code}: {body}"
        );
    }
    Ok(())
}
