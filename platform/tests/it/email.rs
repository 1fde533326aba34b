//! Scheduled reports by email, against a real SMTP server: aiosmtpd
//! (`platform/tests/support/smtp_server.py`), run by the Python that `scripts/test` installs
//! it into (`SEATBROKER_TEST_SMTP_PYTHON`, default `target/test-venvs/email/bin/python`).
//!
//! Two platform processes (two stores on one database, each with its own sender) serve one
//! company: a weekly digest falls due, exactly one message arrives, after one temporary
//! refusal; its figures are the console's, its attachment is the Reclaim CSV, and no secret
//! is in it. The test button queues a message the sender delivers; a permanent refusal is
//! recorded as failed and counted.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use seatbroker_platform::{
    AppState, EmailSettings, Mailer, Price, SmtpSecurity, Store, WebSettings, app,
};
use serde_json::Value;
use sqlx::Row;
use tokio_util::sync::CancellationToken;

use crate::TestDb;
use crate::console::{ADMIN_PASSWORD, Session, VIEWER_PASSWORD, create_users};
use crate::licences::{E3, load, setup};

const SMTP_USER: &str = "seatbroker";
const SMTP_PASSWORD: &str = "smtp-password-never-in-mail-7f3a";
const PUBLIC_URL: &str = "https://seats.example.com";

/// The aiosmtpd server; killed when dropped.
struct SmtpServer {
    port: u16,
    out: tempfile::TempDir,
    child: Child,
}

impl SmtpServer {
    fn start(refuse_first: u32) -> SmtpServer {
        let python = std::env::var("SEATBROKER_TEST_SMTP_PYTHON").unwrap_or_else(|_| {
            format!(
                "{}/../target/test-venvs/email/bin/python",
                env!("CARGO_MANIFEST_DIR")
            )
        });
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let out = tempfile::tempdir().unwrap();
        // `-W ignore`: aiosmtpd warns that AUTH without TLS is unusual; here it is the point.
        let mut child = Command::new(&python)
            .args(["-W", "ignore"])
            .arg(&script)
            .arg(out.path())
            .args(["--refuse-first", &refuse_first.to_string()])
            .args(["--user", SMTP_USER, "--password", SMTP_PASSWORD])
            .args(["--reject", "nobody@"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "the email tests need Python with aiosmtpd at {python} ({e}); run scripts/test, \
                     which installs it into target/test-venvs/email, or point \
                     SEATBROKER_TEST_SMTP_PYTHON at a python that has `aiosmtpd`"
                )
            });
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("the SMTP server did not start (is aiosmtpd installed for {python}?): {line:?}")
        });
        SmtpServer { port, out, child }
    }

    /// The messages accepted so far, in order.
    fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort_by_key(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u32>().ok())
        });
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits until `n` messages arrived (a deadline against a hang, not a timing claim).
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..600 {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{n} message(s) expected; got {:?}", self.messages());
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn settings(port: u16) -> EmailSettings {
    let mut settings = EmailSettings::new(
        "127.0.0.1",
        port,
        SmtpSecurity::None,
        "Seatbroker <seatbroker@example.com>",
        PUBLIC_URL,
    );
    settings.credentials = Some((
        SMTP_USER.to_owned(),
        seatbroker_protocol::Secret::new(SMTP_PASSWORD),
    ));
    settings.poll = Duration::from_millis(100);
    settings.retry_delay = Duration::from_millis(50);
    settings.max_attempts = 3;
    settings.timeout = Duration::from_secs(10);
    settings
}

/// One platform process with its sender; both stop when dropped.
struct Process {
    url: String,
    state: AppState,
    shutdown: CancellationToken,
}

impl Process {
    async fn start(store: Store, mailer: Mailer) -> Process {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(store.clone());
        let router = app(
            state.clone(),
            WebSettings {
                mailer: Some(mailer.clone()),
                ..WebSettings::default()
            },
        );
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move { signal.cancelled().await })
            .await
            .unwrap();
        });
        tokio::spawn(mailer.run(store, Arc::clone(&state.metrics), shutdown.clone()));
        Process {
            url,
            state,
            shutdown,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// (kind, address, status, attempts, last_error) of every send, oldest first.
async fn sends(store: &Store) -> Vec<(String, String, String, i64, Option<String>)> {
    sqlx::query(
        "SELECT kind, address, status, attempts, last_error FROM email_sends ORDER BY created_at, id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect()
}

/// Waits until no send is queued or being sent.
async fn settled(store: &Store) -> Vec<(String, String, String, i64, Option<String>)> {
    for _ in 0..600 {
        let all = sends(store).await;
        if all.iter().all(|s| s.2 == "sent" || s.2 == "failed") {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sends never settled: {:?}", sends(store).await);
}

/// The value after `label` on the lines of `text` that start with it (trimmed).
fn values<'a>(text: &'a str, label: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
        .collect()
}

on_both_backends!(digest_and_test_email, digest_and_test_email_body);
async fn digest_and_test_email_body(db: TestDb) {
    let store = &db.store;
    create_users(store).await;
    let f = setup(store).await;
    load(store, &f).await;
    store
        .set_price(
            "test",
            &f.entra,
            E3,
            &Price::parse("12.50", "EUR", "month").unwrap(),
        )
        .await
        .unwrap();
    // A live enrollment token: a secret that must not leak into any message.
    let token = store
        .create_enrollment_token("test", "leak check", None, None)
        .await
        .unwrap()
        .token;
    let smtp = SmtpServer::start(1);

    // Two platform processes on one database, each with its own sender.
    let one = Process::start(store.clone(), Mailer::new(settings(smtp.port))).await;
    let second_store = db.second_process().await;
    let two = Process::start(second_store, Mailer::new(settings(smtp.port))).await;

    let mut alice = Session::new(&one.url);
    alice.login_ok("alice", ADMIN_PASSWORD).await;
    let mut victor = Session::new(&one.url);
    victor.login_ok("victor", VIEWER_PASSWORD).await;
    assert_eq!(victor.get("/email").await.status, StatusCode::FORBIDDEN);

    // Bad input is refused with a reason and stores nothing.
    let bad = alice
        .act(
            "/email/subscriptions",
            &[("address", "not-an-address"), ("frequency", "weekly")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    let bad = alice
        .act(
            "/email/subscriptions",
            &[("address", "ops@example.com"), ("frequency", "daily")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("weekly or monthly"), "{}", bad.body);

    let page = alice
        .act(
            "/email/subscriptions",
            &[("address", "ops@example.com"), ("frequency", "weekly")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let again = alice
        .act(
            "/email/subscriptions",
            &[("address", "ops@example.com"), ("frequency", "weekly")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    let page = alice.get("/email").await;
    assert!(page.body.contains("ops@example.com"), "{}", page.body);
    // t0 is Monday 2025-06-02 09:00: the first weekly digest is due a week later at 07:00.
    assert!(page.body.contains("2025-06-09 07:00 UTC"), "{}", page.body);
    let audit = store.list_audit(50, None).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "email.subscribe" && e.actor == "alice")
    );
    // Nothing is due yet.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(smtp.messages().is_empty());

    // The digest falls due: both senders see it, one claims it.
    db.clock.set(at("2025-06-09T08:00:00Z"));
    let messages = smtp.wait_for(1).await;
    let all = settled(store).await;
    assert_eq!(
        all.len(),
        1,
        "one digest queued, not one per process: {all:?}"
    );
    let (kind, address, status, attempts, error) = &all[0];
    assert_eq!(
        (kind.as_str(), address.as_str()),
        ("digest", "ops@example.com")
    );
    assert_eq!(status, "sent");
    assert_eq!(*attempts, 2, "refused once, then sent");
    assert!(error.as_deref().unwrap_or("").contains("451"), "{error:?}");
    // Give the other process time to (wrongly) send it again, then look.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1, "{:?}", smtp.messages());
    let digest = &messages[0];
    assert_eq!(digest["rcpt_tos"], serde_json::json!(["ops@example.com"]));
    assert_eq!(digest["authenticated"], true);
    let text = digest["text"].as_str().unwrap();

    // Its figures are the console's (a week later: the session expired, sign in again).
    alice.login_ok("alice", ADMIN_PASSWORD).await;
    let (status, report) = alice.get_json("/api/v1/reports/licences").await;
    assert_eq!(status, StatusCode::OK);
    let orgs = report["organisations"].as_array().unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(
        values(text, "Organisation:"),
        [orgs[0]["name"].as_str().unwrap()]
    );
    assert_eq!(
        values(text, "Reclaimable seats:"),
        [orgs[0]["reclaimable"].to_string()]
    );
    let savings = orgs[0]["monthly_savings"].as_object().unwrap();
    assert_eq!(savings.len(), 1, "{report}");
    let expected: Vec<String> = savings
        .iter()
        .map(|(cur, amount)| format!("{:.2} {cur} per month", amount.as_f64().unwrap()))
        .collect();
    assert_eq!(values(text, "Possible savings:"), expected, "{text}");
    assert_eq!(values(text, "Agents waiting for approval:"), ["0"]);
    assert!(text.contains(&format!("{PUBLIC_URL}/reclaim")), "{text}");
    assert!(text.contains(&format!("{PUBLIC_URL}/approvals")), "{text}");
    assert!(
        digest["subject"]
            .as_str()
            .unwrap()
            .contains(&format!("{} reclaimable seats", orgs[0]["reclaimable"]))
    );

    // Its attachment is the Reclaim CSV.
    let csv = alice.get("/reclaim.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    let attachments = digest["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["filename"], "reclaim-2025-06-09.csv");
    assert_eq!(attachments[0]["content_type"], "text/csv");
    assert_eq!(attachments[0]["content"].as_str().unwrap(), csv.body);
    assert!(
        csv.body.lines().count() > 1,
        "the CSV has rows: {}",
        csv.body
    );

    // No secret in it.
    let raw = digest["raw"].as_str().unwrap();
    for secret in [SMTP_PASSWORD, token.expose()] {
        assert!(!raw.contains(secret), "a secret leaked into the digest");
    }

    // The test button answers at once; the sender delivers the message.
    let page = alice
        .act("/email/test", &[("address", "me@example.com")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let messages = smtp.wait_for(2).await;
    assert_eq!(messages[1]["subject"], "Seatbroker test email");
    assert_eq!(
        messages[1]["rcpt_tos"],
        serde_json::json!(["me@example.com"])
    );
    assert!(!messages[1]["raw"].as_str().unwrap().contains(SMTP_PASSWORD));
    assert!(
        store
            .list_audit(50, None)
            .await
            .unwrap()
            .iter()
            .any(|e| e.action == "email.test")
    );

    // A permanent refusal is not retried: recorded as failed, counted, shown.
    let page = alice
        .act("/email/test", &[("address", "nobody@example.com")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let all = settled(store).await;
    let failed = all.iter().find(|s| s.1 == "nobody@example.com").unwrap();
    assert_eq!((failed.2.as_str(), failed.3), ("failed", 1), "{failed:?}");
    assert!(
        failed.4.as_deref().unwrap_or("").contains("550"),
        "{failed:?}"
    );
    let failures =
        one.state.metrics.email_send_failures() + two.state.metrics.email_send_failures();
    assert_eq!(failures, 1);
    let page = alice.get("/email").await;
    assert!(page.body.contains("nobody@example.com"), "{}", page.body);
    assert!(page.body.contains("failed"));
    assert!(!page.body.contains(SMTP_PASSWORD));
    let metrics = reqwest::get(format!("{}/metrics", one.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("seatbroker_email_send_failures_total"));

    // The schedule moved on: next Monday.
    let page = alice.get("/email").await;
    assert!(page.body.contains("2025-06-16 07:00 UTC"), "{}", page.body);
    drop(two);
    drop(one);
}
