//! A running platform with data and credentials, for API tests from outside Rust
//! (`scripts/schemathesis`). Not a benchmark: it prints one JSON line and serves.
//!
//! ```text
//! cargo run -p seatbroker-platform --example api_fixture
//! {"url":"http://127.0.0.1:PORT","report_token":"sbr_...","agent_credential":"sbk_...","source_id":"..."}
//! ```
//!
//! It opens a temporary SQLite database, enrolls one agent with an HR source and approves
//! both, applies a snapshot of a small company (so the reports have rows), creates a report
//! token, serves the whole platform on a free loopback port and prints the line above. It
//! stops when its standard input closes or on Ctrl-C; the database goes with it.

use std::io::Write as _;
use std::net::SocketAddr;

use chrono::Utc;
use seatbroker_platform::{
    AppState, EnrollmentOutcome, PartOutcome, Store, WebSettings, app, new_id, sqlite_url,
};
use seatbroker_protocol::{
    CollectionInfo, EnrollRequest, PersonStatus, SeatReason, SeatRecord, SeatState,
    SnapshotPayload, SourceDescriptor, SourceKind, StateCounts, Summary, UsagePolicy,
    encode_snapshot, limits,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&sqlite_url(&dir.path().join("platform.db"))).await?;
    let token = store
        .create_enrollment_token("fixture", "api fixture", None, None)
        .await?;
    let request = EnrollRequest {
        protocol_version: 1,
        enrollment_token: token.token.clone(),
        install_id: "fixture-install".into(),
        host_name: "fixture-host".into(),
        agent_version: "0.1.0".into(),
        os: "linux".into(),
        sources: vec![SourceDescriptor {
            local_name: "humaans".into(),
            kind: SourceKind::Humaans,
            tenant_id: "fixture-tenant".into(),
            tenant_name: "Fixture Ltd".into(),
            interval_secs: 3600,
        }],
    };
    let EnrollmentOutcome::Enrolled(agent) = store.enroll(&request).await? else {
        anyhow::bail!("the fixture's enrollment was refused");
    };
    store.approve_agent("fixture", &agent.agent_id).await?;
    let link = &agent.links[0];
    store
        .approve_source_as_new("fixture", &link.id, None)
        .await?;
    let payload = company();
    let encoded = encode_snapshot(&payload, limits::MAX_PART_BYTES)?;
    let snapshot_id = new_id();
    for n in 1..=encoded.chunks.len() as u32 {
        let part = encoded.part(&snapshot_id, &link.id, 1, payload.collected_at, n);
        let chunk = encoded.chunks[(n - 1) as usize].clone();
        let outcome = store.receive_part(&agent.agent_id, &part, chunk).await?;
        anyhow::ensure!(
            matches!(outcome, PartOutcome::Stored(_)),
            "part refused: {outcome:?}"
        );
    }
    let report = store
        .create_report_token("fixture", "schemathesis", None)
        .await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = app(AppState::new(store.clone()), WebSettings::default());
    let line = serde_json::json!({
        "url": url,
        "report_token": report.token.expose(),
        "agent_credential": agent.credential.expose(),
        "source_id": link.id,
        "person_id": "p0001",
    });
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    // Standard input is read on a thread of its own; its end stops the server.
    let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let stop = async {
        tokio::select! {
            _ = stdin_closed => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await?;
    store.close().await;
    drop(dir);
    Ok(())
}

/// Twelve people in every state, so every report has rows.
fn company() -> SnapshotPayload {
    let states = [
        (SeatState::Active, PersonStatus::Active, None),
        (
            SeatState::Inactive,
            PersonStatus::Active,
            Some(SeatReason::NeverVerified),
        ),
        (
            SeatState::Inactive,
            PersonStatus::Active,
            Some(SeatReason::EndedNotOffboarded),
        ),
        (
            SeatState::Leaving,
            PersonStatus::Active,
            Some(SeatReason::EndDateWithinWindow),
        ),
        (
            SeatState::PreHire,
            PersonStatus::NewHire,
            Some(SeatReason::NewHire),
        ),
        (
            SeatState::Offboarded,
            PersonStatus::Offboarded,
            Some(SeatReason::Offboarded),
        ),
    ];
    let collected_at = Utc::now();
    let today = collected_at.date_naive();
    let seats: Vec<SeatRecord> = (0..12)
        .map(|i| {
            let (state, status, reason) = states[i % states.len()].clone();
            SeatRecord {
                person_id: format!("p{i:04}"),
                name: Some(format!("Person {i}")),
                work_email: Some(format!("p{i}@fixture.example")),
                status,
                employment_start_date: Some(today - chrono::Duration::days(400)),
                employment_end_date: None,
                job_title: Some("Engineer".into()),
                department: Some(if i % 2 == 0 { "R&D" } else { "Sales" }.into()),
                manager_id: (i > 0).then(|| "p0000".to_owned()),
                is_verified: Some(true),
                since: reason.as_ref().map(|_| today - chrono::Duration::days(10)),
                state,
                reason,
            }
        })
        .collect();
    let mut counts = StateCounts::default();
    for seat in &seats {
        counts.add(&seat.state);
    }
    SnapshotPayload {
        schema: 1,
        local_source: "humaans".into(),
        collected_at,
        policy: UsagePolicy::default(),
        collection: CollectionInfo {
            tenant_id: "fixture-tenant".into(),
            people_seen: seats.len() as u64,
            job_roles_seen: seats.len() as u64,
            unparsable_person_ids: Vec::new(),
            private_access: true,
            duration_ms: 1,
            agent_version: "0.1.0".into(),
        },
        summary: Summary {
            as_of: today,
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
