//! Integration tests of the platform: the store on SQLite and PostgreSQL, and the agent
//! API over HTTP.
//!
//! PostgreSQL: the suite needs a server at 127.0.0.1:5432 that lets user `postgres` in
//! without a password (trust auth) and has a database `test`; each test creates its own
//! database `sb_test_<random>` and drops it afterwards. Override the server with
//! `SEATBROKER_TEST_POSTGRES=postgres://user@host:port`.

use chrono::{DateTime, NaiveDate, Utc};
use seatbroker_platform::{Clock, Store};
use seatbroker_protocol::{
    CollectionInfo, EnrollRequest, Finding, FindingKind, PersonStatus, SeatReason, SeatRecord,
    SeatState, Secret, SnapshotPayload, SourceDescriptor, SourceKind, StateCounts, Summary,
    UploadPart, UsagePolicy, encode_snapshot,
};
use sqlx::Connection;

/// The instant every test store starts at.
pub(crate) fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// A database for one test, removed when dropped.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    /// For opening a second store on the same database (a second platform process).
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
    pg_database: Option<(String, String)>,
}

impl TestDb {
    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = seatbroker_platform::sqlite_url(&dir.path().join("platform.db"));
        let clock = Clock::fixed(t0());
        let store = Store::open(&url).await.unwrap().with_clock(clock.clone());
        TestDb {
            store,
            clock,
            url,
            _dir: Some(dir),
            pg_database: None,
        }
    }

    pub(crate) async fn postgres() -> TestDb {
        let server = std::env::var("SEATBROKER_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
        let admin_url = format!("{server}/test");
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(conn) => conn,
            Err(error) => panic!(
                "the store tests need PostgreSQL at {admin_url} (user postgres, trust auth, database `test`) \
                 and could not connect: {error}. Start it, e.g. `sudo service postgresql start` \
                 (or `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:15`), \
                 or point SEATBROKER_TEST_POSTGRES at another server."
            ),
        };
        let name = format!("sb_test_{}", seatbroker_platform::new_id());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = format!("{server}/{name}");
        let clock = Clock::fixed(t0());
        let store = Store::open(&url).await.unwrap().with_clock(clock.clone());
        TestDb {
            store,
            clock,
            url,
            _dir: None,
            pg_database: Some((admin_url, name)),
        }
    }

    /// A second store on the same database, as another platform process would have.
    pub(crate) async fn second_process(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap()
            .with_clock(self.clock.clone())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_database.take() {
            // Drop runs inside the test's runtime: do the async cleanup on a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut admin)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Declares one test that runs `$body(TestDb)` on SQLite and on PostgreSQL, as
/// `$name::sqlite` and `$name::postgres`.
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::TestDb::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body($crate::TestDb::postgres().await).await;
            }
        }
    };
}

mod api;
mod browser;
mod console;
mod email;
mod hostile;
mod licences;
mod oidc;
mod openapi;
mod operator_metrics;
mod processes;
mod report_tokens;
mod store;
mod walkthrough;

pub(crate) fn enroll_request(token: &Secret, sources: &[(&str, &str)]) -> EnrollRequest {
    EnrollRequest {
        protocol_version: 1,
        enrollment_token: token.clone(),
        install_id: "install-1".to_owned(),
        host_name: "hr-box".to_owned(),
        agent_version: "0.1.0".to_owned(),
        os: "linux".to_owned(),
        sources: sources
            .iter()
            .map(|(local, tenant)| SourceDescriptor {
                local_name: (*local).to_owned(),
                kind: SourceKind::Humaans,
                tenant_id: (*tenant).to_owned(),
                tenant_name: format!("{tenant} Ltd"),
                interval_secs: 3600,
            })
            .collect(),
    }
}

/// A seat with just a state (and the reason that state needs).
pub(crate) fn seat(person_id: &str, state: SeatState) -> SeatRecord {
    let (status, reason) = match &state {
        SeatState::PreHire => (PersonStatus::NewHire, Some(SeatReason::NewHire)),
        SeatState::Active => (PersonStatus::Active, None),
        SeatState::Leaving => (PersonStatus::Active, Some(SeatReason::EndDateWithinWindow)),
        SeatState::Inactive => (PersonStatus::Active, Some(SeatReason::NeverVerified)),
        SeatState::Offboarded => (PersonStatus::Offboarded, Some(SeatReason::Offboarded)),
        _ => (
            PersonStatus::Other("weird".to_owned()),
            Some(SeatReason::UnknownStatus),
        ),
    };
    SeatRecord {
        person_id: person_id.to_owned(),
        name: Some(format!("Person {person_id}")),
        work_email: Some(format!("{person_id}@example.com")),
        status,
        employment_start_date: Some(date("2024-01-01")),
        employment_end_date: None,
        job_title: Some("Engineer".to_owned()),
        department: Some("R&D".to_owned()),
        manager_id: None,
        is_verified: Some(true),
        state,
        reason,
        since: None,
    }
}

/// A payload of `seats` for local source `local` of `tenant`, as of `as_of`.
pub(crate) fn payload(
    local: &str,
    tenant: &str,
    collected_at: DateTime<Utc>,
    seats: Vec<SeatRecord>,
) -> SnapshotPayload {
    let mut counts = StateCounts::default();
    let mut inactive_reasons = seatbroker_protocol::InactiveReasonCounts::default();
    for seat in &seats {
        counts.add(&seat.state);
        match seat.reason.as_ref().map(|r| r.as_str()) {
            Some("never_verified") => inactive_reasons.never_verified += 1,
            Some("ended_not_offboarded") => inactive_reasons.ended_not_offboarded += 1,
            _ => {}
        }
    }
    let findings = seats
        .iter()
        .filter(|s| s.manager_id.is_none() && s.state != SeatState::Offboarded)
        .take(3)
        .map(|s| Finding {
            person_id: s.person_id.clone(),
            kind: FindingKind::NoManager,
            detail: None,
        })
        .collect::<Vec<_>>();
    SnapshotPayload {
        schema: 1,
        local_source: local.to_owned(),
        collected_at,
        policy: UsagePolicy::default(),
        collection: CollectionInfo {
            tenant_id: tenant.to_owned(),
            people_seen: seats.len() as u64,
            job_roles_seen: seats.len() as u64,
            unparsable_person_ids: Vec::new(),
            private_access: true,
            duration_ms: 10,
            agent_version: "0.1.0".to_owned(),
        },
        summary: Summary {
            as_of: collected_at.date_naive(),
            billable: counts.billable(),
            in_use: counts.in_use(),
            utilisation: None,
            counts,
            inactive_reasons,
            pre_hires_starting_soon: 1,
            recent_leavers: 2,
            departments: Vec::new(),
            findings: Default::default(),
        },
        seats,
        findings,
        licences: None,
    }
}

/// The parts of a snapshot of `payload`, cut into chunks of `part_bytes`.
pub(crate) fn parts(
    payload: &SnapshotPayload,
    snapshot_id: &str,
    source_id: &str,
    sequence: u64,
    part_bytes: usize,
) -> Vec<UploadPart> {
    let encoded = encode_snapshot(payload, part_bytes).unwrap();
    (1..=encoded.chunks.len() as u32)
        .map(|n| encoded.part(snapshot_id, source_id, sequence, payload.collected_at, n))
        .collect()
}

/// `n` people `p0000`... all active.
pub(crate) fn people(n: usize) -> Vec<SeatRecord> {
    (0..n)
        .map(|i| seat(&format!("p{i:04}"), SeatState::Active))
        .collect()
}
