//! The real `seatbroker-platform` binary: first start, `admin create`, graceful shutdown,
//! and two processes serving one PostgreSQL database with agents uploading through both.

use std::process::Stdio;

use reqwest::StatusCode;
use seatbroker_protocol::SeatState;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::console::{Agent, Session, create_token};
use crate::{TestDb, seat};

const BIN: &str = env!("CARGO_BIN_EXE_seatbroker-platform");

/// A running `seatbroker-platform serve`.
struct Process {
    child: Child,
    url: String,
    /// Standard error lines, collected in the background.
    stderr: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Process {
    async fn serve(data_dir: &std::path::Path, database_url: Option<&str>) -> Process {
        Self::serve_with(data_dir, database_url, &[]).await
    }

    async fn serve_with(
        data_dir: &std::path::Path,
        database_url: Option<&str>,
        extra: &[&str],
    ) -> Process {
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("SEATBROKER_DATABASE_URL")
            .env("SEATBROKER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        command.args(extra);
        let mut child = command.spawn().unwrap();
        let (tx, stderr) = tokio::sync::mpsc::unbounded_channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = stdout
            .next_line()
            .await
            .unwrap()
            .expect("the platform printed its URL line before exiting");
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        let url = parsed["url"].as_str().unwrap().to_owned();
        assert!(url.contains("://127.0.0.1:"), "{url}");
        Process { child, url, stderr }
    }

    /// SIGTERM, then the exit status: a graceful shutdown exits 0.
    async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .unwrap();
        assert!(status.success());
        self.child.wait().await.unwrap()
    }
}

async fn admin_create(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    username: &str,
    password: &str,
) {
    let mut command = Command::new(BIN);
    command
        .args([
            "admin",
            "create",
            "--username",
            username,
            "--role",
            "admin",
            "--data-dir",
        ])
        .arg(data_dir)
        .env_remove("SEATBROKER_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{password}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "admin create failed: {stderr}");
    assert!(
        !stderr.contains(password),
        "the password must not be echoed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_prints_a_one_time_admin_password_and_admin_create_resets_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Process::serve(dir.path(), None).await;
    let mut password = None;
    while let Some(line) = first.stderr.recv().await {
        if let Some(rest) = line.trim().strip_prefix("password: ") {
            password = Some(rest.trim().to_owned());
            break;
        }
    }
    let password = password.expect("a one-time password on stderr");
    Session::new(&first.url).login_ok("admin", &password).await;
    assert!(
        first.terminate().await.success(),
        "graceful shutdown exits 0"
    );

    // A second start prints no password: the user exists.
    let mut second = Process::serve(dir.path(), None).await;
    Session::new(&second.url).login_ok("admin", &password).await;
    // Change it with `admin create` (password on stdin); the old one stops working.
    admin_create(dir.path(), None, "admin", "a brand new password").await;
    assert_eq!(
        Session::new(&second.url)
            .login("admin", &password)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    Session::new(&second.url)
        .login_ok("admin", "a brand new password")
        .await;
    let mut printed = Vec::new();
    while let Ok(line) = second.stderr.try_recv() {
        printed.push(line);
    }
    assert!(
        !printed.iter().any(|l| l.contains("password:")),
        "{printed:?}"
    );
    assert!(second.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_serve_one_postgres_database() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    admin_create(dir.path(), Some(&db.url), "alice", "alice's long password").await;
    let one = Process::serve(dir.path(), Some(&db.url)).await;
    let two = Process::serve(dir.path(), Some(&db.url)).await;

    // Log in on one; the session works on two.
    let mut on_one = Session::new(&one.url);
    on_one.login_ok("alice", "alice's long password").await;
    let mut on_two = on_one.on(&two.url);
    let token = create_token(&mut on_one).await;

    // Two agents enroll, one through each process; approvals are split too.
    let a = Agent::enroll(&one.url, &token, &[("main", "tenant-a")]).await;
    let b = Agent::enroll(&two.url, &token, &[("main", "tenant-b")]).await;
    for (agent, admin) in [(&a, &mut on_two), (&b, &mut on_one)] {
        let page = admin
            .act(
                &format!("/approvals/agents/{}/approve", agent.enrolled.agent_id),
                &[],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let page = admin
            .act(
                &format!("/approvals/sources/{}/approve", agent.source_id(0)),
                &[],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    }

    // Both agents upload at once, each snapshot's parts alternating between processes.
    let people = |inactive: usize| {
        (0..60)
            .map(|i| {
                let state = if i < inactive {
                    SeatState::Inactive
                } else {
                    SeatState::Active
                };
                seat(&format!("p{i:03}"), state)
            })
            .collect::<Vec<_>>()
    };
    let forward = [one.url.as_str(), two.url.as_str()];
    let backward = [two.url.as_str(), one.url.as_str()];
    let (source_a, source_b) = (a.source_id(0), b.source_id(0));
    let (snapshot_a, snapshot_b) = ("d".repeat(32), "e".repeat(32));
    let (ack_a, ack_b) = tokio::join!(
        a.upload(&forward, &source_a, &snapshot_a, 1, crate::t0(), people(7)),
        b.upload(
            &backward,
            &source_b,
            &snapshot_b,
            1,
            crate::t0(),
            people(11)
        ),
    );
    assert!(ack_a.snapshot_applied && ack_b.snapshot_applied);
    assert!(ack_a.part_count > 1, "the snapshot spans several parts");

    // Both processes report the same.
    let (_, from_one) = on_one.get_json("/api/v1/reports/overview").await;
    let (_, from_two) = on_two.get_json("/api/v1/reports/overview").await;
    assert_eq!(from_one, from_two);
    let mut inactive: Vec<i64> = from_one
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["inactive"].as_i64().unwrap())
        .collect();
    inactive.sort();
    assert_eq!(inactive, [7, 11]);
    let (_, seats) = on_two.get_json("/api/v1/reports/inactive-seats").await;
    assert_eq!(seats["total"], 18);

    assert!(one.terminate().await.success());
    // The other process keeps serving.
    assert_eq!(on_two.get("/").await.status, StatusCode::OK);
    assert!(two.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_secure_cookies_when_given_a_certificate() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
    let cert = format!("{fixtures}/cert.pem");
    let key = format!("{fixtures}/key.pem");
    let dir = tempfile::tempdir().unwrap();
    admin_create(dir.path(), None, "alice", "alice's long password").await;
    let platform =
        Process::serve_with(dir.path(), None, &["--tls-cert", &cert, "--tls-key", &key]).await;
    assert!(platform.url.starts_with("https://"), "{}", platform.url);
    let root = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(root)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let health = http
        .get(format!("{}/healthz", platform.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // Browsers are told to keep to HTTPS.
    assert_eq!(
        health.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let login = http
        .get(format!("{}/login", platform.url))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    // Plain HTTP to the TLS port gets nowhere.
    let plain = platform.url.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err());
    assert!(platform.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_exits_64_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args([
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ])
        .env_remove("SEATBROKER_DATABASE_URL")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/cert.pem"), "{stderr}");

    // A malformed listen address from the environment is a configuration error too.
    let output = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("SEATBROKER_LISTEN", "not an address")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not an address"), "{stderr}");
    let help = Command::new(BIN).arg("--help").output().await.unwrap();
    assert_eq!(help.status.code(), Some(0));
}
