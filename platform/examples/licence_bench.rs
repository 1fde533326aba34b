//! Benchmark of the licence path: apply + join at 100,000 people and 300,000 licence
//! assignments. Prints numbers; asserts nothing.
//!
//! ```text
//! cargo run --release -p seatbroker-platform --example licence_bench [-- --postgres postgres://postgres@127.0.0.1:5432] [--only sqlite|postgres] [--keep]
//! ```
//!
//! One organisation: an HR source of 100,000 people and an Entra ID source of 100,000
//! accounts holding 3 licences each. Times, on SQLite and PostgreSQL:
//!
//! 1. the HR snapshot's first load;
//! 2. the app snapshot's first load (accounts, licences, pools and the join);
//! 3. an app snapshot in which 5 % of the accounts changed (their licences' activity state
//!    and their last sign-in; the other 95 % are as before);
//! 4. an HR snapshot with 5 % of the people offboarded (the join follows in its
//!    transaction);
//! 5. an app snapshot in which every account's last activity moved and nothing else;
//! 6. the next app snapshot, another 5 % changed, sent as a delta against step 5's (what an
//!    agent sends to a platform that takes deltas: only the changed accounts);
//! 7. the licence report and the Reclaim page and its JSON with filters, over HTTP;
//! 8. (not with `--keep`) the floor: the rows steps 2 and 6 must write at the least,
//!    generated inside the database by one statement per table (no upload, decode, join or
//!    driver round trips), into the same tables, indexes and database after the source's rows
//!    were deleted; the same for a packed layout in scratch tables; and how long generating
//!    the values takes.
//!
//! Each apply prints its wall time and the CPU time of this process during it (SQLite runs
//! in the process; PostgreSQL's own work is not counted).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use seatbroker_platform::{
    AppState, Clock, EnrollmentOutcome, PartOutcome, Role, Store, WebSettings, app, hash_password,
    new_id, sqlite_url,
};
use seatbroker_protocol::{
    AccountRecord, AccountType, CollectionInfo, EnrollRequest, LicenceHeld, LicencePolicy,
    LicencePool, LicenceReason, LicenceSnapshot, LicenceState, LicenceStateCounts, PersonStatus,
    SeatReason, SeatRecord, SeatState, SnapshotPayload, SourceDescriptor, SourceKind, StateCounts,
    Summary, UsagePolicy, encode_snapshot, limits,
};
use sqlx::Connection;

const PEOPLE: usize = 100_000;
const POOLS: [&str; 3] = ["sku-e3", "sku-visio", "sku-powerbi"];

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
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
    // `--only sqlite` or `--only postgres` runs one backend.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let hash = hash_password("benchmark password")?;
    // `--keep` leaves the databases behind, to look at their query plans: as steps 1-7 left
    // them, so step 8 (which replaces the source's rows) is skipped.
    let keep = args.iter().any(|a| a == "--keep");

    let dir = tempfile::tempdir()?;
    if only.as_deref() != Some("postgres") {
        println!("== SQLite ({})", dir.path().display());
        run(&sqlite_url(&dir.path().join("bench.db")), &hash, !keep).await?;
    }
    if keep {
        println!("kept {}", dir.keep().join("bench.db").display());
    }
    if only.as_deref() == Some("sqlite") {
        return Ok(());
    }
    match sqlx::PgConnection::connect(&format!("{server}/test")).await {
        Ok(mut admin) => {
            let name = format!("sb_bench_{}", new_id());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await?;
            println!("== PostgreSQL ({server}/{name})");
            let result = run(&format!("{server}/{name}"), &hash, !keep).await;
            if keep {
                println!("kept {server}/{name}");
            } else {
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
            }
            result?;
        }
        Err(error) => println!("== PostgreSQL skipped: {server} unreachable ({error})"),
    }
    Ok(())
}

fn now() -> DateTime<Utc> {
    "2026-11-25T06:00:00Z"
        .parse()
        .unwrap_or_else(|_| Utc::now())
}

fn seat(i: usize, offboarded: bool) -> SeatRecord {
    let (status, state, reason) = if offboarded {
        (
            PersonStatus::Offboarded,
            SeatState::Offboarded,
            Some(SeatReason::Offboarded),
        )
    } else {
        (PersonStatus::Active, SeatState::Active, None)
    };
    SeatRecord {
        person_id: format!("p{i:07}"),
        name: Some(format!("Person {i}")),
        work_email: Some(format!("person{i}@bench.example")),
        status,
        employment_start_date: None,
        employment_end_date: None,
        job_title: Some("Engineer".to_owned()),
        department: Some(format!("Dept {}", i % 40)),
        manager_id: (i > 0).then(|| format!("p{:07}", i / 10)),
        is_verified: Some(true),
        state,
        reason,
        since: None,
    }
}

fn base_payload(
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
            job_roles_seen: 0,
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

fn hr(at: DateTime<Utc>, offboarded_every: Option<usize>) -> SnapshotPayload {
    let seats = (0..PEOPLE)
        .map(|i| seat(i, offboarded_every.is_some_and(|k| i % k == 0)))
        .collect();
    base_payload("hr", "bench-hr", at, seats)
}

/// 100,000 accounts × 3 licences; `round` 1 flips the activity of every 20th licence.
/// The Entra ID snapshot of round `round` at `at`. Round 0 is the first; in round 1 every
/// 20th account (5 %) changes: its licences move to the next activity state and it signs
/// in at `at`; the others keep what they had. `all_signed_in` moves every account's last
/// activity to `at` (nothing else changes).
fn entra(at: DateTime<Utc>, round: usize, all_signed_in: bool) -> SnapshotPayload {
    let states = [
        LicenceState::InUse,
        LicenceState::Idle,
        LicenceState::NeverUsed,
    ];
    let mut counts = LicenceStateCounts::default();
    let accounts: Vec<AccountRecord> = (0..PEOPLE)
        .map(|i| {
            let licences = POOLS
                .iter()
                .enumerate()
                .map(|(k, pool)| {
                    let flip = round > 0 && i % 20 == 0;
                    let state = states[(i + k + usize::from(flip)) % 3].clone();
                    counts.add(&state);
                    LicenceHeld {
                        pool_id: (*pool).to_owned(),
                        assigned: None,
                        reason: Some(LicenceReason::RecentActivity),
                        state,
                        since: None,
                    }
                })
                .collect();
            AccountRecord {
                account_id: format!("acc-{i:07}"),
                login: Some(format!("u{i}@bench.onmicrosoft.example")),
                email: Some(format!("person{i}@bench.example")),
                aliases: vec![format!("p.{i}@bench.example")],
                enabled: i % 97 != 0,
                account_type: if i % 500 == 0 {
                    AccountType::Guest
                } else {
                    AccountType::Member
                },
                // An account's creation does not move between uploads; its last sign-in does.
                created: Some(now()),
                last_activity: Some(if all_signed_in || (round > 0 && i % 20 == 0) {
                    at
                } else {
                    now()
                }),
                licences,
            }
        })
        .collect();
    let pools = POOLS
        .iter()
        .map(|id| LicencePool {
            id: (*id).to_owned(),
            name: id.to_uppercase(),
            application: None,
            purchased: Some(PEOPLE as u64 + 500),
            assigned: PEOPLE as u64,
            unassigned: Some(500),
        })
        .collect();
    let mut p = base_payload("m365", "bench-tenant", at, Vec::new());
    p.schema = 2;
    p.licences = Some(LicenceSnapshot {
        as_of: at.date_naive(),
        activity_available: true,
        policy: LicencePolicy::default(),
        accounts_total: PEOPLE as u64,
        counts,
        pools,
        accounts,
        unparsable_records: Vec::new(),
        delta: None,
    });
    p
}

/// `p` with another 5 % of its accounts (every 20th, offset by one from round 1's) moved to
/// the next activity state and signed in at `at`.
fn changed_again(p: &SnapshotPayload, at: DateTime<Utc>) -> SnapshotPayload {
    let mut next = p.clone();
    next.collected_at = at;
    let section = next.licences.as_mut().expect("an app snapshot");
    for (i, account) in section.accounts.iter_mut().enumerate() {
        if i % 20 == 1 {
            account.last_activity = Some(at);
            for held in &mut account.licences {
                held.state = match held.state {
                    LicenceState::InUse => LicenceState::Idle,
                    LicenceState::Idle => LicenceState::NeverUsed,
                    _ => LicenceState::InUse,
                };
            }
        }
    }
    next
}

async fn apply(
    store: &Store,
    agent_id: &str,
    source_id: &str,
    sequence: u64,
    payload: &SnapshotPayload,
) -> anyhow::Result<(Duration, Duration)> {
    apply_as(store, agent_id, source_id, sequence, payload, &new_id()).await
}

async fn apply_as(
    store: &Store,
    agent_id: &str,
    source_id: &str,
    sequence: u64,
    payload: &SnapshotPayload,
    snapshot_id: &str,
) -> anyhow::Result<(Duration, Duration)> {
    let snapshot_id = snapshot_id.to_owned();
    let encoded = encode_snapshot(payload, limits::MAX_PART_BYTES)?;
    let started = Instant::now();
    let cpu = process_cpu();
    for n in 1..=encoded.chunks.len() as u32 {
        let part = encoded.part(&snapshot_id, source_id, sequence, payload.collected_at, n);
        let chunk = part.chunk()?;
        if let PartOutcome::Refused(refusal) = store.receive_part(agent_id, &part, chunk).await? {
            anyhow::bail!("refused: {refusal:?}");
        }
    }
    Ok((started.elapsed(), process_cpu().saturating_sub(cpu)))
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat` (Linux;
/// zero elsewhere), in clock ticks of 10 ms. On a shared machine it says how much work a
/// step was where the wall time says how long it waited for a core too; the database
/// server's own CPU (PostgreSQL) is not in it.
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may contain spaces) start at state (3);
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn step(label: &str, (wall, cpu): (Duration, Duration)) {
    println!(
        "{label:<62} {:>9.0} ms  (CPU {:>6.0} ms)",
        ms(wall),
        ms(cpu)
    );
}

async fn run(url: &str, password_hash: &str, with_floor: bool) -> anyhow::Result<()> {
    let store = Store::open(url).await?.with_clock(Clock::fixed(now()));
    store
        .upsert_user("bench", "bench", Role::Admin, password_hash)
        .await?;
    let token = store
        .create_enrollment_token("bench", "bench", None, None)
        .await?;
    let source = |local: &str, kind: SourceKind, tenant: &str| SourceDescriptor {
        local_name: local.to_owned(),
        kind,
        tenant_id: tenant.to_owned(),
        tenant_name: tenant.to_owned(),
        interval_secs: 3600,
    };
    let request = EnrollRequest {
        protocol_version: 1,
        enrollment_token: token.token.clone(),
        install_id: new_id(),
        host_name: "bench".to_owned(),
        agent_version: "bench".to_owned(),
        os: "linux".to_owned(),
        sources: vec![
            source("hr", SourceKind::Humaans, "bench-hr"),
            source("m365", SourceKind::EntraId, "bench-tenant"),
        ],
    };
    let EnrollmentOutcome::Enrolled(agent) = store.enroll(&request).await? else {
        anyhow::bail!("enrollment refused");
    };
    store.approve_agent("bench", &agent.agent_id).await?;
    let hr_id = store
        .approve_source_as_new("bench", &agent.links[0].id, None)
        .await?
        .id;
    let app_id = store
        .approve_source_as_new("bench", &agent.links[1].id, None)
        .await?
        .id;
    let t = |h: i64| now() + chrono::Duration::hours(h);
    let a = &agent.agent_id;

    step(
        "HR first load (100,000 people)",
        apply(&store, a, &hr_id, 1, &hr(t(0), None)).await?,
    );
    step(
        "app first load + join (100,000 accounts, 300,000 licences)",
        apply(&store, a, &app_id, 1, &entra(t(1), 0, false)).await?,
    );
    step(
        "app snapshot, 5 % of accounts changed (15,000 licences)",
        apply(&store, a, &app_id, 2, &entra(t(2), 1, false)).await?,
    );
    step(
        "HR snapshot, 5 % offboarded (join of 300,000 recomputed)",
        apply(&store, a, &hr_id, 2, &hr(t(3), Some(20))).await?,
    );
    let signed_in = entra(t(4), 1, true);
    let signed_in_id = new_id();
    step(
        "app snapshot, every account's last activity moved, nothing else",
        apply_as(&store, a, &app_id, 3, &signed_in, &signed_in_id).await?,
    );
    // What an agent sends when the platform takes deltas: only the changed 5 %.
    let next = changed_again(&signed_in, t(5));
    let mut delta = next.clone();
    let base = signed_in
        .licences
        .as_ref()
        .map(|l| l.marks())
        .unwrap_or_default();
    delta.licences = next
        .licences
        .as_ref()
        .map(|l| l.delta_against(&signed_in_id, &base));
    let size = |p: &SnapshotPayload| encode_snapshot(p, limits::MAX_PART_BYTES).map(|e| e.len());
    println!(
        "  (upload size: whole {:.1} MB, delta {:.2} MB, compressed)",
        size(&next)? as f64 / 1e6,
        size(&delta)? as f64 / 1e6
    );
    step(
        "app delta, 5 % of accounts changed (15,000 licences)",
        apply(&store, a, &app_id, 4, &delta).await?,
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
    for (label, path) in [
        ("licence report JSON", "/api/v1/reports/licences"),
        ("reclaim HTML (first 500, by days)", "/reclaim"),
        (
            "reclaim HTML, state=orphaned, department=Dept 7",
            "/reclaim?state=orphaned&department=Dept%207",
        ),
        (
            "reclaim JSON, state=idle, manager=p0000012",
            "/api/v1/reports/reclaim?state=idle&manager=p0000012",
        ),
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let response = http
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            let _ = response.bytes().await?;
            times.push(started.elapsed());
        }
        times.sort();
        println!("{label:<62} {:>9.1} ms (median of 5)", ms(times[2]));
    }
    serving.abort();
    store.close().await;
    if with_floor {
        floor(url, &app_id).await?;
    }
    Ok(())
}

/// Step 8 (see the module docs): what the storage model costs by itself.
async fn floor(url: &str, source_id: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        // As `Store::open` sets them for its connections.
        for pragma in [
            "PRAGMA synchronous = NORMAL",
            "PRAGMA cache_size = -65536",
            "PRAGMA mmap_size = 1073741824",
        ] {
            sqlx::query(pragma).execute(&mut conn).await?;
        }
    }
    for table in ["licence_history", "licences_current", "app_accounts"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE source_id = $1"))
            .bind(source_id)
            .execute(&mut conn)
            .await?;
    }
    if sqlite {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await?;
    } else {
        sqlx::query("VACUUM ANALYZE licence_history, licences_current, app_accounts")
            .execute(&mut conn)
            .await?;
    }
    // Rows numbered 0.. by one generated column `i`; the ids and values as the apply writes
    // them (a 32-digit source id, microsecond timestamps).
    let numbers = |n: usize, only: &str| {
        if sqlite {
            format!(
                "(WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
                 SELECT i FROM n WHERE {only}) AS g",
                n - 1
            )
        } else {
            format!(
                "(SELECT i FROM generate_series(0, {}) AS s(i) WHERE {only}) AS g",
                n - 1
            )
        }
    };
    let account = if sqlite {
        "printf('acc-%07d', i / 3)"
    } else {
        "'acc-' || lpad(CAST(i / 3 AS TEXT), 7, '0')"
    };
    let account_of_row = account.replace("i / 3", "i");
    let at = "'2026-11-25T07:00:00.000000Z'";
    let cause = "'0123456789abcdef0123456789abcdef'";
    let state = |shift: usize| {
        format!(
            "CASE (i + {shift}) % 3 WHEN 0 THEN 'in_use' WHEN 1 THEN 'idle' ELSE 'never_used' END"
        )
    };
    let accounts = |only: &str| {
        format!(
            "INSERT INTO app_accounts (source_id, account_id, login, email, aliases, enabled, account_type, \
             created, last_activity, person_id, matched_by, matched_address, fingerprint, first_seen, updated_at) \
             SELECT $1, {account_of_row}, 'u' || i || '@bench.onmicrosoft.example', 'person' || i || '@bench.example', \
             '[\"p.' || i || '@bench.example\"]', 1, 'member', {at}, {at}, 'p' || i, 'email', \
             'person' || i || '@bench.example', '00112233445566778899aabbccddeeff', {at}, {at} FROM {} WHERE true \
             ON CONFLICT (source_id, account_id) DO UPDATE SET last_activity = excluded.last_activity, \
             updated_at = excluded.updated_at",
            numbers(PEOPLE, only)
        )
    };
    let licences = |only: &str, shift: usize| {
        format!(
            "INSERT INTO licences_current (source_id, account_id, pool_id, assigned, activity_state, \
             activity_reason, activity_since, state, reason, since, state_from, state_cause, first_seen, updated_at) \
             SELECT $1, {account}, 'sku-' || (i % 3), NULL, {s}, 'recent_activity', NULL, {s}, 'recent_activity', \
             NULL, {at}, {cause}, {at}, {at} FROM {} WHERE true \
             ON CONFLICT (source_id, account_id, pool_id) DO UPDATE SET activity_state = excluded.activity_state, \
             state = excluded.state, state_from = excluded.state_from, state_cause = excluded.state_cause, \
             updated_at = excluded.updated_at",
            numbers(3 * PEOPLE, only),
            s = state(shift)
        )
    };
    let history = |only: &str| {
        format!(
            "INSERT INTO licence_history (source_id, account_id, pool_id, state, reason, valid_from, valid_to, snapshot_id) \
             SELECT $1, {account}, 'sku-' || (i % 3), {s}, 'recent_activity', {at}, {at}, {cause} FROM {}",
            numbers(3 * PEOPLE, only),
            s = state(0)
        )
    };
    let changed = "(i / 3) % 20 = 1";
    let changed_accounts = "i % 20 = 1";
    // The other layout (BENCHMARKS.md, "The floor"): an account's licences packed into its
    // row, plus the narrowest index the Reclaim page could sort and filter on (one row per
    // reclaimable licence: two thirds of them here), and history as one row per account.
    let without_rowid = if sqlite { " WITHOUT ROWID" } else { "" };
    for sql in [
        "CREATE TABLE floor_accounts (source_id TEXT NOT NULL, account_id TEXT NOT NULL, login TEXT, \
         email TEXT, aliases TEXT, enabled INTEGER, account_type TEXT, created TEXT, last_activity TEXT, \
         person_id TEXT, matched_by TEXT, matched_address TEXT, fingerprint TEXT, first_seen TEXT, \
         updated_at TEXT, licences TEXT NOT NULL, PRIMARY KEY (source_id, account_id))"
            .to_owned(),
        "CREATE INDEX floor_accounts_person ON floor_accounts (person_id)".to_owned(),
        format!(
            "CREATE TABLE floor_reclaimable (source_id TEXT NOT NULL, since TEXT NOT NULL, \
             account_id TEXT NOT NULL, pool_id TEXT NOT NULL, state TEXT NOT NULL, \
             PRIMARY KEY (source_id, since, account_id, pool_id)){without_rowid}"
        ),
        "CREATE INDEX floor_reclaimable_account ON floor_reclaimable (source_id, account_id)"
            .to_owned(),
        "CREATE TABLE floor_history (source_id TEXT NOT NULL, account_id TEXT NOT NULL, \
         valid_to TEXT NOT NULL, licences TEXT NOT NULL)"
            .to_owned(),
        "CREATE INDEX floor_history_account ON floor_history (source_id, account_id)".to_owned(),
        "CREATE INDEX floor_history_to ON floor_history (source_id, valid_to)".to_owned(),
    ] {
        sqlx::query(&sql).execute(&mut conn).await?;
    }
    let packed = [
        ("sku-e3", "in_use"),
        ("sku-visio", "idle"),
        ("sku-powerbi", "never_used"),
    ]
    .iter()
    .map(|(pool, state)| {
        format!(
            "[\"{pool}\",null,\"{state}\",\"recent_activity\",null,\"{state}\",\"recent_activity\",null,\
             \"2026-11-25T07:00:00.000000Z\",\"0123456789abcdef0123456789abcdef\",\"2026-11-25T07:00:00.000000Z\"]"
        )
    })
    .collect::<Vec<_>>()
    .join(",");
    let packed = format!("'[{packed}]'");
    let packed_accounts = |only: &str| {
        format!(
            "INSERT INTO floor_accounts SELECT $1, {account_of_row}, 'u' || i || '@bench.onmicrosoft.example', \
             'person' || i || '@bench.example', '[\"p.' || i || '@bench.example\"]', 1, 'member', {at}, {at}, \
             'p' || i, 'email', 'person' || i || '@bench.example', '00112233445566778899aabbccddeeff', {at}, {at}, \
             {packed} FROM {} WHERE true \
             ON CONFLICT (source_id, account_id) DO UPDATE SET licences = excluded.licences, \
             last_activity = excluded.last_activity, updated_at = excluded.updated_at",
            numbers(PEOPLE, only)
        )
    };
    let since = if sqlite {
        "printf('2026-11-%02d', 10 + i % 15)"
    } else {
        "'2026-11-' || (10 + i % 15)"
    };
    let reclaimable = |only: &str| {
        format!(
            "INSERT INTO floor_reclaimable SELECT $1, {since}, {account}, 'sku-' || (i % 3), \
             CASE i % 3 WHEN 1 THEN 'idle' ELSE 'never_used' END FROM {}",
            numbers(3 * PEOPLE, &format!("({only}) AND i % 3 <> 0"))
        )
    };
    let account_ids =
        |only: &str| format!("SELECT {account_of_row} FROM {}", numbers(PEOPLE, only));
    let plain = |sql: String| {
        sql.rsplit_once(" WHERE true")
            .map_or(sql.clone(), |(insert, _)| insert.to_owned())
    };
    for (label, statements) in [
        (
            "floor: first load, 100,000 accounts + 300,000 licences",
            // Fresh rows: plain inserts, as the apply writes them (see `write_batches`).
            vec![plain(accounts("true")), plain(licences("true", 0))],
        ),
        (
            "floor: 5 % changed, 5,000 accounts + 15,000 licences + history",
            vec![
                accounts(changed_accounts),
                licences(changed, 1),
                history(changed),
            ],
        ),
        (
            "floor, packed: first load, accounts + 200,000 reclaimable",
            vec![plain(packed_accounts("true")), reclaimable("true")],
        ),
        (
            "floor, packed: 5 % changed, accounts + reclaimable + history",
            vec![
                packed_accounts(changed_accounts),
                format!(
                    "DELETE FROM floor_reclaimable WHERE source_id = $1 AND account_id IN ({})",
                    account_ids(changed_accounts)
                ),
                reclaimable(changed),
                format!(
                    "INSERT INTO floor_history SELECT $1, {account_of_row}, {at}, {packed} FROM {}",
                    numbers(PEOPLE, changed_accounts)
                ),
            ],
        ),
    ] {
        let started = Instant::now();
        let mut parts = Vec::new();
        let mut tx = conn.begin().await?;
        for sql in &statements {
            let lap = Instant::now();
            sqlx::query(sql).bind(source_id).execute(&mut *tx).await?;
            parts.push(format!("{:.0}", ms(lap.elapsed())));
        }
        let lap = Instant::now();
        tx.commit().await?;
        println!(
            "{label:<62} {:>9.0} ms  (statements {} ms, commit {:.0} ms)",
            ms(started.elapsed()),
            parts.join(" + "),
            ms(lap.elapsed())
        );
    }
    // How much of a floor is the generating itself: the first load's licence values into a
    // temporary table without indexes (an upper bound; the source id as a literal, since
    // PostgreSQL takes no parameters in `CREATE TABLE ... AS`).
    let values = plain(licences("true", 0));
    let select = values
        .split_once(") SELECT $1, ")
        .map(|(_, rest)| format!("SELECT '{source_id}', {rest}"))
        .unwrap_or_default();
    let started = Instant::now();
    // (PostgreSQL wants the generated columns named.)
    let names = if sqlite {
        String::new()
    } else {
        format!(
            " ({})",
            (0..14)
                .map(|c| format!("c{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    sqlx::query(&format!(
        "CREATE TEMPORARY TABLE floor_values{names} AS {select}"
    ))
    .execute(&mut conn)
    .await?;
    println!(
        "{:<62} {:>9.0} ms",
        "floor: generating the 300,000 licences' values alone",
        ms(started.elapsed())
    );
    sqlx::query("DROP TABLE floor_values")
        .execute(&mut conn)
        .await?;
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
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
