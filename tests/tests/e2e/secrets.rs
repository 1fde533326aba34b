//! (7) Secrets: the Humaans token, the enrollment token and the agent credential appear in
//! no log file, no console page and no command output, with debug logging on.

use std::path::Path;

use anyhow::ensure;
use seatbroker_tests::agent::AgentInstall;

use crate::support::{COMMAND_DEADLINE, World};

/// Every regular file below `dir`, read as text.
fn files_below(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_below(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_log_page_or_output() -> anyhow::Result<()> {
    let mut world = World::start_with(80, 77, "debug", &[]).await?;
    let mut settings = world.settings();
    settings.log_level = "debug".to_owned();
    let enrollment_token = world
        .admin
        .create_enrollment_token("secrets", Some(1))
        .await?;
    settings.enrollment_token = Some(enrollment_token.clone());
    let agent = AgentInstall::create(&world.bins.agent, &world.path("agent"), &settings)?;

    // Everything a person would read: outputs of every command, logs, console pages.
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut record = |what: &str, out: &seatbroker_tests::process::Finished| {
        texts.push((what.to_owned(), out.all()));
    };
    let debug = [("RUST_LOG", "debug")];
    let mut agent_debug = agent.clone();
    agent_debug.env = debug
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

    record(
        "check",
        &agent_debug.run(&["check"], COMMAND_DEADLINE).await?,
    );
    let enroll = agent_debug.run(&["enroll"], COMMAND_DEADLINE).await?;
    ensure!(enroll.status.success(), "enroll: {enroll}");
    record("enroll", &enroll);
    // A second enrollment with the used-up token fails: its error must not echo the token.
    let again = AgentInstall::create(&world.bins.agent, &world.path("agent-again"), &settings)?;
    record(
        "enroll with a used token",
        &again.run(&["enroll"], COMMAND_DEADLINE).await?,
    );
    record(
        "status (pending)",
        &agent_debug.run(&["status"], COMMAND_DEADLINE).await?,
    );
    let agent_id = crate::support::agent_id(&agent.state_dir)?;
    world.approve_as_new(&agent_id).await?;
    world.start_agent(&agent_debug)?;
    world
        .wait_applied(1)
        .await
        .map_err(|e| e.context(world.logs()))?;
    record(
        "collect",
        &agent_debug.run(&["collect"], COMMAND_DEADLINE).await?,
    );
    record(
        "status",
        &agent_debug.run(&["status"], COMMAND_DEADLINE).await?,
    );
    record(
        "spool list",
        &agent_debug
            .run(&["spool", "list"], COMMAND_DEADLINE)
            .await?,
    );
    // A bad Humaans token and an unreachable platform produce errors; they must not leak.
    let mut wrong = settings.clone();
    wrong.humaans_url = "http://127.0.0.1:9".to_owned();
    wrong.platform_url = "http://127.0.0.1:9".to_owned();
    let broken = AgentInstall::create(&world.bins.agent, &world.path("agent-broken"), &wrong)?;
    let (check, collect, enroll) = tokio::join!(
        broken.run(&["check"], COMMAND_DEADLINE),
        broken.run(&["collect"], COMMAND_DEADLINE),
        broken.run(&["enroll"], COMMAND_DEADLINE),
    );
    record("check (nothing reachable)", &check?);
    record("collect (nothing reachable)", &collect?);
    record("enroll (nothing reachable)", &enroll?);
    let agent_credential = std::fs::read_to_string(agent.state_dir.join("credential"))?
        .trim()
        .to_owned();
    ensure!(
        agent_credential.starts_with("sbk_"),
        "the agent keeps its credential: {agent_credential:?}"
    );

    for page in [
        "/",
        "/approvals",
        "/sources",
        "/seats",
        "/trends",
        "/departments",
        "/data-quality",
        "/tokens",
        "/users",
        "/audit",
        "/api/v1/reports/overview",
        "/api/v1/reports/sources",
        "/api/v1/reports/inactive-seats",
        "/api/v1/reports/data-quality",
    ] {
        texts.push((format!("console {page}"), world.admin.page(page).await?));
    }
    // Stop everything so the logs are complete.
    for proc in &mut world.agents {
        proc.stop(std::time::Duration::from_secs(30)).await?;
    }
    world
        .platform
        .proc
        .stop(std::time::Duration::from_secs(30))
        .await?;
    files_below(&agent.log_dir, &mut texts);
    files_below(&world.path("agent-broken").join("logs"), &mut texts);
    texts.push((
        "platform log".to_owned(),
        std::fs::read_to_string(world.path("platform.log"))?,
    ));
    ensure!(
        texts
            .iter()
            .any(|(name, text)| name.contains("agent/logs") && text.contains("DEBUG")),
        "the agent wrote debug logs (else this test proves little): {:?}",
        texts.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );

    let secrets = [
        ("the Humaans token", world.sim.token_full.as_str()),
        ("the enrollment token", enrollment_token.as_str()),
        ("the agent credential", agent_credential.as_str()),
        // The credential's secret part alone (after sbk_<agent id>_).
        (
            "the agent credential's secret",
            // The agent id is hex; the secret (base64url) may itself contain `_`.
            agent_credential
                .strip_prefix("sbk_")
                .and_then(|rest| rest.split_once('_'))
                .map_or("", |(_, secret)| secret),
        ),
    ];
    let mut leaks = Vec::new();
    for (what, secret) in secrets {
        ensure!(
            secret.len() >= 16,
            "{what} is too short to search for: {secret:?}"
        );
        for (name, text) in &texts {
            if text.contains(secret) {
                leaks.push(format!("{what} appears in {name}"));
            }
        }
    }
    ensure!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
    Ok(())
}
