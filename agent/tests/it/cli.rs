//! `cli::run_until_cancelled`: the `run` path the Windows service drives with the token its
//! Stop and Shutdown controls cancel.

use std::path::Path;

use clap::Parser;
use seatbroker_agent::cli::{self, Cli, Exit};
use tokio_util::sync::CancellationToken;

fn cli(config: &Path, state: &Path) -> Cli {
    Cli::try_parse_from([
        "seatbroker-agent".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--state-dir".as_ref(),
        state.as_os_str(),
        "run".as_ref(),
    ])
    .unwrap()
}

#[tokio::test]
async fn a_missing_configuration_ends_with_the_configuration_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let cli = cli(&dir.path().join("missing.yaml"), &dir.path().join("state"));
    let exit = cli::run_until_cancelled(&cli, CancellationToken::new()).await;
    assert_eq!(exit, Exit::Config);
}

#[tokio::test]
async fn the_agent_stops_cleanly_when_its_token_is_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("humaans-token");
    std::fs::write(&token, "humaans-token").unwrap();
    let enrollment = dir.path().join("enrollment-token");
    std::fs::write(&enrollment, "sbe_token").unwrap();
    let config = dir.path().join("agent.yaml");
    // Nothing listens on port 9: the agent must stop because of the token, not a reply.
    std::fs::write(
        &config,
        format!(
            "platform:\n  url: http://127.0.0.1:9\n  enrollment_token_file: {}\nsources:\n  - name: acme\n    kind: humaans\n    base_url: http://127.0.0.1:9\n    token_file: {}\n    interval: 1h\n",
            enrollment.display(),
            token.display()
        ),
    )
    .unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let exit = cli::run_until_cancelled(&cli(&config, &dir.path().join("state")), cancel).await;
    assert_eq!(exit, Exit::Ok);
}
