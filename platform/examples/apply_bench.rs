//! Benchmark of the platform's snapshot path. Prints numbers; asserts nothing.
//!
//! ```text
//! cargo run --release -p seatbroker-platform --example apply_bench [-- --postgres postgres://postgres@127.0.0.1:5432]
//! ```
//!
//! 1. Applies one 100,000-person snapshot (first load: every seat new), then a second one
//!    with 5% of the people changed and 1% gone (the everyday case), to a fresh store.
//! 2. 200 agents upload one 1,000-person snapshot each, concurrently, over HTTP.
//!
//! Both on SQLite (a temporary file) and on PostgreSQL (a temporary database on the given
//! server, default 127.0.0.1:5432 user postgres; skipped with a note when unreachable).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use seatbroker_platform::{
    AppState, EnrollmentOutcome, PartOutcome, Store, agent_api, new_id, sqlite_url,
};
use seatbroker_protocol::{
    CollectionInfo, EnrollRequest, PersonStatus, SeatReason, SeatRecord, SeatState,
    SnapshotPayload, SourceDescriptor, SourceKind, StateCounts, Summary, UploadPart, UsagePolicy,
    encode_snapshot, limits, paths,
};
use sqlx::Connection;

const BIG: usize = 100_000;
const AGENTS: usize = 200;
const SMALL: usize = 1_000;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    // RUST_LOG=seatbroker_platform=debug shows where an apply spends its time.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let server = args
        .iter()
        .position(|a| a == "--postgres")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".to_owned());

    let dir = tempfile::tempdir()?;
    println!("== SQLite ({})", dir.path().display());
    run(&sqlite_url(&dir.path().join("bench.db"))).await?;

    let admin_url = format!("{server}/test");
    match sqlx::PgConnection::connect(&admin_url).await {
        Ok(mut admin) => {
            let name = format!("sb_bench_{}", new_id());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await?;
            println!("== PostgreSQL ({server}/{name})");
            let result = run(&format!("{server}/{name}")).await;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await?;
            result?;
        }
        Err(error) => println!("== PostgreSQL skipped: cannot connect to {admin_url}: {error}"),
    }
    Ok(())
}

async fn run(url: &str) -> anyhow::Result<()> {
    let store = Store::open(url).await?;
    big_snapshot(&store).await?;
    many_agents(&store).await?;
    store.close().await;
    Ok(())
}

fn seat(i: usize, round: usize) -> SeatRecord {
    let changed = round > 0 && i.is_multiple_of(20);
    let (status, state, reason) = match (i % 10, changed) {
        (_, true) => (
            PersonStatus::Active,
            SeatState::Inactive,
            Some(SeatReason::NeverVerified),
        ),
        (0, _) => (
            PersonStatus::Offboarded,
            SeatState::Offboarded,
            Some(SeatReason::Offboarded),
        ),
        (1, _) => (
            PersonStatus::NewHire,
            SeatState::PreHire,
            Some(SeatReason::NewHire),
        ),
        _ => (PersonStatus::Active, SeatState::Active, None),
    };
    SeatRecord {
        person_id: format!("person-{i:07}"),
        name: Some(format!("Person Number {i}")),
        work_email: Some(format!("person.{i}@example.com")),
        status,
        employment_start_date: chrono::NaiveDate::from_ymd_opt(2020, 1, 1 + (i % 28) as u32),
        employment_end_date: None,
        job_title: Some(format!("Title {}", i % 50)),
        department: Some(format!("Department {}", i % 12)),
        manager_id: Some(format!("person-{:07}", i / 10)),
        is_verified: Some(true),
        state,
        reason,
        since: None,
    }
}

fn payload(
    local: &str,
    tenant: &str,
    at: DateTime<Utc>,
    seats: Vec<SeatRecord>,
) -> SnapshotPayload {
    let mut counts = StateCounts::default();
    for s in &seats {
        counts.add(&s.state);
    }
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

fn parts_of(
    p: &SnapshotPayload,
    snapshot_id: &str,
    source_id: &str,
    sequence: u64,
) -> Vec<UploadPart> {
    let encoded = encode_snapshot(p, limits::MAX_PART_BYTES).expect("payload encodes");
    (1..=encoded.chunks.len() as u32)
        .map(|n| encoded.part(snapshot_id, source_id, sequence, p.collected_at, n))
        .collect()
}

/// Enrolls and approves an agent with one source; returns (agent id, credential, source id).
async fn approved_agent(
    store: &Store,
    token: &seatbroker_protocol::Secret,
    tenant: &str,
) -> anyhow::Result<(String, String, String)> {
    let request = EnrollRequest {
        protocol_version: 1,
        enrollment_token: token.clone(),
        install_id: new_id(),
        host_name: "bench".to_owned(),
        agent_version: "bench".to_owned(),
        os: "linux".to_owned(),
        sources: vec![SourceDescriptor {
            local_name: "hr".to_owned(),
            kind: SourceKind::Humaans,
            tenant_id: tenant.to_owned(),
            tenant_name: tenant.to_owned(),
            interval_secs: 3600,
        }],
    };
    let EnrollmentOutcome::Enrolled(agent) = store.enroll(&request).await? else {
        anyhow::bail!("enrollment refused");
    };
    store.approve_agent("bench", &agent.agent_id).await?;
    let source = store
        .approve_source_as_new("bench", &agent.links[0].id, None)
        .await?;
    Ok((
        agent.agent_id,
        agent.credential.expose().to_owned(),
        source.id,
    ))
}

async fn apply_all(
    store: &Store,
    agent_id: &str,
    parts: &[UploadPart],
) -> anyhow::Result<Duration> {
    let mut apply_time = Duration::ZERO;
    for part in parts {
        let chunk = part.chunk()?;
        match store.receive_part(agent_id, part, chunk).await? {
            PartOutcome::Stored(received) => {
                if let Some(report) = received.applied {
                    apply_time = report.duration;
                }
            }
            PartOutcome::Refused(refusal) => anyhow::bail!("refused: {refusal:?}"),
        }
    }
    Ok(apply_time)
}

async fn big_snapshot(store: &Store) -> anyhow::Result<()> {
    let token = store
        .create_enrollment_token("bench", "bench", None, None)
        .await?
        .token;
    let (agent_id, _, source) = approved_agent(store, &token, "big").await?;
    let t = Utc::now();
    for (round, label) in [(0, "first load"), (1, "5% changed, 1% gone")] {
        let seats: Vec<SeatRecord> = (0..BIG)
            .filter(|i| round == 0 || i % 100 != 1)
            .map(|i| seat(i, round))
            .collect();
        let people = seats.len();
        let p = payload(
            "hr",
            "big",
            t + chrono::Duration::hours(round as i64),
            seats,
        );
        let started = Instant::now();
        let parts = parts_of(&p, &new_id(), &source, round as u64 + 1);
        let encode = started.elapsed();
        let started = Instant::now();
        let apply = apply_all(store, &agent_id, &parts).await?;
        let total = started.elapsed();
        println!(
            "  {people} people, {label}: {} parts ({} KiB compressed), encode {:.2}s, store parts + apply {:.2}s (apply alone {:.2}s, {:.0} seats/s)",
            parts.len(),
            parts.iter().map(|p| p.payload.len() * 3 / 4).sum::<usize>() / 1024,
            encode.as_secs_f64(),
            total.as_secs_f64(),
            apply.as_secs_f64(),
            people as f64 / apply.as_secs_f64()
        );
    }
    Ok(())
}

async fn many_agents(store: &Store) -> anyhow::Result<()> {
    let token = store
        .create_enrollment_token("bench", "bench", None, None)
        .await?
        .token;
    let mut agents = Vec::with_capacity(AGENTS);
    for i in 0..AGENTS {
        agents.push(approved_agent(store, &token, &format!("tenant-{i}")).await?);
    }
    let state = AppState::new(store.clone());
    let app = agent_api().with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(AGENTS)
        .build()?;
    let at = Utc::now();
    let uploads: Vec<(String, Vec<UploadPart>)> = agents
        .iter()
        .map(|(_, credential, source)| {
            let seats = (0..SMALL).map(|i| seat(i, 0)).collect();
            let p = payload("hr", &source_tenant(source, &agents), at, seats);
            (credential.clone(), parts_of(&p, &new_id(), source, 1))
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(AGENTS);
    for (credential, parts) in uploads {
        let http = http.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let begun = Instant::now();
            let mut retries = 0u32;
            for part in parts {
                loop {
                    let response = http
                        .put(format!(
                            "{base}{}",
                            paths::snapshot_part(&part.snapshot_id, part.part)
                        ))
                        .bearer_auth(&credential)
                        .json(&part)
                        .send()
                        .await?;
                    // Like the agent: 429/503 mean "later", after Retry-After.
                    if matches!(response.status().as_u16(), 429 | 503) {
                        let wait = response
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                            .unwrap_or(1);
                        retries += 1;
                        tokio::time::sleep(Duration::from_secs(wait)).await;
                        continue;
                    }
                    anyhow::ensure!(
                        response.status().is_success(),
                        "upload failed: {}",
                        response.text().await?
                    );
                    break;
                }
            }
            anyhow::Ok((begun.elapsed(), retries))
        }));
    }
    let mut latencies = Vec::with_capacity(AGENTS);
    let mut retries = 0;
    for task in tasks {
        let (took, retried) = task.await??;
        latencies.push(took);
        retries += retried;
    }
    let total = started.elapsed();
    latencies.sort();
    println!(
        "  {AGENTS} agents × {SMALL} people over HTTP, concurrently: {:.2}s total, {:.0} snapshots/s, {:.0} seats/s; per agent p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; applied {}, retried after 503 {}",
        total.as_secs_f64(),
        AGENTS as f64 / total.as_secs_f64(),
        (AGENTS * SMALL) as f64 / total.as_secs_f64(),
        latencies[AGENTS / 2].as_secs_f64() * 1e3,
        latencies[AGENTS * 95 / 100].as_secs_f64() * 1e3,
        latencies[AGENTS - 1].as_secs_f64() * 1e3,
        state.metrics.snapshots_applied(),
        retries
    );
    server.abort();
    Ok(())
}

/// The tenant an agent's source was enrolled with (`tenant-<index>`).
fn source_tenant(source: &str, agents: &[(String, String, String)]) -> String {
    let index = agents.iter().position(|(_, _, s)| s == source).unwrap_or(0);
    format!("tenant-{index}")
}
