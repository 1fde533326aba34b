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

/// A configuration whose secrets all exist and whose platform and Humaans are never asked.
fn offline_config(dir: &Path) -> std::path::PathBuf {
    let token = dir.join("humaans-token");
    std::fs::write(&token, "humaans-token").unwrap();
    let config = dir.join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            "platform:\n  url: http://127.0.0.1:9\nsources:\n  - name: acme\n    kind: humaans\n    base_url: http://127.0.0.1:9\n    token_file: {}\n",
            token.display()
        ),
    )
    .unwrap();
    config
}

#[test]
fn output_to_a_closed_pipe_ends_quietly_with_success() {
    let dir = tempfile::tempdir().unwrap();
    let config = offline_config(dir.path());
    let state = dir.path().join("state");
    for command in [&["status"][..], &["check", "--offline"], &["spool", "list"]] {
        // The reader is gone before the agent writes a byte: every write fails with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_seatbroker-agent"))
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(&state)
            .args(command)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("SEATBROKER_SYSTEM")
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{command:?}: {stderr}");
        assert_eq!(stderr, "", "{command:?}");
    }
}

#[test]
fn log_lines_in_a_pipe_and_in_the_log_file_carry_no_colour() {
    let dir = tempfile::tempdir().unwrap();
    let config = offline_config(dir.path());
    // A state directory that cannot be created stops `run` right after its first log line,
    // and the log file is flushed as it exits.
    let not_a_dir = dir.path().join("state");
    std::fs::write(&not_a_dir, "a file").unwrap();
    let logs = dir.path().join("logs");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_seatbroker-agent"))
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(&not_a_dir)
        .arg("--log-dir")
        .arg(&logs)
        .arg("run")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env_remove("SEATBROKER_SYSTEM")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Configuration loaded."), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "colour codes in a pipe: {stderr:?}"
    );
    let file = std::fs::read_dir(&logs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let logged = std::fs::read_to_string(&file).unwrap();
    assert!(logged.contains("Configuration loaded."), "{logged}");
    assert!(
        !logged.contains('\x1b'),
        "colour codes in {}: {logged:?}",
        file.display()
    );
}
