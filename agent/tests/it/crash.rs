//! Crashes: the agent killed between spooling and acknowledgement, then restarted. Nothing
//! may be lost and nothing applied twice. A platform with memory (mockito answering from a
//! shared map, as the real platform does: `already_have` for parts it holds) counts how
//! often each snapshot is applied.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use mockito::{Matcher, ServerGuard};
use serde_json::json;

use crate::uplink::{CREDENTIAL, Harness, status_body};

/// What the fake platform remembers.
#[derive(Debug, Default)]
struct Memory {
    /// Parts held per snapshot id.
    parts: HashMap<String, BTreeSet<u32>>,
    /// How many times each snapshot was applied (must never exceed 1).
    applied: HashMap<String, u32>,
    puts: u64,
}

#[derive(Debug, Clone, Default)]
struct Platform {
    memory: Arc<Mutex<Memory>>,
    approved: Arc<AtomicBool>,
    heartbeats: Arc<AtomicU64>,
    /// Told of every heartbeat, when set.
    on_heartbeat: Arc<Mutex<Option<std::sync::mpsc::Sender<()>>>>,
}

impl Platform {
    /// Installs the agent API on `server`.
    async fn serve(&self, server: &mut ServerGuard) {
        let approved = self.approved.clone();
        server
            .mock("GET", "/api/agent/v1/status")
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body_from_request(move |_| {
                let state = if approved.load(Ordering::SeqCst) {
                    "approved"
                } else {
                    "pending"
                };
                status_body(state, &[("acme", state, "src_1")])
                    .to_string()
                    .into_bytes()
            })
            .expect_at_least(0)
            .create_async()
            .await;
        server
            .mock("POST", "/api/agent/v1/enroll")
            .with_status(201)
            .with_header("content-type", "application/json")
            .with_body(
                json!({"agent_id": "agent1", "agent_credential": CREDENTIAL, "state": "pending",
                       "sources": [{"local_name": "acme", "state": "pending", "source_id": "src_1"}]})
                .to_string(),
            )
            .expect_at_least(0)
            .create_async()
            .await;
        let heartbeats = self.heartbeats.clone();
        let on_heartbeat = self.on_heartbeat.clone();
        server
            .mock("POST", "/api/agent/v1/heartbeat")
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body_from_request(move |_| {
                heartbeats.fetch_add(1, Ordering::SeqCst);
                if let Some(tx) = on_heartbeat.lock().unwrap().as_ref() {
                    let _ = tx.send(());
                }
                json!({"received_at": Utc::now(), "poll_after_secs": 3600})
                    .to_string()
                    .into_bytes()
            })
            .expect_at_least(0)
            .create_async()
            .await;
        let memory = self.memory.clone();
        server
            .mock("PUT", Matcher::Regex("^/api/agent/v1/snapshots/".into()))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body_from_request(move |request| {
                let part: seatbroker_protocol::UploadPart =
                    serde_json::from_slice(request.body().unwrap()).unwrap();
                part.chunk().expect("every part matches its checksum");
                let mut m = memory.lock().unwrap();
                m.puts += 1;
                let already_applied = m.applied.contains_key(&part.snapshot_id);
                let held = m.parts.entry(part.snapshot_id.clone()).or_default();
                let new = held.insert(part.part);
                let complete = held.len() as u32 == part.part_count;
                let received = held.len() as u32;
                if complete && !already_applied {
                    *m.applied.entry(part.snapshot_id.clone()).or_default() += 1;
                }
                json!({
                    "snapshot_id": part.snapshot_id, "part": part.part,
                    "outcome": if new && !already_applied { "accepted" } else { "already_have" },
                    "parts_received": received, "part_count": part.part_count,
                    "snapshot_applied": complete,
                })
                .to_string()
                .into_bytes()
            })
            .expect_at_least(0)
            .create_async()
            .await;
    }

    fn applied(&self) -> HashMap<String, u32> {
        self.memory.lock().unwrap().applied.clone()
    }
}

fn snap_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "snap"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn killed_after_the_platform_applied_but_before_the_ack_nothing_is_applied_twice() {
    let platform = Platform::default();
    platform.approved.store(true, Ordering::SeqCst);
    let mut server = mockito::Server::new_async().await;
    platform.serve(&mut server).await;
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::with(server, dir, &["acme"], true);
    h.collect("acme", 2).await;
    let spool_dir = h.state_dir().join("spool");
    // What the disk holds if the process dies before the deletes of the acks reach it.
    let before: Vec<(std::path::PathBuf, Vec<u8>)> = snap_files(&spool_dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    assert_eq!(before.len(), 2);
    h.round().await;
    assert_eq!(platform.applied().len(), 2);
    assert!(snap_files(&spool_dir).is_empty());
    let (server, dir) = h.into_parts();
    for (path, bytes) in &before {
        std::fs::write(path, bytes).unwrap();
    }
    // Restart on the same state directory.
    let h = Harness::with(server, dir, &["acme"], true);
    h.round().await;
    assert!(
        snap_files(&spool_dir).is_empty(),
        "re-sent, acknowledged, deleted"
    );
    let applied = platform.applied();
    assert_eq!(applied.len(), 2);
    assert!(
        applied.values().all(|n| *n == 1),
        "applied twice: {applied:?}"
    );
    // Sequences continue after the restart.
    h.collect("acme", 1).await;
    assert_eq!(h.spooled("acme"), vec![3]);
}

#[tokio::test]
async fn killed_before_upload_and_mid_write_nothing_is_lost() {
    let platform = Platform::default();
    let mut server = mockito::Server::new_async().await;
    platform.serve(&mut server).await;
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::with(server, dir, &["acme"], true);
    h.collect("acme", 2).await;
    // Dies while writing a third snapshot: a reserved sequence, a half-written file.
    h.service
        .spool()
        .write_torn("acme", &"f".repeat(32), b"half a snapshot")
        .unwrap();
    let (server, dir) = h.into_parts();
    platform.approved.store(true, Ordering::SeqCst);
    let h = Harness::with(server, dir, &["acme"], true);
    assert_eq!(
        h.spooled("acme"),
        vec![1, 2],
        "the torn write is gone, the rest intact"
    );
    h.round().await;
    assert!(h.spooled("acme").is_empty());
    assert_eq!(platform.applied().len(), 2);
    h.collect("acme", 1).await;
    assert_eq!(
        h.spooled("acme"),
        vec![4],
        "a reserved sequence is never reused"
    );
}

fn spawn_agent(bin_args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_seatbroker-agent"))
        .args(bin_args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs the real binary until a stderr line contains `marker`, then kills it (SIGKILL).
fn run_until(bin_args: &[String], marker: &str) -> Vec<String> {
    let mut child = spawn_agent(bin_args);
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                let done = line.contains(marker);
                lines.push(line);
                if done {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no `{marker}` from the agent; it said:\n{}",
                    lines.join("\n")
                );
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_agent_killed_at_any_stage_loses_nothing_and_sends_nothing_twice() {
    let sim = humaans_sim::Simulator::start(humaans_sim::SimConfig {
        people: 40,
        seed: 11,
        ..humaans_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let platform = Platform::default();
    let mut server = mockito::Server::new_async().await;
    platform.serve(&mut server).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("humaans-token");
    std::fs::write(&token, &sim.tokens().full).unwrap();
    let enrollment = dir.path().join("enrollment-token");
    std::fs::write(&enrollment, "sbe_token").unwrap();
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            "platform:\n  url: {}\n  enrollment_token_file: {}\nsources:\n  - name: acme\n    kind: humaans\n    base_url: {}\n    token_file: {}\n    interval: 1h\n",
            server.url(),
            enrollment.display(),
            sim.url(),
            token.display()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let args: Vec<String> = [
        "--config",
        config.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "run",
    ]
    .map(str::to_owned)
    .to_vec();
    // The agent runs while this runtime keeps serving the simulator and the platform.
    let run = |marker: &'static str| {
        let args = args.clone();
        tokio::task::spawn_blocking(move || run_until(&args, marker))
    };
    let spool_dir = state.join("spool");

    // 1. Pending: the agent enrolls, collects at start, spools, and is killed.
    run("Collected and spooled a snapshot.").await.unwrap();
    assert_eq!(snap_files(&spool_dir).len(), 1);
    assert!(platform.applied().is_empty());

    // 2. Approved: a restart skips the start collection (the last one is recent) and
    //    uploads the spooled snapshot.
    platform.approved.store(true, Ordering::SeqCst);
    run("Uploaded a snapshot").await.unwrap();
    let applied = platform.applied();
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert!(snap_files(&spool_dir).is_empty());

    // 3. Another restart: nothing is collected or sent again. Judge after a full round
    //    (its heartbeat).
    let puts = platform.memory.lock().unwrap().puts;
    let (tx, heartbeat) = std::sync::mpsc::channel();
    *platform.on_heartbeat.lock().unwrap() = Some(tx);
    let mut child = spawn_agent(&args);
    let beat = tokio::task::spawn_blocking(move || heartbeat.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    beat.expect("the restarted agent sent no heartbeat");
    assert_eq!(
        platform.memory.lock().unwrap().puts,
        puts,
        "nothing sent twice"
    );
    assert!(platform.applied().values().all(|n| *n == 1));
    assert!(snap_files(&spool_dir).is_empty());
    sim.shutdown().await;
}
