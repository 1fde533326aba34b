//! The one-command demo (`seatbroker-demo --auto-approve`): it walks enrollment and
//! approval, prints numbers equal to the simulator's truth, and on SIGTERM stops every
//! process it started.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, ensure};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::AGENT_DEADLINE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_walks_the_approval_and_stops_its_children() -> anyhow::Result<()> {
    // The demo finds the other binaries next to itself: make sure they are built.
    seatbroker_tests::bins::Bins::for_tests()?;
    let tmp = tempfile::Builder::new()
        .prefix("seatbroker-demo-")
        .tempdir()?;
    let data = tmp.path().join("demo-data");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_seatbroker-demo"))
        .args([
            "--auto-approve",
            "--people",
            "100",
            "--seed",
            "5",
            "--data-dir",
        ])
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = demo.stdout.take().context("piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut output = String::new();
    let ready = tokio::time::timeout(AGENT_DEADLINE, async {
        while let Some(line) = lines.next_line().await? {
            output.push_str(&line);
            output.push('\n');
            if line.contains("Press Ctrl-C") {
                return Ok::<bool, anyhow::Error>(true);
            }
        }
        Ok(false)
    })
    .await;
    let ready = matches!(ready, Ok(Ok(true)));
    if !ready {
        let _ = demo.start_kill();
        let out = demo.wait_with_output().await?;
        anyhow::bail!(
            "the demo did not get ready:\n{output}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for expected in [
        "as pending",
        "on your behalf (--auto-approve)",
        "Every count matches the simulator's ground truth.",
        "Login:    admin / ",
    ] {
        ensure!(
            output.contains(expected),
            "the demo's output lacks {expected:?}:\n{output}"
        );
    }
    let url = output
        .lines()
        .find_map(|l| l.strip_prefix("Console:  "))
        .and_then(|rest| rest.split_whitespace().next())
        .context("no console URL printed")?
        .trim_end_matches('/')
        .to_owned();
    let client = reqwest::Client::new();
    ensure!(
        client
            .get(format!("{url}/login"))
            .send()
            .await?
            .status()
            .is_success(),
        "the console answers"
    );
    ensure!(
        data.join("platform").join("seatbroker.db").exists(),
        "the demo keeps its data in the named folder"
    );

    // SIGTERM, as Ctrl-C would: the demo stops its children and exits cleanly.
    if let Some(pid) = demo.id() {
        std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()?;
    }
    let status = tokio::time::timeout(Duration::from_secs(60), demo.wait()).await??;
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    ensure!(
        status.success(),
        "the demo exits cleanly on SIGTERM: {status}\n{rest}"
    );
    ensure!(
        rest.contains("Stopped."),
        "the demo says it stopped: {rest}"
    );
    let after = client
        .get(format!("{url}/login"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    ensure!(
        after.is_err(),
        "the platform the demo started is gone after it stopped: {after:?}"
    );
    Ok(())
}
