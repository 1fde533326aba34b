//! Benchmark of the console's report pages with a year of daily history. Prints numbers;
//! asserts nothing.
//!
//! ```text
//! cargo run --release -p seatbroker-platform --example report_bench [-- --postgres postgres://postgres@127.0.0.1:5432]
//! ```
//!
//! Seeds 4 sources of 25,000 people each (100,000 current seats, about 8% inactive) through
//! the store's real snapshot path, plus 365 days of daily summaries per source, then times
//! the inactive-seats and trend pages (HTML, JSON and CSV) over HTTP with a logged-in
//! session: median and 95th percentile of 20 requests each. On SQLite (a temporary file)
//! and on PostgreSQL (a temporary database; skipped with a note when unreachable).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use seatbroker_platform::{
    AppState, Clock, EnrollmentOutcome, PartOutcome, Role, Store, WebSettings, app, hash_password,
    new_id, sqlite_url,
};
use seatbroker_protocol::{
    CollectionInfo, EnrollRequest, PersonStatus, SeatReason, SeatRecord, SeatState,
    SnapshotPayload, SourceDescriptor, SourceKind, StateCounts, Summary, UsagePolicy,
    encode_snapshot, limits,
};
use sqlx::Connection;

const SOURCES: usize = 4;
const PEOPLE: usize = 25_000;
const DAYS: i64 = 365;
const RUNS: usize = 20;
const PASSWORD: &str = "benchmark password";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let server = args
        .iter()
        .position(|a| a == "--postgres")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".to_owned());
    let password_hash = hash_password(PASSWORD)?;

    let dir = tempfile::tempdir()?;
    println!("== SQLite");
    run(&sqlite_url(&dir.path().join("bench.db")), &password_hash).await?;

    let admin_url = format!("{server}/test");
    match sqlx::PgConnection::connect(&admin_url).await {
        Ok(mut admin) => {
            let name = format!("sb_bench_{}", new_id());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await?;
            println!("== PostgreSQL");
            let result = run(&format!("{server}/{name}"), &password_hash).await;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await?;
            result?;
        }
        Err(error) => println!("== PostgreSQL skipped: cannot connect to {admin_url}: {error}"),
    }
    Ok(())
}

fn now() -> DateTime<Utc> {
    "2026-03-01T06:00:00Z".parse().unwrap()
}

async fn run(url: &str, password_hash: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let store = Store::open(url).await?.with_clock(Clock::fixed(now()));
    let sources = seed(&store).await?;
    seed_history(url, &sources).await?;
    store
        .upsert_user("bench", "bench", Role::Admin, password_hash)
        .await?;
    println!(
        "seeded {} sources x {PEOPLE} people and {DAYS} days of summaries in {:.1?}",
        sources.len(),
        started.elapsed()
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = app(AppState::new(store.clone()), WebSettings::default());
    let serving = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let cookie = login(&base).await?;
    let http = reqwest::Client::new();
    println!(
        "{:<52} {:>10} {:>10} {:>10}",
        "page", "median", "p95", "bytes"
    );
    for (label, path, json) in [
        ("overview", "/", false),
        ("inactive seats (HTML, first 200, by days)", "/seats", false),
        (
            "inactive seats (HTML, sorted by person)",
            "/seats?sort=person&dir=asc",
            false,
        ),
        (
            "inactive seats (HTML, one department)",
            "/seats?department=Department%203",
            false,
        ),
        (
            "inactive seats (HTML, all non-active states)",
            "/seats?state=all",
            false,
        ),
        (
            "inactive seats (JSON API)",
            "/api/v1/reports/inactive-seats",
            true,
        ),
        (
            "inactive seats (CSV, every inactive seat)",
            "/seats.csv",
            false,
        ),
        (
            "trends (HTML + SVG, 12 months, all sources)",
            "/trends?months=12",
            false,
        ),
        (
            "trends (JSON API, 12 months)",
            "/api/v1/reports/trends?months=12",
            true,
        ),
        ("trends (CSV, 12 months)", "/trends.csv?months=12", false),
        ("departments", "/departments", false),
    ] {
        let mut times = Vec::with_capacity(RUNS);
        let mut bytes = 0;
        for _ in 0..RUNS {
            let mut request = http.get(format!("{base}{path}")).header("cookie", &cookie);
            if json {
                request = request.header("accept", "application/json");
            }
            let t = Instant::now();
            let response = request.send().await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            bytes = response.bytes().await?.len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{label:<52} {:>10} {:>10} {bytes:>10}",
            ms(times[RUNS / 2]),
            ms(times[RUNS * 95 / 100])
        );
    }
    serving.abort();
    store.close().await;
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Logs in through the form; returns the Cookie header value.
async fn login(base: &str) -> anyhow::Result<String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = http.get(format!("{base}/login")).send().await?;
    let login_cookie = cookie_pair(&page)?;
    let body = page.text().await?;
    let marker = "name=\"csrf\" value=\"";
    let start = body
        .find(marker)
        .ok_or_else(|| anyhow::anyhow!("no csrf field"))?
        + marker.len();
    let csrf = body[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned();
    let response = http
        .post(format!("{base}/login"))
        .header("cookie", login_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&username=bench&password=benchmark%20password"
        ))
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_redirection(),
        "login failed: {}",
        response.status()
    );
    cookie_pair(&response)
}

fn cookie_pair(response: &reqwest::Response) -> anyhow::Result<String> {
    let value = response
        .headers()
        .get("set-cookie")
        .ok_or_else(|| anyhow::anyhow!("no cookie set"))?
        .to_str()?;
    Ok(value.split(';').next().unwrap_or_default().to_owned())
}

fn person(source: usize, i: usize) -> SeatRecord {
    let (status, state, reason, since) = match i % 100 {
        0..=7 => (
            PersonStatus::Active,
            SeatState::Inactive,
            Some(if i.is_multiple_of(2) {
                SeatReason::NeverVerified
            } else {
                SeatReason::EndedNotOffboarded
            }),
            NaiveDate::from_ymd_opt(2025, 1 + (i % 12) as u32, 1 + (i % 28) as u32),
        ),
        8..=10 => (
            PersonStatus::Active,
            SeatState::Leaving,
            Some(SeatReason::EndDateWithinWindow),
            NaiveDate::from_ymd_opt(2026, 3, 20),
        ),
        11..=12 => (
            PersonStatus::NewHire,
            SeatState::PreHire,
            Some(SeatReason::NewHire),
            NaiveDate::from_ymd_opt(2026, 3, 15),
        ),
        13..=17 => (
            PersonStatus::Offboarded,
            SeatState::Offboarded,
            Some(SeatReason::Offboarded),
            NaiveDate::from_ymd_opt(2025, 12, 31),
        ),
        _ => (PersonStatus::Active, SeatState::Active, None, None),
    };
    SeatRecord {
        person_id: format!("s{source}-p{i:06}"),
        name: Some(format!("Person {i} of source {source}")),
        work_email: Some(format!("p{i}.s{source}@example.com")),
        status,
        employment_start_date: NaiveDate::from_ymd_opt(2020, 1, 1),
        employment_end_date: None,
        job_title: Some(format!("Title {}", i % 40)),
        department: Some(format!("Department {}", i % 20)),
        manager_id: Some(format!("s{source}-p{:06}", i % 200)),
        is_verified: Some(state != SeatState::Inactive),
        state,
        reason,
        since,
    }
}

/// Enrolls one agent with [`SOURCES`] sources, approves them and applies one snapshot each.
async fn seed(store: &Store) -> anyhow::Result<Vec<String>> {
    let token = store
        .create_enrollment_token("bench", "bench", None, None)
        .await?;
    let request = EnrollRequest {
        protocol_version: 1,
        enrollment_token: token.token.clone(),
        install_id: "bench".into(),
        host_name: "bench".into(),
        agent_version: "bench".into(),
        os: "linux".into(),
        sources: (0..SOURCES)
            .map(|s| SourceDescriptor {
                local_name: format!("source-{s}"),
                kind: SourceKind::Humaans,
                tenant_id: format!("tenant-{s}"),
                tenant_name: format!("Company {s}"),
                interval_secs: 86_400,
            })
            .collect(),
    };
    let EnrollmentOutcome::Enrolled(agent) = store.enroll(&request).await? else {
        anyhow::bail!("enrollment refused");
    };
    store.approve_agent("bench", &agent.agent_id).await?;
    let mut ids = Vec::new();
    for (s, link) in agent.links.iter().enumerate() {
        store.approve_source_as_new("bench", &link.id, None).await?;
        let seats: Vec<SeatRecord> = (0..PEOPLE).map(|i| person(s, i)).collect();
        let mut counts = StateCounts::default();
        for seat in &seats {
            counts.add(&seat.state);
        }
        let payload = SnapshotPayload {
            schema: 1,
            local_source: format!("source-{s}"),
            collected_at: now(),
            policy: UsagePolicy::default(),
            collection: CollectionInfo {
                tenant_id: format!("tenant-{s}"),
                people_seen: PEOPLE as u64,
                job_roles_seen: PEOPLE as u64,
                unparsable_person_ids: Vec::new(),
                private_access: true,
                duration_ms: 0,
                agent_version: "bench".into(),
            },
            summary: Summary {
                as_of: now().date_naive(),
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
        };
        let encoded = encode_snapshot(&payload, limits::MAX_PART_BYTES)?;
        let snapshot_id = new_id();
        for n in 1..=encoded.chunks.len() as u32 {
            let part = encoded.part(&snapshot_id, &link.id, 1, now(), n);
            let outcome = store
                .receive_part(
                    &agent.agent_id,
                    &part,
                    encoded.chunks[(n - 1) as usize].clone(),
                )
                .await?;
            anyhow::ensure!(
                matches!(outcome, PartOutcome::Stored(_)),
                "part refused: {outcome:?}"
            );
        }
        ids.push(link.id.clone());
    }
    Ok(ids)
}

/// 364 earlier days of summaries per source, with slowly drifting counts.
async fn seed_history(url: &str, sources: &[String]) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let mut tx = conn.begin().await?;
    for source in sources {
        for back in 1..DAYS {
            let day = now().date_naive() - chrono::Duration::days(back);
            let drift = back % 30;
            let (active, leaving, inactive, pre_hire, offboarded) = (
                20_500 - drift * 3,
                750 + drift,
                2_000 - drift * 5 + back / 3,
                500,
                1_250,
            );
            sqlx::query(
                "INSERT INTO daily_summaries (source_id, day, snapshot_id, collected_at, people, pre_hire, \
                 active, leaving, inactive, offboarded, unknown, other_states, inactive_ended_not_offboarded, \
                 inactive_never_verified, inactive_other, billable, in_use, pre_hires_soon, recent_leavers, \
                 findings, private_access, summary_json) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, $11, $12, 0, $13, $14, 0, 0, 0, 1, '{}')",
            )
            .bind(source.as_str())
            .bind(day.format("%Y-%m-%d").to_string())
            .bind(new_id())
            .bind(format!("{day}T06:00:00.000000Z"))
            .bind(active + leaving + inactive + pre_hire + offboarded)
            .bind(pre_hire)
            .bind(active)
            .bind(leaving)
            .bind(inactive)
            .bind(offboarded)
            .bind(inactive / 2)
            .bind(inactive - inactive / 2)
            .bind(active + leaving + inactive)
            .bind(active + leaving)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
