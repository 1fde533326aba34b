//! Memory of a platform process under the attacks of issue 16. Prints a table; asserts
//! nothing.
//!
//! ```text
//! cargo build --release -p seatbroker-platform
//! cargo run --release -p seatbroker-platform --example hostile_memory -- target/release/seatbroker-platform \
//!     [--only rest,idle,flood,snapshot,bombs] [--people N | --max-snapshot] [--postgres postgres://postgres@127.0.0.1:5432]
//! ```
//!
//! Starts the given `seatbroker-platform` binary (default settings, so an older binary can be
//! measured the same way) on SQLite in a temporary folder, or with `--postgres SERVER` on a
//! fresh database of that server (dropped afterwards), and reads its `/proc/<pid>/status`
//! (VmRSS now, VmHWM the peak since the last reset through `/proc/<pid>/clear_refs`, together
//! with VmRSS sampled every 10 ms, since the kernel's VmHWM can miss a short peak):
//!
//! 1. `rest`: at rest, after one health check;
//! 2. `idle`: with 500 idle connections open;
//! 3. `flood`: during a flood of 400 unauthenticated snapshot-part uploads of 1.999 MB each,
//!    and after they closed;
//! 4. `snapshot`: during one large snapshot (300,000 people, or `--people N`, or with
//!    `--max-snapshot` as many as fit the platform's largest accepted snapshot, 1 GiB of
//!    JSON) uploaded by an approved agent, with the time from its first part to its apply;
//! 5. `bombs`: during three compression bombs at once (three sources, each ~256 KiB of gzip
//!    that inflates to 256 MiB of JSON whitespace).
//!
//! `--only` picks steps (all by default). Linux only (it reads `/proc`).

use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use seatbroker_platform::{EnrollmentOutcome, Store, new_id, sqlite_url};
use seatbroker_protocol::{
    CollectionInfo, EncodedSnapshot, EnrollRequest, PersonStatus, SeatRecord, SeatState,
    SnapshotPayload, SourceDescriptor, SourceKind, StateCounts, Summary, UploadPart, UsagePolicy,
    checksum, encode_snapshot, limits, paths,
};
use sqlx::Connection as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// People in the large snapshot, unless `--people` or `--max-snapshot` says otherwise.
const PEOPLE: usize = 300_000;

/// A platform process on a fresh SQLite database.
struct Platform {
    child: tokio::process::Child,
    pid: u32,
    url: String,
    addr: String,
    dir: tempfile::TempDir,
}

async fn start(bin: &str, db: &Database) -> anyhow::Result<Platform> {
    let dir = tempfile::tempdir()?;
    let mut command = tokio::process::Command::new(bin);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path());
    if let Some(url) = db.url(dir.path()).strip_prefix("postgres") {
        command.env("SEATBROKER_DATABASE_URL", format!("postgres{url}"));
    }
    let mut child = command
        .env("SEATBROKER_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().expect("running");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let line = lines.next_line().await?.expect("the URL line");
    let url: serde_json::Value = serde_json::from_str(&line)?;
    let url = url["url"].as_str().expect("url").to_owned();
    let addr = url.trim_start_matches("http://").to_owned();
    reqwest::get(format!("{url}/healthz")).await?;
    settle().await;
    sample(pid);
    Ok(Platform {
        child,
        pid,
        url,
        addr,
        dir,
    })
}

/// Where each platform process keeps its data: SQLite in its folder, or a fresh database
/// on a PostgreSQL server per process.
struct Database {
    postgres: Option<String>,
    current: std::sync::Mutex<Option<String>>,
}

impl Database {
    /// Prepares the database of the next process.
    async fn fresh(&self) -> anyhow::Result<()> {
        self.drop_current().await?;
        if let Some(server) = &self.postgres {
            let name = format!("sb_bench_{}", new_id());
            let mut admin = sqlx::PgConnection::connect(&format!("{server}/test")).await?;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await?;
            *self.current.lock().expect("not poisoned") = Some(format!("{server}/{name}"));
        }
        Ok(())
    }

    fn url(&self, dir: &std::path::Path) -> String {
        match &*self.current.lock().expect("not poisoned") {
            Some(url) => url.clone(),
            None => sqlite_url(&dir.join("seatbroker.db")),
        }
    }

    async fn drop_current(&self) -> anyhow::Result<()> {
        let current = self.current.lock().expect("not poisoned").take();
        if let (Some(server), Some(url)) = (&self.postgres, current) {
            let name = url.rsplit('/').next().unwrap_or_default().to_owned();
            let mut admin = sqlx::PgConnection::connect(&format!("{server}/test")).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await?;
        }
        Ok(())
    }
}

/// The value after `flag` on the command line.
fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// How many people the example's seats need to fill `bytes` of snapshot JSON.
fn people_for(bytes: usize) -> anyhow::Result<usize> {
    let sample = 10_000;
    let json = serde_json::to_vec(&payload("hr0", "tenant-0", (0..sample).map(seat).collect()))?;
    // Seat numbers grow longer by a digit or two past the sample: keep 2 % to spare.
    Ok(bytes / 100 * 98 / json.len().div_ceil(sample))
}

/// Every step runs in a fresh process, so memory one step freed but kept cannot hide
/// the next step's growth.
#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let bin = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "target/release/seatbroker-platform".to_owned());
    let only = flag("--only").unwrap_or_else(|| "rest,idle,flood,snapshot,bombs".to_owned());
    let step = |name: &str| only.split(',').any(|s| s == name);
    let people = if std::env::args().any(|a| a == "--max-snapshot") {
        people_for(limits::MAX_PAYLOAD_BYTES)?
    } else {
        flag("--people").map_or(Ok(PEOPLE), |n| n.parse())?
    };
    let db = Database {
        postgres: flag("--postgres"),
        current: std::sync::Mutex::new(None),
    };
    let http = reqwest::Client::new();
    println!(
        "binary: {bin}; database: {}\n",
        if db.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!("| moment | VmRSS MiB | VmHWM MiB (peak of the step) |");
    println!("|---|---:|---:|");
    if step("rest") || step("idle") || step("flood") {
        steps_1_to_3(&bin, &db).await?;
    }
    if step("snapshot") {
        step_4(&bin, &db, &http, people).await?;
    }
    if step("bombs") {
        step_5(&bin, &db, &http).await?;
    }
    db.drop_current().await?;
    Ok(())
}

async fn steps_1_to_3(bin: &str, db: &Database) -> anyhow::Result<()> {
    db.fresh().await?;
    // 1. At rest.
    let Platform {
        mut child,
        pid,
        addr,
        dir,
        ..
    } = start(bin, db).await?;
    report(pid, "at rest");

    // 2. 500 idle connections.
    reset_peak(pid);
    let mut idle = Vec::new();
    for _ in 0..500 {
        if let Ok(socket) = TcpStream::connect(&addr).await {
            idle.push(socket);
        }
    }
    settle().await;
    report(pid, &format!("{} idle connections open", idle.len()));
    drop(idle);

    // 3. Body flood without credentials.
    reset_peak(pid);
    let body = {
        let mut b = b"{\"x\":\"".to_vec();
        b.resize(1_999_000 - 2, b'a');
        b.extend_from_slice(b"\"}");
        std::sync::Arc::new(b)
    };
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..400 {
        let addr = addr.clone();
        let body = body.clone();
        flood.spawn(async move {
            let mut socket = TcpStream::connect(&addr).await.ok()?;
            let head = format!(
                "PUT /api/agent/v1/snapshots/flood{i}/parts/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await.ok()?;
            let _ = socket.write_all(&body).await;
            Some(socket)
        });
    }
    let mut held = Vec::new();
    while let Some(done) = flood.join_next().await {
        if let Ok(Some(socket)) = done {
            held.push(socket);
        }
    }
    settle().await;
    report(pid, "400-connection body flood, during");
    drop(held);
    tokio::time::sleep(Duration::from_secs(3)).await;
    reset_peak(pid);
    report(pid, "400-connection body flood, after");
    child.kill().await?;
    drop(dir);
    Ok(())
}

/// 4. A large snapshot from an approved agent.
async fn step_4(
    bin: &str,
    db: &Database,
    http: &reqwest::Client,
    people: usize,
) -> anyhow::Result<()> {
    db.fresh().await?;
    let Platform {
        mut child,
        pid,
        url,
        dir,
        ..
    } = start(bin, db).await?;
    let store = Store::open(&db.url(dir.path())).await?;
    let (credential, sources) = approved_agent(&store, 4).await?;
    let big = payload("hr0", "tenant-0", (0..people).map(seat).collect());
    let json_bytes = serde_json::to_vec(&big)?.len();
    let encoded = encode_snapshot(&big, limits::MAX_PART_BYTES)?;
    let compressed = encoded.len();
    reset_peak(pid);
    let started = std::time::Instant::now();
    let status = upload(http, &url, &credential, &encoded, &sources[0], "big1", &big).await?;
    let took = started.elapsed();
    report(
        pid,
        &format!(
            "one snapshot of {people} people ({:.0} MiB of JSON, {} parts, {:.1} MiB compressed; HTTP {status}; first part to applied {:.1} s)",
            json_bytes as f64 / 1048576.0,
            encoded.chunks.len(),
            compressed as f64 / 1048576.0,
            took.as_secs_f64()
        ),
    );
    drop(big);
    store.close().await;
    child.kill().await?;
    drop(dir);
    Ok(())
}

/// 5. Three compression bombs at once, of three sources of one agent.
async fn step_5(bin: &str, db: &Database, http: &reqwest::Client) -> anyhow::Result<()> {
    db.fresh().await?;
    let Platform {
        mut child,
        pid,
        url,
        dir,
        ..
    } = start(bin, db).await?;
    let store = Store::open(&db.url(dir.path())).await?;
    let (credential, sources) = approved_agent(&store, 4).await?;
    reset_peak(pid);
    let bomb = gzip_blanks(256);
    let mut bombs = tokio::task::JoinSet::new();
    for (n, source) in sources[1..4].iter().enumerate() {
        let http = http.clone();
        let url = url.clone();
        let credential = credential.clone();
        let source = source.clone();
        let encoded = EncodedSnapshot {
            snapshot_checksum: checksum(&bomb),
            chunks: bomb
                .chunks(limits::MAX_PART_BYTES)
                .map(<[u8]>::to_vec)
                .collect(),
        };
        let shape = payload(&format!("hr{}", n + 1), "t", Vec::new());
        bombs.spawn(async move {
            let id = format!("bomb{n}");
            upload(&http, &url, &credential, &encoded, &source, &id, &shape).await
        });
    }
    let mut statuses = Vec::new();
    while let Some(done) = bombs.join_next().await {
        statuses.push(done??);
    }
    report(
        pid,
        &format!(
            "three bombs at once ({} KiB of gzip, 256 MiB inflated, each; HTTP {statuses:?})",
            bomb.len() / 1024
        ),
    );
    store.close().await;
    child.kill().await?;
    drop(dir);
    Ok(())
}

async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn report(pid: u32, moment: &str) {
    let hwm =
        status_kib(pid, "VmHWM:").max(SAMPLED_PEAK.load(std::sync::atomic::Ordering::Relaxed));
    println!(
        "| {moment} | {:.0} | {:.0} |",
        status_kib(pid, "VmRSS:") as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    let _ = std::io::stdout().flush();
}

/// The highest VmRSS sampled (every 10 ms) since the last [`reset_peak`], in KiB: the
/// kernel's VmHWM misses short peaks of memory that is mapped and unmapped between its
/// updates.
static SAMPLED_PEAK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn sample(pid: u32) {
    std::thread::spawn(move || {
        loop {
            let rss = status_kib(pid, "VmRSS:");
            if rss == 0 {
                return;
            }
            SAMPLED_PEAK.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(10));
        }
    });
}

/// Resets VmHWM to the current RSS (Linux: `5` to `clear_refs`) and the sampled peak.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    SAMPLED_PEAK.store(0, std::sync::atomic::Ordering::Relaxed);
}

fn gzip_blanks(mib: usize) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let blanks = vec![b' '; 1024 * 1024];
    for _ in 0..mib {
        gz.write_all(&blanks).expect("in memory");
    }
    gz.write_all(b"{}").expect("in memory");
    gz.finish().expect("in memory")
}

async fn upload(
    http: &reqwest::Client,
    url: &str,
    credential: &str,
    encoded: &EncodedSnapshot,
    source: &str,
    id: &str,
    shape: &SnapshotPayload,
) -> anyhow::Result<u16> {
    let mut last = 0;
    for n in 1..=encoded.chunks.len() as u32 {
        let part: UploadPart = encoded.part(id, source, 1, shape.collected_at, n);
        let response = http
            .put(format!("{url}{}", paths::snapshot_part(id, n)))
            .bearer_auth(credential)
            .json(&part)
            .send()
            .await?;
        last = response.status().as_u16();
        if last >= 400 {
            let text = response.text().await.unwrap_or_default();
            eprintln!(
                "{id} part {n}: HTTP {last}: {}",
                text.chars().take(300).collect::<String>()
            );
        }
    }
    Ok(last)
}

/// Enrolls and approves an agent with `n` sources; returns its credential and source ids.
async fn approved_agent(store: &Store, n: usize) -> anyhow::Result<(String, Vec<String>)> {
    let token = store
        .create_enrollment_token("bench", "hostile_memory", None, None)
        .await?
        .token;
    let request = EnrollRequest {
        protocol_version: 1,
        enrollment_token: token,
        install_id: new_id(),
        host_name: "bench".to_owned(),
        agent_version: "bench".to_owned(),
        os: "linux".to_owned(),
        sources: (0..n)
            .map(|i| SourceDescriptor {
                local_name: format!("hr{i}"),
                kind: SourceKind::Humaans,
                tenant_id: format!("tenant-{i}"),
                tenant_name: format!("Tenant {i}"),
                interval_secs: 3600,
            })
            .collect(),
    };
    let EnrollmentOutcome::Enrolled(agent) = store.enroll(&request).await? else {
        anyhow::bail!("enrollment refused");
    };
    store.approve_agent("bench", &agent.agent_id).await?;
    let mut sources = Vec::new();
    for link in &agent.links {
        sources.push(
            store
                .approve_source_as_new("bench", &link.id, None)
                .await?
                .id,
        );
    }
    Ok((agent.credential.expose().to_owned(), sources))
}

fn seat(i: usize) -> SeatRecord {
    SeatRecord {
        person_id: format!("person-{i:07}"),
        name: Some(format!("Person Number {i}")),
        work_email: Some(format!("person.{i}@example.com")),
        status: PersonStatus::Active,
        employment_start_date: chrono::NaiveDate::from_ymd_opt(2020, 1, 1 + (i % 28) as u32),
        employment_end_date: None,
        job_title: Some(format!("Title {}", i % 50)),
        department: Some(format!("Department {}", i % 12)),
        manager_id: Some(format!("person-{:07}", i / 10)),
        is_verified: Some(true),
        state: SeatState::Active,
        reason: None,
        since: None,
    }
}

fn payload(local: &str, tenant: &str, seats: Vec<SeatRecord>) -> SnapshotPayload {
    let mut counts = StateCounts::default();
    for s in &seats {
        counts.add(&s.state);
    }
    let at = Utc::now();
    SnapshotPayload {
        schema: 1,
        local_source: local.to_owned(),
        collected_at: at,
        policy: UsagePolicy::default(),
        collection: CollectionInfo {
            tenant_id: tenant.to_owned(),
            people_seen: seats.len() as u64,
            job_roles_seen: seats.len() as u64,
            unparsable_person_ids: Vec::new(),
            private_access: true,
            duration_ms: 0,
            agent_version: "bench".to_owned(),
        },
        summary: Summary {
            as_of: at.date_naive(),
            billable: counts.billable(),
            in_use: counts.in_use(),
            utilisation: None,
            counts,
            inactive_reasons: Default::default(),
            pre_hires_starting_soon: 0,
            recent_leavers: 0,
            departments: Vec::new(),
            findings: Default::default(),
        },
        seats,
        findings: Vec::new(),
        licences: None,
    }
}
