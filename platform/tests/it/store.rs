//! The store against SQLite and PostgreSQL: every test runs on both.

use chrono::Duration;
use seatbroker_platform::{
    ApplyReport, EnrolledAgent, EnrollmentOutcome, Health, PartOutcome, PartRefusal, Store,
    StoreError, TokenState,
};
use seatbroker_protocol::{AgentState, SeatState, SnapshotPayload, SourceState, UploadOutcome};
use sqlx::Row;

use crate::{TestDb, date, enroll_request, parts, payload, people, seat, t0};

/// Creates a token and enrolls an agent with `sources` (local name, tenant).
async fn enroll(store: &Store, sources: &[(&str, &str)]) -> EnrolledAgent {
    let token = store
        .create_enrollment_token("admin", "test", None, None)
        .await
        .unwrap();
    match store
        .enroll(&enroll_request(&token.token, sources))
        .await
        .unwrap()
    {
        EnrollmentOutcome::Enrolled(agent) => agent,
        other => panic!("enrollment failed: {other:?}"),
    }
}

/// An approved agent whose single source `hr` (tenant `acme`) is approved as new;
/// returns the agent and the source id.
async fn approved_agent(store: &Store) -> (EnrolledAgent, String) {
    let agent = enroll(store, &[("hr", "acme")]).await;
    store.approve_agent("admin", &agent.agent_id).await.unwrap();
    let source = store
        .approve_source_as_new("admin", &agent.links[0].id, None)
        .await
        .unwrap();
    (agent, source.id)
}

/// Sends every part of a snapshot and returns the outcomes.
async fn upload(
    store: &Store,
    agent_id: &str,
    payload: &SnapshotPayload,
    snapshot_id: &str,
    source_id: &str,
    sequence: u64,
) -> Vec<PartOutcome> {
    let mut out = Vec::new();
    for part in parts(payload, snapshot_id, source_id, sequence, 64 * 1024) {
        let chunk = part.chunk().unwrap();
        out.push(store.receive_part(agent_id, &part, chunk).await.unwrap());
    }
    out
}

/// Uploads a snapshot and expects it applied; returns the apply report.
async fn apply(
    store: &Store,
    agent_id: &str,
    payload: &SnapshotPayload,
    snapshot_id: &str,
    source_id: &str,
    sequence: u64,
) -> ApplyReport {
    let outcomes = upload(store, agent_id, payload, snapshot_id, source_id, sequence).await;
    match outcomes.last() {
        Some(PartOutcome::Stored(received)) if received.snapshot_applied => {
            received.applied.clone().expect("this upload applied it")
        }
        other => panic!("snapshot {snapshot_id} was not applied: {other:?}"),
    }
}

fn refusal(outcomes: &[PartOutcome]) -> PartRefusal {
    match outcomes.first() {
        Some(PartOutcome::Refused(refusal)) => refusal.clone(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// (person_id, state, reason) of the current seats of a source, sorted.
async fn current(store: &Store, source_id: &str) -> Vec<(String, String, Option<String>)> {
    sqlx::query("SELECT person_id, state, reason FROM seats_current WHERE source_id = $1 ORDER BY person_id")
        .bind(source_id)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// (person_id, state, open?) of the history of a source, in insertion order.
async fn history(store: &Store, source_id: &str) -> Vec<(String, String, bool)> {
    sqlx::query(
        "SELECT person_id, state, valid_to FROM seat_history WHERE source_id = $1 ORDER BY id",
    )
    .bind(source_id)
    .fetch_all(store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get::<Option<String>, _>(2).is_none()))
    .collect()
}

on_both_backends!(enrollment_tokens, enrollment_tokens_body);
async fn enrollment_tokens_body(db: TestDb) {
    let store = &db.store;
    let limited = store
        .create_enrollment_token(
            "admin",
            "two uses",
            Some(t0() + Duration::hours(1)),
            Some(2),
        )
        .await
        .unwrap();
    assert!(limited.token.expose().starts_with("sbe_"));
    assert_eq!(limited.record.state, TokenState::Usable);
    let revoked = store
        .create_enrollment_token("admin", "revoked", None, None)
        .await
        .unwrap();
    store
        .revoke_enrollment_token("admin", &revoked.record.id)
        .await
        .unwrap();

    let request = |token| enroll_request(token, &[("hr", "acme")]);
    let first = store.enroll(&request(&limited.token)).await.unwrap();
    let EnrollmentOutcome::Enrolled(first) = first else {
        panic!("first enrollment refused: {first:?}")
    };
    assert!(
        first
            .credential
            .expose()
            .starts_with(&format!("sbk_{}_", first.agent_id))
    );
    assert_eq!(first.links.len(), 1);
    assert_eq!(first.links[0].state, SourceState::Pending);
    // A reinstall (same install id) is a new agent.
    let second = store.enroll(&request(&limited.token)).await.unwrap();
    let EnrollmentOutcome::Enrolled(second) = second else {
        panic!("second enrollment refused: {second:?}")
    };
    assert_ne!(first.agent_id, second.agent_id);

    let check = |outcome: EnrollmentOutcome, expected: &str| {
        let got = match outcome {
            EnrollmentOutcome::Enrolled(_) => "enrolled",
            EnrollmentOutcome::TokenInvalid => "invalid",
            EnrollmentOutcome::TokenExpired => "expired",
            EnrollmentOutcome::TokenExhausted => "exhausted",
            EnrollmentOutcome::TokenRevoked => "revoked",
        };
        assert_eq!(got, expected);
    };
    check(
        store.enroll(&request(&limited.token)).await.unwrap(),
        "exhausted",
    );
    check(
        store.enroll(&request(&revoked.token)).await.unwrap(),
        "revoked",
    );
    let bogus = seatbroker_protocol::Secret::new("sbe_nope");
    check(store.enroll(&request(&bogus)).await.unwrap(), "invalid");
    let expiring = store
        .create_enrollment_token("admin", "short", Some(t0() + Duration::minutes(5)), None)
        .await
        .unwrap();
    db.clock.set(t0() + Duration::minutes(10));
    check(
        store.enroll(&request(&expiring.token)).await.unwrap(),
        "expired",
    );

    // Revoking the token does not touch agents enrolled with it.
    store
        .revoke_enrollment_token("admin", &limited.record.id)
        .await
        .unwrap();
    let agent = store
        .authenticate_agent(first.credential.expose())
        .await
        .unwrap()
        .expect("credential still valid");
    assert_eq!(agent.state, AgentState::Pending);
    assert_eq!(
        agent.enrolled_with_token.as_deref(),
        Some(limited.record.id.as_str())
    );

    let tokens = store.list_enrollment_tokens().await.unwrap();
    let states: Vec<_> = tokens
        .iter()
        .map(|t| (t.label.as_str(), t.state, t.uses))
        .collect();
    assert!(
        states.contains(&("two uses", TokenState::Revoked, 2)),
        "{states:?}"
    );
    assert!(
        states.contains(&("short", TokenState::Expired, 0)),
        "{states:?}"
    );
    let actions: Vec<String> = store
        .list_audit(100, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "token.create").count(), 3);
    assert_eq!(actions.iter().filter(|a| *a == "token.revoke").count(), 2);
    assert_eq!(actions.iter().filter(|a| *a == "agent.enroll").count(), 2);
}

on_both_backends!(agent_decisions, agent_decisions_body);
async fn agent_decisions_body(db: TestDb) {
    let store = &db.store;
    // (operations in order, whether each succeeds, final state)
    let cases: &[(&[&str], &[bool], AgentState)] = &[
        (&["approve"], &[true], AgentState::Approved),
        (&["reject"], &[true], AgentState::Rejected),
        // A rejection is final for that credential: the agent must enroll again.
        (&["reject", "approve"], &[true, false], AgentState::Rejected),
        (&["approve", "reject"], &[true, false], AgentState::Approved),
        (&["approve", "approve"], &[true, true], AgentState::Approved),
        (&["revoke", "approve"], &[true, false], AgentState::Revoked),
        (
            &["approve", "revoke", "revoke"],
            &[true, true, true],
            AgentState::Revoked,
        ),
    ];
    for (ops, ok, expected) in cases {
        let agent = enroll(store, &[("hr", "acme")]).await;
        for (op, ok) in ops.iter().zip(ok.iter()) {
            let result = match *op {
                "approve" => store.approve_agent("admin", &agent.agent_id).await,
                "reject" => store.reject_agent("admin", &agent.agent_id).await,
                _ => {
                    store
                        .revoke_agent("admin", &agent.agent_id, Some("lost laptop"))
                        .await
                }
            };
            assert_eq!(result.is_ok(), *ok, "{ops:?}: {op} gave {result:?}");
            if let Err(error) = result {
                assert!(matches!(error, StoreError::InvalidState(_)), "{error:?}");
            }
        }
        let stored = store.get_agent(&agent.agent_id).await.unwrap().unwrap();
        assert_eq!(&stored.state, expected, "{ops:?}");
    }
    assert!(matches!(
        store.approve_agent("admin", "nope").await,
        Err(StoreError::NotFound { .. })
    ));

    // Rotating the credential cuts the old one off.
    let agent = enroll(store, &[("hr", "acme")]).await;
    let new = store
        .rotate_agent_credential("admin", &agent.agent_id)
        .await
        .unwrap();
    assert!(
        store
            .authenticate_agent(agent.credential.expose())
            .await
            .unwrap()
            .is_none()
    );
    let found = store
        .authenticate_agent(new.expose())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, agent.agent_id);
    assert_eq!(found.links.len(), 1);

    // Sources of a rejected agent cannot be approved.
    let rejected = enroll(store, &[("hr", "acme")]).await;
    store
        .reject_agent("admin", &rejected.agent_id)
        .await
        .unwrap();
    assert!(matches!(
        store
            .approve_source_as_new("admin", &rejected.links[0].id, None)
            .await,
        Err(StoreError::InvalidState(_))
    ));
    assert!(
        store
            .list_pending_links()
            .await
            .unwrap()
            .iter()
            .all(|l| l.agent_id != rejected.agent_id)
    );
    let pending = store.list_agents(Some(AgentState::Pending)).await.unwrap();
    assert!(
        pending
            .iter()
            .any(|a| a.id == agent.agent_id && a.links.len() == 1)
    );

    let audit = store.list_audit(500, None).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "agent.revoke"
        && e.actor == "admin"
        && e.detail["reason"] == "lost laptop"));
    assert!(audit.iter().any(|e| e.action == "agent.rotate_credential"));
}

on_both_backends!(apply_tracks_changes, apply_tracks_changes_body);
async fn apply_tracks_changes_body(db: TestDb) {
    let store = &db.store;
    let (agent, source) = approved_agent(store).await;
    let id = &agent.agent_id;
    let day1 = t0();
    let day2 = t0() + Duration::days(1);

    let s1 = payload(
        "hr",
        "acme",
        day1,
        vec![
            seat("a", SeatState::Active),
            seat("b", SeatState::Active),
            seat("c", SeatState::PreHire),
        ],
    );
    let report = apply(store, id, &s1, "snap1", &source, 1).await;
    assert_eq!(
        (
            report.people,
            report.added,
            report.state_changes,
            report.removed
        ),
        (3, 3, 3, 0)
    );
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM snapshot_parts").await,
        0,
        "parts are deleted after apply"
    );

    // a becomes inactive, b changes title only, c disappears, d appears.
    let mut b = seat("b", SeatState::Active);
    b.job_title = Some("Manager".to_owned());
    let s2 = payload(
        "hr",
        "acme",
        day2,
        vec![
            seat("a", SeatState::Inactive),
            b.clone(),
            seat("d", SeatState::Active),
        ],
    );
    let report = apply(store, id, &s2, "snap2", &source, 2).await;
    assert_eq!(
        (
            report.added,
            report.updated,
            report.state_changes,
            report.removed
        ),
        (1, 2, 2, 1)
    );
    assert_eq!(
        current(store, &source).await,
        vec![
            (
                "a".to_owned(),
                "inactive".to_owned(),
                Some("never_verified".to_owned())
            ),
            ("b".to_owned(), "active".to_owned(), None),
            ("d".to_owned(), "active".to_owned(), None),
        ]
    );
    let s = |p: &str, st: &str, open: bool| (p.to_owned(), st.to_owned(), open);
    let expected_history = vec![
        s("a", "active", false),
        s("b", "active", true),
        s("c", "pre_hire", false),
        s("a", "inactive", true),
        s("d", "active", true),
    ];
    assert_eq!(history(store, &source).await, expected_history);

    // The same content again, later on day 2: no history rows, the day's summary moves on.
    let s3 = payload(
        "hr",
        "acme",
        day2 + Duration::hours(3),
        vec![
            seat("a", SeatState::Inactive),
            b,
            seat("d", SeatState::Active),
        ],
    );
    let report = apply(store, id, &s3, "snap3", &source, 3).await;
    assert_eq!(
        (
            report.added,
            report.updated,
            report.state_changes,
            report.removed
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(
        history(store, &source).await,
        expected_history,
        "history rows only on change"
    );

    let days = sqlx::query("SELECT day, snapshot_id, people, active, inactive, billable, in_use, inactive_never_verified, findings FROM daily_summaries WHERE source_id = $1 ORDER BY day")
        .bind(&source)
        .fetch_all(store.pool())
        .await
        .unwrap();
    // (day, snapshot, [people, active, inactive, billable, in_use, never_verified, findings])
    let days: Vec<(String, String, Vec<i64>)> = days
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                (2..9).map(|i| r.get::<i64, _>(i)).collect(),
            )
        })
        .collect();
    assert_eq!(
        days,
        vec![
            (
                "2025-06-02".to_owned(),
                "snap1".to_owned(),
                vec![3, 2, 0, 2, 2, 0, 3]
            ),
            (
                "2025-06-03".to_owned(),
                "snap3".to_owned(),
                vec![3, 2, 1, 3, 2, 1, 3]
            ),
        ]
    );
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM findings_current").await,
        3
    );

    let record = store.get_source(&source).await.unwrap().unwrap();
    assert_eq!(record.last_snapshot_id.as_deref(), Some("snap3"));
    assert_eq!(record.people, Some(3));
    assert_eq!(record.private_access, Some(true));
    let overview = store.report_overview().await.unwrap();
    assert_eq!(overview.len(), 1);
    assert_eq!(overview[0].health, Health::Healthy);
    let link = store.get_link(&source).await.unwrap().unwrap();
    assert_eq!(link.last_applied_sequence, Some(3));

    // d's record could not be read this time: d keeps the last known seat and history,
    // while b, really absent, leaves.
    let mut s4 = payload(
        "hr",
        "acme",
        day2 + Duration::hours(5),
        vec![seat("a", SeatState::Inactive)],
    );
    s4.collection.unparsable_person_ids = vec!["d".to_owned()];
    let report = apply(store, id, &s4, "snap4", &source, 4).await;
    assert_eq!(report.removed, 1, "only b is removed");
    let now: Vec<String> = current(store, &source)
        .await
        .into_iter()
        .map(|(person, _, _)| person)
        .collect();
    assert_eq!(now, vec!["a".to_owned(), "d".to_owned()]);
}

on_both_backends!(idempotency_and_refusals, idempotency_and_refusals_body);
async fn idempotency_and_refusals_body(db: TestDb) {
    let store = &db.store;
    let (agent, source) = approved_agent(store).await;
    let id = &agent.agent_id;
    let big = payload("hr", "acme", t0(), people(400));
    let snapshot = parts(&big, "multi", &source, 5, 512);
    assert!(
        snapshot.len() >= 3,
        "need several parts, got {}",
        snapshot.len()
    );

    let send = |n: usize| {
        let part = snapshot[n].clone();
        async move {
            let chunk = part.chunk().unwrap();
            store.receive_part(id, &part, chunk).await.unwrap()
        }
    };
    let stored = |outcome: PartOutcome| match outcome {
        PartOutcome::Stored(received) => (
            received.outcome,
            received.parts_received,
            received.snapshot_applied,
        ),
        PartOutcome::Refused(refusal) => panic!("refused: {refusal:?}"),
    };
    assert_eq!(stored(send(0).await), (UploadOutcome::Accepted, 1, false));
    assert_eq!(
        stored(send(0).await),
        (UploadOutcome::AlreadyHave, 1, false)
    );

    // Same part, other bytes → conflict; other metadata → conflict; nothing stored.
    let mut other = snapshot[1].clone();
    other.part = 1;
    let chunk = other.chunk().unwrap();
    let mut other = other.clone();
    other.part_checksum = seatbroker_protocol::checksum(&chunk);
    assert!(matches!(
        store.receive_part(id, &other, chunk).await.unwrap(),
        PartOutcome::Refused(PartRefusal::Conflict(_))
    ));
    let mut moved = snapshot[1].clone();
    moved.sequence = 6;
    let chunk = moved.chunk().unwrap();
    assert!(matches!(
        store.receive_part(id, &moved, chunk).await.unwrap(),
        PartOutcome::Refused(PartRefusal::Conflict(detail)) if detail.contains("sequence")
    ));
    assert_eq!(count(store, "SELECT COUNT(*) FROM snapshot_parts").await, 1);

    // Another agent using the same snapshot id → conflict.
    let (other_agent, other_source) = approved_agent(store).await;
    let mut foreign_id = snapshot[1].clone();
    foreign_id.source_id = other_source.clone();
    let chunk = foreign_id.chunk().unwrap();
    assert!(matches!(
        store.receive_part(&other_agent.agent_id, &foreign_id, chunk).await.unwrap(),
        PartOutcome::Refused(PartRefusal::Conflict(detail)) if detail.contains("another agent")
    ));
    // Uploading to another agent's source → foreign.
    let mut foreign = snapshot[1].clone();
    foreign.snapshot_id = "foreign".to_owned();
    foreign.source_id = other_source.clone();
    let chunk = foreign.chunk().unwrap();
    assert_eq!(
        store.receive_part(id, &foreign, chunk).await.unwrap(),
        PartOutcome::Refused(PartRefusal::SourceForeign)
    );

    for n in 1..snapshot.len() {
        let (outcome, received, applied) = stored(send(n).await);
        assert_eq!(outcome, UploadOutcome::Accepted);
        assert_eq!(received as usize, n + 1);
        assert_eq!(applied, n + 1 == snapshot.len());
    }
    // Any part of an applied snapshot → already_have, applied.
    assert_eq!(
        stored(send(1).await),
        (UploadOutcome::AlreadyHave, snapshot.len() as u32, true)
    );
    // Older or equal sequence → stale, nothing stored.
    let old = payload("hr", "acme", t0(), people(2));
    for (snapshot_id, sequence) in [("older", 4), ("same", 5)] {
        let outcomes = upload(store, id, &old, snapshot_id, &source, sequence).await;
        assert_eq!(
            refusal(&outcomes),
            PartRefusal::Stale {
                sequence,
                last_applied: 5
            }
        );
        assert_eq!(store.snapshot_state(snapshot_id).await.unwrap(), None);
    }
    assert_eq!(count(store, "SELECT COUNT(*) FROM snapshot_parts").await, 0);
    assert_eq!(current(store, &source).await.len(), 400);

    // A snapshot that becomes stale while arriving is dropped when its next part comes.
    let slow = payload("hr", "acme", t0(), people(300));
    let slow_parts = parts(&slow, "slow", &source, 7, 512);
    let first = slow_parts[0].clone();
    let chunk = first.chunk().unwrap();
    assert!(matches!(
        store.receive_part(id, &first, chunk).await.unwrap(),
        PartOutcome::Stored(_)
    ));
    apply(
        store,
        id,
        &payload("hr", "acme", t0(), people(5)),
        "fast",
        &source,
        8,
    )
    .await;
    let second = slow_parts[1].clone();
    let chunk = second.chunk().unwrap();
    assert_eq!(
        store.receive_part(id, &second, chunk).await.unwrap(),
        PartOutcome::Refused(PartRefusal::Stale {
            sequence: 7,
            last_applied: 8
        })
    );
    assert_eq!(store.snapshot_state("slow").await.unwrap(), None);
    assert_eq!(count(store, "SELECT COUNT(*) FROM snapshot_parts").await, 0);
}

on_both_backends!(invalid_payloads_store_nothing, invalid_payloads_body);
async fn invalid_payloads_body(db: TestDb) {
    let store = &db.store;
    let (agent, source) = approved_agent(store).await;
    let id = &agent.agent_id;
    let mut duplicate = payload("hr", "acme", t0(), people(3));
    duplicate.seats.push(seat("p0001", SeatState::Inactive));
    let cases: Vec<(&str, SnapshotPayload, &str)> = vec![
        (
            "wrong-local",
            payload("other", "acme", t0(), people(3)),
            "local source",
        ),
        (
            "wrong-tenant",
            payload("hr", "globex", t0(), people(3)),
            "tenant",
        ),
        ("duplicate", duplicate, "more than once"),
    ];
    for (snapshot_id, body, expected) in cases {
        let outcomes = upload(store, id, &body, snapshot_id, &source, 1).await;
        match outcomes.last() {
            Some(PartOutcome::Refused(PartRefusal::PayloadInvalid(detail))) => {
                assert!(detail.contains(expected), "{snapshot_id}: {detail}")
            }
            other => panic!("{snapshot_id}: {other:?}"),
        }
        assert_eq!(store.snapshot_state(snapshot_id).await.unwrap(), None);
    }
    // A wrong whole-snapshot checksum (each part fine) → checksum mismatch, discarded.
    let body = payload("hr", "acme", t0(), people(3));
    let mut part = parts(&body, "badsum", &source, 1, 1 << 20).remove(0);
    part.snapshot_checksum = seatbroker_protocol::checksum(b"something else");
    let chunk = part.chunk().unwrap();
    assert!(matches!(
        store.receive_part(id, &part, chunk).await.unwrap(),
        PartOutcome::Refused(PartRefusal::ChecksumMismatch(_))
    ));
    assert_eq!(store.snapshot_state("badsum").await.unwrap(), None);
    assert_eq!(count(store, "SELECT COUNT(*) FROM snapshot_parts").await, 0);
    assert_eq!(count(store, "SELECT COUNT(*) FROM seats_current").await, 0);
    // The link can still take a snapshot with sequence 1: nothing was applied.
    apply(store, id, &body, "good", &source, 1).await;
}

on_both_backends!(source_approval_paths, source_approval_paths_body);
async fn source_approval_paths_body(db: TestDb) {
    let store = &db.store;
    let agent = enroll(store, &[("hr", "acme"), ("side", "initech"), ("junk", "x")]).await;
    let id = &agent.agent_id;
    store.approve_agent("admin", id).await.unwrap();
    let [hr, side, junk] = [&agent.links[0], &agent.links[1], &agent.links[2]];
    let body = payload("hr", "acme", t0(), people(2));

    assert_eq!(
        refusal(&upload(store, id, &body, "s1", &hr.id, 1).await),
        PartRefusal::SourcePending
    );
    store.reject_source("admin", &junk.id).await.unwrap();
    let junk_body = payload("junk", "x", t0(), people(2));
    assert_eq!(
        refusal(&upload(store, id, &junk_body, "s2", &junk.id, 1).await),
        PartRefusal::SourceRejected
    );
    assert!(matches!(
        store.approve_source_as_new("admin", &junk.id, None).await,
        Err(StoreError::InvalidState(_))
    ));

    let created = store
        .approve_source_as_new("admin", &hr.id, Some("Acme HR"))
        .await
        .unwrap();
    assert_eq!(
        created.id, hr.id,
        "a new source keeps the id the agent already has"
    );
    assert_eq!(created.name, "Acme HR");
    apply(store, id, &body, "s3", &hr.id, 1).await;
    // Approving twice is harmless; the pending list shrinks.
    store
        .approve_source_as_new("admin", &hr.id, None)
        .await
        .unwrap();
    let pending: Vec<String> = store
        .list_pending_links()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.local_name)
        .collect();
    assert_eq!(pending, vec!["side".to_owned()]);

    store.revoke_source_link("admin", &hr.id).await.unwrap();
    assert_eq!(
        refusal(&upload(store, id, &body, "s4", &hr.id, 2).await),
        PartRefusal::SourceRevoked
    );
    assert!(
        store.merge_candidates(&side.id).await.unwrap().is_empty(),
        "other tenant"
    );
    assert!(matches!(
        store.approve_and_merge("admin", &side.id, &hr.id).await,
        Err(StoreError::InvalidState(detail)) if detail.contains("tenant")
    ));
    assert_eq!(count(store, "SELECT COUNT(*) FROM snapshots").await, 1);

    let audit: Vec<String> = store
        .list_audit(100, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in [
        "agent.approve",
        "source.reject",
        "source.approve",
        "source.revoke",
    ] {
        assert!(
            audit.iter().any(|a| a == action),
            "{action} missing from {audit:?}"
        );
    }
}

on_both_backends!(merge_continues_history, merge_continues_history_body);
async fn merge_continues_history_body(db: TestDb) {
    let store = &db.store;
    let (old_agent, source) = approved_agent(store).await;
    let before = payload(
        "hr",
        "acme",
        t0(),
        vec![seat("a", SeatState::Active), seat("b", SeatState::Active)],
    );
    apply(store, &old_agent.agent_id, &before, "old1", &source, 10).await;

    // The machine is reinstalled: a new agent, same tenant.
    let new_agent = enroll(store, &[("hr", "acme")]).await;
    store
        .approve_agent("admin", &new_agent.agent_id)
        .await
        .unwrap();
    let link = &new_agent.links[0];
    let candidates = store.merge_candidates(&link.id).await.unwrap();
    assert_eq!(
        candidates.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![source.clone()]
    );
    store
        .approve_and_merge("admin", &link.id, &source)
        .await
        .unwrap();
    let view = store
        .get_link(&link.id)
        .await
        .unwrap()
        .unwrap()
        .agent_view();
    assert_eq!(view.state, SourceState::Merged);
    assert_eq!(view.source_id, source);
    assert_eq!(view.merged_into.as_deref(), Some(source.as_str()));

    // Its sequence starts again at 1, and it names the target source.
    let after = payload(
        "hr",
        "acme",
        t0() + Duration::days(1),
        vec![seat("a", SeatState::Active), seat("b", SeatState::Leaving)],
    );
    let report = apply(store, &new_agent.agent_id, &after, "new1", &source, 1).await;
    assert_eq!(
        (
            report.source_id.as_str(),
            report.added,
            report.state_changes
        ),
        (source.as_str(), 0, 1)
    );
    // Naming its own link id works as well (snapshots spooled before the merge).
    let later = payload(
        "hr",
        "acme",
        t0() + Duration::days(2),
        vec![seat("a", SeatState::Active), seat("b", SeatState::Leaving)],
    );
    apply(store, &new_agent.agent_id, &later, "new2", &link.id, 2).await;
    let s = |p: &str, st: &str, open: bool| (p.to_owned(), st.to_owned(), open);
    assert_eq!(
        history(store, &source).await,
        vec![
            s("a", "active", true),
            s("b", "active", false),
            s("b", "leaving", true),
        ]
    );
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM daily_summaries").await,
        3
    );
    assert_eq!(count(store, "SELECT COUNT(*) FROM sources").await, 1);

    // The old agent, still running somewhere, sends a snapshot it collected before the new
    // agent's: it would turn the source back in time, so it is refused and not stored.
    let stale = payload(
        "hr",
        "acme",
        t0() + Duration::hours(12),
        vec![seat("a", SeatState::Inactive), seat("b", SeatState::Active)],
    );
    let outcomes = upload(store, &old_agent.agent_id, &stale, "old2", &source, 11).await;
    assert!(
        matches!(
            outcomes.last(),
            Some(PartOutcome::Refused(PartRefusal::Conflict(detail))) if detail.contains("back in time")
        ),
        "{outcomes:?}"
    );
    assert_eq!(store.snapshot_state("old2").await.unwrap(), None);
    assert_eq!(
        history(store, &source).await,
        vec![
            s("a", "active", true),
            s("b", "active", false),
            s("b", "leaving", true),
        ]
    );
}

on_both_backends!(two_processes_apply_once, two_processes_apply_once_body);
async fn two_processes_apply_once_body(db: TestDb) {
    let one = db.store.clone();
    let two = db.second_process().await;
    let (agent, source) = approved_agent(&one).await;
    for round in 0..3u64 {
        let body = payload(
            "hr",
            "acme",
            t0() + Duration::hours(round as i64),
            people(300 + round as usize),
        );
        let snapshot_id = format!("race{round}");
        let all = parts(&body, &snapshot_id, &source, round + 1, 1024);
        assert!(all.len() >= 4);
        // Both processes receive every part, in opposite orders, at the same time.
        let run = |store: Store, order: Vec<usize>| {
            let all = all.clone();
            let agent_id = agent.agent_id.clone();
            tokio::spawn(async move {
                let mut applied = 0;
                for n in order {
                    let part = all[n].clone();
                    let chunk = part.chunk().unwrap();
                    match store.receive_part(&agent_id, &part, chunk).await.unwrap() {
                        PartOutcome::Stored(received) => {
                            applied += usize::from(received.applied.is_some())
                        }
                        PartOutcome::Refused(refusal) => panic!("refused: {refusal:?}"),
                    }
                }
                applied
            })
        };
        let forward: Vec<usize> = (0..all.len()).collect();
        let backward: Vec<usize> = (0..all.len()).rev().collect();
        let (a, b) = tokio::join!(run(one.clone(), forward), run(two.clone(), backward));
        assert_eq!(
            a.unwrap() + b.unwrap(),
            1,
            "round {round}: applied exactly once"
        );
        assert_eq!(
            one.snapshot_state(&snapshot_id).await.unwrap().as_deref(),
            Some("applied")
        );
        assert_eq!(current(&one, &source).await.len(), 300 + round as usize);
    }
    assert_eq!(count(&one, "SELECT COUNT(*) FROM seat_history").await, 302);
    assert_eq!(count(&one, "SELECT COUNT(*) FROM snapshot_parts").await, 0);
}

on_both_backends!(stale_sources, stale_sources_body);
async fn stale_sources_body(db: TestDb) {
    let store = &db.store;
    let (agent, source) = approved_agent(store).await;
    // Interval 3600 s: stale after more than two hours without an upload.
    let health = || async { store.report_overview().await.unwrap()[0].health };
    db.clock.set(t0() + Duration::minutes(119));
    assert_eq!(health().await, Health::AwaitingFirstUpload);
    db.clock.set(t0() + Duration::minutes(121));
    assert_eq!(
        health().await,
        Health::Stale,
        "never uploaded, approved long ago"
    );
    apply(
        store,
        &agent.agent_id,
        &payload("hr", "acme", t0(), people(1)),
        "s",
        &source,
        1,
    )
    .await;
    assert_eq!(health().await, Health::Healthy);
    db.clock.set(t0() + Duration::minutes(121 + 121));
    assert_eq!(health().await, Health::Stale);
    assert_eq!(
        store
            .get_source(&source)
            .await
            .unwrap()
            .unwrap()
            .last_upload_at,
        Some(t0() + Duration::minutes(121))
    );
    let _ = date("2025-01-01");
}

on_both_backends!(
    revoking_an_agent_frees_its_half_received_snapshots,
    revoking_frees_body
);
async fn revoking_frees_body(db: TestDb) {
    let store = &db.store;
    let (agent, source) = approved_agent(store).await;
    let big = payload("hr", "acme", t0(), people(300));
    let first = parts(&big, "kept-in-spool", &source, 1, 512).remove(0);
    let chunk = first.chunk().unwrap();
    assert!(matches!(
        store
            .receive_part(&agent.agent_id, &first, chunk)
            .await
            .unwrap(),
        PartOutcome::Stored(_)
    ));
    store
        .revoke_agent("admin", &agent.agent_id, None)
        .await
        .unwrap();
    assert_eq!(store.snapshot_state("kept-in-spool").await.unwrap(), None);
    assert_eq!(count(store, "SELECT COUNT(*) FROM snapshot_parts").await, 0);

    // Enrolled again (a new agent id), the agent sends the same snapshot from its spool:
    // accepted and applied, not refused as another agent's.
    let (again, again_source) = approved_agent(store).await;
    let report = apply(
        store,
        &again.agent_id,
        &big,
        "kept-in-spool",
        &again_source,
        1,
    )
    .await;
    assert_eq!(report.people, 300);
}
