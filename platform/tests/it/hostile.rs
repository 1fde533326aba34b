//! A hostile network against the real server (`Server::bind` + `run`, in process): idle and
//! half-open connections, a connection flood, unauthenticated bodies, invented methods,
//! concurrent password guessing. Each case is the attack of issue 16 at a size that runs in
//! seconds; none asserts a duration, only what the server answers and that it still works.

use std::path::Path;
use std::time::Duration;

use axum::http::StatusCode;
use seatbroker_platform::{Cli, Command, MAX_FAILURES_PER_USERNAME, ServeArgs, Server};
use seatbroker_protocol::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::TestDb;
use crate::console::{ADMIN_PASSWORD, Platform, Session, create_users};

/// A generous bound for anything the server must do soon; reaching it fails the test.
const PATIENCE: Duration = Duration::from_secs(60);

/// A platform served in this process by the real `Server` on 127.0.0.1.
struct Served {
    addr: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Served {
    async fn start(extra: &[&str]) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let args = serve_args(dir.path(), extra);
        let server = Server::bind(&args).await.unwrap();
        let addr = server.url().trim_start_matches("http://").to_owned();
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        let task = tokio::spawn(async move { server.run(signal).await.unwrap() });
        Served {
            addr,
            shutdown,
            task,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends `request` as is and returns everything the server answers until it closes.
    async fn raw(&self, request: &[u8]) -> String {
        let mut socket = TcpStream::connect(&self.addr).await.unwrap();
        socket.write_all(request).await.unwrap();
        read_to_close(&mut socket).await
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the server stops after shutdown")
            .unwrap();
    }
}

fn serve_args(dir: &Path, extra: &[&str]) -> ServeArgs {
    let mut full = vec![
        "seatbroker-platform",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
    ];
    full.extend_from_slice(extra);
    match <Cli as clap::Parser>::try_parse_from(full).unwrap().command {
        Command::Serve(args) => *args,
        other => panic!("{other:?}"),
    }
}

/// What the peer sends until it closes (or resets) the connection.
async fn read_to_close(socket: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open; it sent {:?}",
        String::from_utf8_lossy(&seen)
    );
    String::from_utf8_lossy(&seen).into_owned()
}

/// Reads until the end of a response head.
async fn read_head(socket: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server answered without waiting for the body");
    String::from_utf8_lossy(&seen).into_owned()
}

async fn healthz(served: &Served) -> StatusCode {
    reqwest::get(served.url("/healthz")).await.unwrap().status()
}

/// Opens `count` sockets to `served`: most send nothing, every tenth half a request head.
async fn open_idle(served: &Served, count: usize) -> Vec<TcpStream> {
    let mut idle = Vec::new();
    for n in 0..count {
        let mut socket = TcpStream::connect(&served.addr).await.unwrap();
        if n % 10 == 0 {
            socket
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        idle.push(socket);
    }
    idle
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_open_connections_are_closed_and_the_overflow_refused() {
    const IDLE: usize = 300;
    // The overflow, with a header timeout far longer than opening the sockets can take on
    // a loaded machine, so every slot is still taken when the next connection comes.
    let full = Served::start(&["--header-timeout-secs", "120", "--max-connections", "300"]).await;
    let taken = open_idle(&full, IDLE).await;
    let refused = full.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    drop(taken);
    let metrics = reqwest::get(full.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("seatbroker_connections_refused_total 1"),
        "{metrics}"
    );
    full.stop().await;

    // The timeouts: the server closes every silent or half-sent socket by itself.
    let served = Served::start(&[
        "--header-timeout-secs",
        "1",
        "--idle-timeout-secs",
        "1",
        "--max-connections",
        "300",
    ])
    .await;
    let mut idle = open_idle(&served, IDLE).await;
    for (n, socket) in idle.iter_mut().enumerate() {
        let sent = read_to_close(socket).await;
        assert!(!sent.contains(" 200 "), "socket {n} got {sent}");
    }
    drop(idle);
    // And serves again.
    assert_eq!(healthz(&served).await, StatusCode::OK);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_dropped_after_the_idle_timeout() {
    let served = Served::start(&["--idle-timeout-secs", "1"]).await;
    let mut socket = TcpStream::connect(&served.addr).await.unwrap();
    socket
        .write_all(
            b"POST /api/agent/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"proto",
        )
        .await
        .unwrap();
    let answer = read_to_close(&mut socket).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("idle timeout"), "{answer}");
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_refused_before_they_are_read() {
    let served = Served::start(&[]).await;
    // Check one request that announces a body it never sends: the answer must come without
    // it.
    let check = |request: String, status: &'static str, contains: &'static str| {
        let addr = served.addr.clone();
        async move {
            let mut socket = TcpStream::connect(&addr).await.unwrap();
            socket.write_all(request.as_bytes()).await.unwrap();
            let head = read_head(&mut socket).await;
            assert!(
                head.starts_with(&format!("HTTP/1.1 {status}")),
                "{request}\n→ {head}"
            );
            let mut rest = String::new();
            let _ = tokio::time::timeout(PATIENCE, socket.read_to_string(&mut rest)).await;
            assert!(
                format!("{head}{rest}").contains(contains),
                "{request}\n→ {head}{rest}"
            );
        }
    };
    let upload = |auth: &str| {
        format!(
            "PUT /api/agent/v1/snapshots/s1/parts/1 HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 1999000\r\n\r\n"
        )
    };
    // No credential, or a wrong one: 401 at once; the 2 MB body is never awaited.
    check(upload(""), "401", "unauthenticated").await;
    check(
        upload("Authorization: Bearer sba_not_a_real_credential\r\n"),
        "401",
        "invalid_credential",
    )
    .await;
    // More than the route takes: 413 at once, with the limit named.
    check(
        "POST /api/agent/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n".to_owned(),
        "413",
        "65536 bytes",
    )
    .await;
    check(
        upload("Authorization: Bearer x\r\n").replace("1999000", "3000000"),
        "413",
        "payload_too_large",
    )
    .await;
    check(
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\n".to_owned(),
        "413",
        "65536 bytes",
    )
    .await;
    // A chunked body without a length is cut at the same limit.
    let chunk = "a".repeat(40_000);
    let chunked = format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        len = chunk.len()
    );
    let answer = served.raw(chunked.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(!answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert_eq!(healthz(&served).await, StatusCode::OK);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_methods_do_not_grow_metrics() {
    let served = Served::start(&[]).await;
    for n in 0..200 {
        let method = format!("BOGUS{n}{}", "X".repeat(2000));
        let answer = served
            .raw(
                format!("{method} /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await;
        assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    }
    let metrics = reqwest::get(served.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("BOGUS"));
    assert!(
        metrics.contains(r#"route="/healthz",method="other",status="405"} 200"#),
        "{metrics}"
    );
    assert!(metrics.len() < 32 * 1024, "{} bytes", metrics.len());
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_require_a_token() {
    let token = "a-long-random-metrics-token";
    let served = Served::start(&["--metrics-token", token]).await;
    let http = reqwest::Client::new();
    let get = |auth: Option<&str>| {
        let mut request = http.get(served.url("/metrics"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(get(None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(get(Some("Bearer wrong")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(get(Some(&format!("Bearer {token}"))).await, StatusCode::OK);
    // Health stays open for load balancers.
    assert_eq!(healthz(&served).await, StatusCode::OK);
    served.stop().await;
    // A short token is a configuration error.
    let dir = tempfile::tempdir().unwrap();
    let error = Server::bind(&serve_args(dir.path(), &["--metrics-token", "short"]))
        .await
        .unwrap_err();
    assert!(error.is_config(), "{error}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_folder_and_database_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    // Make the parent world-readable, as a umask of 022 would.
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = parent.path().join("nested").join("data");
    let args = serve_args(&data, &[]);
    let store = seatbroker_platform::open_store(&args.database)
        .await
        .unwrap();
    store.close().await;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("seatbroker.db")), 0o600);
}

/// 60 wrong passwords for one user at once, through two processes on one database:
/// exactly the limit are checked, the rest are refused unchecked.
async fn concurrent_guesses_are_limited(db: TestDb) {
    create_users(&db.store).await;
    let one = Platform::start(db.store.clone()).await;
    let two = Platform::start(db.second_process().await).await;
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..60 {
        let url = if n % 2 == 0 { &one.url } else { &two.url }.clone();
        guesses.spawn(async move {
            Session::new(&url)
                .login("alice", &format!("wrong guess {n}"))
                .await
        });
    }
    let (mut checked, mut refused) = (0, 0);
    while let Some(page) = guesses.join_next().await {
        let page = page.unwrap();
        match page.status {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("{other}: {}", page.body),
        }
    }
    assert_eq!(checked, MAX_FAILURES_PER_USERNAME, "passwords checked");
    assert_eq!(refused, 60 - MAX_FAILURES_PER_USERNAME);
    // The right password is refused too until the window ends.
    let page = Session::new(&one.url).login("alice", ADMIN_PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
}

on_both_backends!(concurrent_login_guesses, concurrent_guesses_are_limited);

/// An agent that starts snapshots and never finishes them: its stored parts are capped,
/// the refusal is one it retries later (429 `rate_limited` with `Retry-After`), and the
/// abandoned parts expire, after which it uploads again.
async fn abandoned_parts_are_capped_and_expire(db: TestDb) {
    let clock = db.clock.clone();
    let server =
        crate::api::Server::start_with(db, |api| api.max_pending_parts_per_agent = 3).await;
    let store = server.state.store.clone();
    let (credential, source) = server.approved().await;
    let payload = crate::payload("hr", "acme", crate::t0(), crate::people(300));
    // Three snapshots of four parts, each one part short of complete.
    let mut sent = 0;
    for (n, id) in ["abandoned1", "abandoned2", "abandoned3"]
        .iter()
        .enumerate()
    {
        let parts = crate::parts(&payload, id, &source, n as u64 + 1, 512);
        assert!(parts.len() > 2, "{} parts", parts.len());
        let response = server.put(&credential, &parts[0]).await;
        assert_eq!(response.status(), StatusCode::OK);
        sent += 1;
    }
    let agent = store
        .authenticate_agent(&credential)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.pending_parts(&agent.id).await.unwrap(), sent);
    let parts = crate::parts(&payload, "abandoned4", &source, 4, 512);
    let refused = server.put(&credential, &parts[0]).await;
    assert_eq!(refused.headers()["retry-after"], "600");
    let problem = crate::api::check_problem(refused, 429, ErrorCode::RateLimited).await;
    assert_eq!(
        problem.code.disposition(problem.status),
        seatbroker_protocol::Disposition::Retry,
        "the agent keeps the snapshot and retries"
    );
    // Nothing expires while young; after a day without parts, all three go.
    assert_eq!(
        store
            .expire_incomplete_snapshots(chrono::Duration::hours(24))
            .await
            .unwrap(),
        0
    );
    clock.set(crate::t0() + chrono::Duration::hours(25));
    assert_eq!(
        store
            .expire_incomplete_snapshots(chrono::Duration::hours(24))
            .await
            .unwrap(),
        3
    );
    let accepted = server.put(&credential, &parts[0]).await;
    assert_eq!(accepted.status(), StatusCode::OK);
}

on_both_backends!(abandoned_parts, abandoned_parts_are_capped_and_expire);

/// A compression bomb from an approved agent: refused at its expansion bound as an invalid
/// payload (the agent drops it), and the platform carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compression_bomb_is_refused_at_its_expansion_bound() {
    use std::io::Write as _;
    let server = crate::api::Server::start_with(TestDb::sqlite().await, |_| {}).await;
    let (credential, source) = server.approved().await;
    // 200 MiB of blanks before `{}`: a few hundred KiB compressed.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let blanks = vec![b' '; 1024 * 1024];
    for _ in 0..200 {
        gz.write_all(&blanks).unwrap();
    }
    gz.write_all(b"{}").unwrap();
    let bomb = gz.finish().unwrap();
    let encoded = seatbroker_protocol::EncodedSnapshot {
        snapshot_checksum: seatbroker_protocol::checksum(&bomb),
        chunks: bomb
            .chunks(seatbroker_protocol::limits::MAX_PART_BYTES)
            .map(<[u8]>::to_vec)
            .collect(),
    };
    let mut last = None;
    for n in 1..=encoded.chunks.len() as u32 {
        let part = encoded.part("bomb1", &source, 1, crate::t0(), n);
        last = Some(server.put(&credential, &part).await);
    }
    let problem = crate::api::check_problem(last.unwrap(), 422, ErrorCode::PayloadInvalid).await;
    let detail = problem.detail.unwrap_or_default();
    assert!(detail.contains("larger than its bound"), "{detail}");
    assert_eq!(
        server.state.store.snapshot_state("bomb1").await.unwrap(),
        None,
        "the bomb is discarded"
    );
}

/// A snapshot being decoded holds no database lock: while one agent's decode is held in
/// progress (by a [`DecodeGate`](seatbroker_platform::DecodeGate), as a slow bomb or a huge
/// snapshot would be), a console login and another agent's whole upload complete, and the
/// held snapshot is applied once its decode ends. Decoding inside the write transaction
/// would leave the login and the second upload waiting behind the decode (on SQLite).
async fn decoding_holds_no_lock(mut db: TestDb) {
    let gate = seatbroker_platform::DecodeGate::new("slow1");
    db.store = db.store.clone().with_decode_gate(gate.clone());
    create_users(&db.store).await;
    let server = crate::api::Server::start_with(db, |_| {}).await;
    let console = Platform::start(server.state.store.clone()).await;
    let (slow_credential, slow_source) = server.approved().await;
    let (other_credential, other_source) = server.approved().await;
    let slow = crate::parts(
        &crate::payload("hr", "acme", crate::t0(), crate::people(50)),
        "slow1",
        &slow_source,
        1,
        256,
    );
    let other = crate::parts(
        &crate::payload("hr", "acme", crate::t0(), crate::people(40)),
        "other1",
        &other_source,
        1,
        256,
    );
    assert!(slow.len() > 1 && other.len() > 1);
    for part in &slow[..slow.len() - 1] {
        assert_eq!(
            server.put(&slow_credential, part).await.status(),
            StatusCode::OK
        );
    }
    let server = std::sync::Arc::new(server);
    let last = slow.last().unwrap().clone();
    let held = tokio::spawn({
        let server = server.clone();
        async move { server.put(&slow_credential, &last).await }
    });
    tokio::time::timeout(PATIENCE, gate.entered())
        .await
        .expect("the last part starts the decode");

    // Meanwhile: a login and another agent's snapshot, start to applied.
    let login = async {
        let mut session = Session::new(&console.url);
        session.login_ok("alice", ADMIN_PASSWORD).await;
    };
    tokio::time::timeout(PATIENCE, login)
        .await
        .expect("a login completes while a snapshot is being decoded");
    let upload = async {
        let mut acks = Vec::new();
        for part in &other {
            let response = server.put(&other_credential, part).await;
            assert_eq!(response.status(), StatusCode::OK);
            acks.push(
                response
                    .json::<seatbroker_protocol::UploadAck>()
                    .await
                    .unwrap(),
            );
        }
        acks
    };
    let acks = tokio::time::timeout(PATIENCE, upload)
        .await
        .expect("another agent's upload completes while a snapshot is being decoded");
    assert!(acks.last().unwrap().snapshot_applied, "{acks:?}");
    assert!(!held.is_finished(), "the held decode is still in progress");
    let store = &server.state.store;
    assert_eq!(
        store.snapshot_state("slow1").await.unwrap().as_deref(),
        Some("receiving"),
        "nothing of the held snapshot is written before its decode ends"
    );

    gate.release();
    let response = tokio::time::timeout(PATIENCE, held)
        .await
        .expect("the held upload finishes once released")
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let ack: seatbroker_protocol::UploadAck = response.json().await.unwrap();
    assert!(ack.snapshot_applied, "{ack:?}");
    assert_eq!(
        store.snapshot_state("slow1").await.unwrap().as_deref(),
        Some("applied")
    );
}

on_both_backends!(decoding_outside_the_write_lock, decoding_holds_no_lock);

/// Sources & agents shows, per agent, the parts of incomplete snapshots it holds (bytes,
/// age) against the cap, and what the expiry job dropped of its, in HTML and in JSON.
async fn incomplete_uploads_are_shown(db: TestDb) {
    let clock = db.clock.clone();
    create_users(&db.store).await;
    let server = crate::api::Server::start_with(db, |_| {}).await;
    let store = server.state.store.clone();
    let console = Platform::start(store.clone()).await;
    let (credential, source) = server.approved().await;
    let (quiet_credential, _) = server.approved().await;
    let payload = crate::payload("hr", "acme", crate::t0(), crate::people(300));
    let parts = crate::parts(&payload, "unfinished1", &source, 1, 512);
    assert!(parts.len() > 2, "{} parts", parts.len());
    let mut bytes = 0;
    for part in &parts[..2] {
        assert_eq!(server.put(&credential, part).await.status(), StatusCode::OK);
        bytes += part.chunk().unwrap().len() as u64;
    }
    let agent = store
        .authenticate_agent(&credential)
        .await
        .unwrap()
        .unwrap();
    let quiet = store
        .authenticate_agent(&quiet_credential)
        .await
        .unwrap()
        .unwrap();
    let mut admin = Session::new(&console.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;

    let agent_json = |report: &serde_json::Value, id: &str| {
        report["agents"]
            .as_array()
            .unwrap_or_else(|| panic!("agents in {report}"))
            .iter()
            .find(|a| a["agent_id"] == id)
            .unwrap_or_else(|| panic!("agent {id} in {report}"))
            .clone()
    };
    let (status, report) = admin.get_json("/api/v1/reports/sources").await;
    assert_eq!(status, StatusCode::OK);
    let limits = &report["incomplete_limits"];
    assert_eq!(limits["max_parts_per_agent"], 1024);
    assert_eq!(limits["max_bytes_per_agent"], 1024 * 1024 * 1024);
    assert_eq!(limits["expire_after_hours"], 24);
    let held = agent_json(&report, &agent.id)["incomplete_uploads"].clone();
    assert_eq!(held["snapshots"], 1, "{held}");
    assert_eq!(held["parts"], 2, "{held}");
    assert_eq!(held["bytes"], bytes, "{held}");
    assert_eq!(held["oldest_at"], "2025-06-02T09:00:00Z", "{held}");
    assert_eq!(held["expired"], 0, "{held}");
    assert!(held["last_expired_at"].is_null(), "{held}");
    let page = admin.get("/sources").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("1 KiB in 2 of 1024 parts (1 snapshot); oldest started 2025-06-02 09:00 UTC"),
        "{}",
        page.body
    );
    assert!(page.body.contains("none expired"), "{}", page.body);
    assert!(page.body.contains("for 24 h is dropped"), "{}", page.body);
    let nothing = agent_json(&report, &quiet.id)["incomplete_uploads"].clone();
    assert_eq!(nothing["snapshots"], 0, "{nothing}");
    assert_eq!(nothing["bytes"], 0, "{nothing}");
    assert!(nothing["oldest_at"].is_null(), "{nothing}");

    // A day and more later the expiry job drops it; the page says how many and when.
    let later = crate::t0() + chrono::Duration::hours(25);
    clock.set(later);
    assert_eq!(
        store
            .expire_incomplete_snapshots(chrono::Duration::hours(24))
            .await
            .unwrap(),
        1
    );
    let mut admin = Session::new(&console.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;
    let (_, report) = admin.get_json("/api/v1/reports/sources").await;
    let held = agent_json(&report, &agent.id)["incomplete_uploads"].clone();
    assert_eq!(held["snapshots"], 0, "{held}");
    assert_eq!(held["parts"], 0, "{held}");
    assert_eq!(held["bytes"], 0, "{held}");
    assert_eq!(held["expired"], 1, "{held}");
    assert_eq!(held["last_expired_at"], "2025-06-03T10:00:00Z", "{held}");
    let page = admin.get("/sources").await;
    assert!(
        page.body
            .contains("1 expired, last 2025-06-03 10:00 UTC (just now)"),
        "{}",
        page.body
    );
}

on_both_backends!(incomplete_uploads_on_sources, incomplete_uploads_are_shown);

/// An agent that stops waiting for the answer to its last part (its request timed out while
/// a large snapshot was applied) does not roll the apply back: the snapshot is applied, and
/// the agent's retry of that part is told so.
async fn an_abandoned_request_still_applies(mut db: TestDb) {
    let gate = seatbroker_platform::DecodeGate::new("left1");
    db.store = db.store.clone().with_decode_gate(gate.clone());
    let server = std::sync::Arc::new(crate::api::Server::start_with(db, |_| {}).await);
    let (credential, source) = server.approved().await;
    let parts = crate::parts(
        &crate::payload("hr", "acme", crate::t0(), crate::people(50)),
        "left1",
        &source,
        1,
        256,
    );
    for part in &parts[..parts.len() - 1] {
        assert_eq!(server.put(&credential, part).await.status(), StatusCode::OK);
    }
    let last = parts.last().unwrap().clone();
    let request = tokio::spawn({
        let server = server.clone();
        let credential = credential.clone();
        let last = last.clone();
        async move { server.put(&credential, &last).await }
    });
    tokio::time::timeout(PATIENCE, gate.entered())
        .await
        .expect("the last part starts the apply");
    // The agent gives up: its request and connection are dropped.
    request.abort();
    let _ = request.await;
    gate.release();
    // Its retry of the last part waits for the apply and is told it is applied.
    let retry = tokio::time::timeout(PATIENCE, server.put(&credential, &last))
        .await
        .expect("the retry is answered");
    assert_eq!(retry.status(), StatusCode::OK);
    let ack: seatbroker_protocol::UploadAck = retry.json().await.unwrap();
    assert!(ack.snapshot_applied, "{ack:?}");
    assert_eq!(
        gate.entries(),
        1,
        "decoded once: the retry found it applied"
    );
    assert_eq!(
        server
            .state
            .store
            .snapshot_state("left1")
            .await
            .unwrap()
            .as_deref(),
        Some("applied")
    );
}

on_both_backends!(
    abandoned_request_applies,
    an_abandoned_request_still_applies
);
