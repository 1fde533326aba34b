//! The agent against a mockito platform: every handshake state and every refusal, one
//! uplink round at a time (`Service::round`), so each test says exactly what was sent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use mockito::{Matcher, Mock, ServerGuard};
use seatbroker_agent::{
    CollectError, Collector, Config, Event, Service, ServiceOptions, SourceConfig, StateStore,
    Tenant, UplinkRetryPolicy, UploadSettings,
};
use seatbroker_protocol::{
    AccountRecord, AccountType, AgentState, CollectionInfo, InactiveReasonCounts, LicenceHeld,
    LicencePolicy, LicenceSnapshot, LicenceState, LicenceStateCounts, Secret, SnapshotPayload,
    SourceKind, SourceState, StateCounts, Summary, UploadPart, UsagePolicy, accounts_digest,
    digest_text,
};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub(crate) const CREDENTIAL: &str = "sbk_agent1_c2VjcmV0";

/// A collector that makes small, distinct snapshots without Humaans.
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeCollector {
    pub(crate) made: Arc<AtomicU64>,
    pub(crate) fail: Arc<AtomicBool>,
    /// Never finish a collection (to test shutdown in the middle of one).
    pub(crate) hang: Arc<AtomicBool>,
    /// When set, collections are of an app source with this licence section.
    pub(crate) licences: Arc<std::sync::Mutex<Option<seatbroker_protocol::LicenceSnapshot>>>,
}

impl Collector for FakeCollector {
    async fn collect(
        &self,
        source: &SourceConfig,
        policy: &UsagePolicy,
    ) -> Result<SnapshotPayload, CollectError> {
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(CollectError::Other {
                source_name: source.name.clone(),
                message: "Humaans is down (test)".into(),
            });
        }
        let n = self.made.fetch_add(1, Ordering::SeqCst) + 1;
        let mut made = payload(&source.name, policy, n);
        if let Some(section) = self.licences.lock().unwrap().clone() {
            made.schema = seatbroker_protocol::SCHEMA_LICENCES;
            made.licences = Some(section);
        }
        Ok(made)
    }

    async fn tenant(&self, _source: &SourceConfig) -> Result<Tenant, CollectError> {
        Ok(Tenant {
            kind: SourceKind::Humaans,
            id: "company-1".into(),
            name: "Acme Ltd".into(),
        })
    }
}

pub(crate) fn payload(source: &str, policy: &UsagePolicy, n: u64) -> SnapshotPayload {
    SnapshotPayload {
        schema: 1,
        local_source: source.to_owned(),
        collected_at: Utc::now(),
        policy: policy.clone(),
        collection: CollectionInfo {
            tenant_id: "company-1".into(),
            people_seen: n,
            job_roles_seen: 0,
            unparsable_person_ids: vec![],
            private_access: true,
            duration_ms: 1,
            agent_version: "test".into(),
        },
        summary: Summary {
            as_of: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            counts: StateCounts::default(),
            inactive_reasons: InactiveReasonCounts::default(),
            billable: 0,
            in_use: 0,
            utilisation: None,
            pre_hires_starting_soon: 0,
            recent_leavers: 0,
            departments: vec![],
            findings: BTreeMap::new(),
        },
        seats: vec![],
        findings: vec![],
        licences: None,
    }
}

/// A platform, a state directory and an agent service wired to them.
pub(crate) struct Harness {
    pub(crate) server: ServerGuard,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) service: Service<FakeCollector>,
    pub(crate) collector: FakeCollector,
    pub(crate) events: mpsc::UnboundedReceiver<Event>,
    pub(crate) store: StateStore,
}

pub(crate) fn config_text(url: &str, dir: &Path, sources: &[&str]) -> String {
    let token = dir.join("enrollment-token");
    std::fs::write(&token, "sbe_enroll_token\n").unwrap();
    let humaans = dir.join("humaans-token");
    std::fs::write(&humaans, "humaans-token\n").unwrap();
    let mut text = format!(
        "platform:\n  url: {url}\n  enrollment_token_file: {}\nsources:\n",
        token.display()
    );
    for name in sources {
        if name.starts_with("m365") {
            // An application source (the fake collector makes its licence snapshots).
            text.push_str(&format!(
                "  - name: {name}\n    kind: entra_id\n    tenant_id: 6f1c2a9e-3b7d-4c1e-9a55-0d2f8e4b7c31\n    \
                 client_id: 11111111-2222-3333-4444-555555555555\n    client_secret_file: {}\n    interval: 1h\n",
                humaans.display()
            ));
            continue;
        }
        text.push_str(&format!(
            "  - name: {name}\n    kind: humaans\n    token_file: {}\n    interval: 1h\n",
            humaans.display()
        ));
    }
    text
}

pub(crate) fn fast_options(events: mpsc::UnboundedSender<Event>) -> ServiceOptions {
    let retry = UplinkRetryPolicy {
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    ServiceOptions {
        upload: UploadSettings {
            part_bytes: 64,
            retry,
        },
        retry,
        poll_floor: Duration::ZERO,
        idle_poll: Duration::from_secs(3600),
        events: Some(events),
    }
}

impl Harness {
    pub(crate) async fn new(sources: &[&str], enrolled: bool) -> Self {
        let server = mockito::Server::new_async().await;
        let dir = tempfile::tempdir().unwrap();
        Self::with(server, dir, sources, enrolled)
    }

    pub(crate) fn with(
        server: ServerGuard,
        dir: tempfile::TempDir,
        sources: &[&str],
        enrolled: bool,
    ) -> Self {
        let text = config_text(&server.url(), dir.path(), sources);
        let config = Config::parse(&text, Path::new("test.yaml")).unwrap();
        let store = StateStore::open(&dir.path().join("state")).unwrap();
        if enrolled {
            store.store_credential(&Secret::new(CREDENTIAL)).unwrap();
        }
        let (tx, events) = mpsc::unbounded_channel();
        let collector = FakeCollector::default();
        let service =
            Service::new(config, store.clone(), collector.clone(), fast_options(tx)).unwrap();
        Self {
            server,
            dir,
            service,
            collector,
            events,
            store,
        }
    }

    /// The platform and the state directory, to "restart" the agent on them.
    pub(crate) fn into_parts(self) -> (ServerGuard, tempfile::TempDir) {
        (self.server, self.dir)
    }

    pub(crate) fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Collects `n` snapshots of `source` into the spool.
    pub(crate) async fn collect(&self, source: &str, n: usize) {
        let config = self.config_source(source);
        for _ in 0..n {
            self.service.collect_once(&config).await.unwrap();
        }
    }

    pub(crate) fn config_source(&self, source: &str) -> SourceConfig {
        let text = config_text(&self.server.url(), self.dir.path(), &[source]);
        Config::parse(&text, Path::new("test.yaml"))
            .unwrap()
            .sources[0]
            .clone()
    }

    pub(crate) async fn round(&self) -> Duration {
        self.service.round(&CancellationToken::new()).await
    }

    pub(crate) fn spooled(&self, source: &str) -> Vec<u64> {
        self.service
            .spool()
            .pending(source)
            .unwrap()
            .into_iter()
            .map(|e| e.sequence)
            .collect()
    }

    pub(crate) fn drain_events(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            out.push(event);
        }
        out
    }

    /// `GET status` answering `agent_state` and `(name, state, source_id)` per source.
    pub(crate) async fn status(
        &mut self,
        agent_state: &str,
        sources: &[(&str, &str, &str)],
    ) -> Mock {
        let body = status_body(agent_state, sources);
        self.server
            .mock("GET", "/api/agent/v1/status")
            .match_header("authorization", format!("Bearer {CREDENTIAL}").as_str())
            .match_header("seatbroker-protocol", "1")
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(body.to_string())
            .create_async()
            .await
    }

    pub(crate) async fn heartbeat(&mut self) -> Mock {
        self.server
            .mock("POST", "/api/agent/v1/heartbeat")
            .match_header("authorization", format!("Bearer {CREDENTIAL}").as_str())
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(json!({"received_at": Utc::now(), "poll_after_secs": 60}).to_string())
            .create_async()
            .await
    }

    /// `PUT` of any part answering an applied acknowledgement.
    pub(crate) async fn accept_parts(&mut self, body: Matcher) -> Mock {
        self.server
            .mock(
                "PUT",
                Matcher::Regex(r"^/api/agent/v1/snapshots/[0-9a-f]{32}/parts/\d+$".into()),
            )
            .match_header("authorization", format!("Bearer {CREDENTIAL}").as_str())
            .match_header("seatbroker-protocol", "1")
            .match_body(body)
            .expect_at_least(1)
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body_from_request(|request| {
                let part: serde_json::Value =
                    serde_json::from_slice(request.body().unwrap()).unwrap();
                let last = part["part"] == part["part_count"];
                json!({
                    "snapshot_id": part["snapshot_id"],
                    "part": part["part"],
                    "outcome": "accepted",
                    "parts_received": part["part"],
                    "part_count": part["part_count"],
                    "snapshot_applied": last,
                })
                .to_string()
                .into_bytes()
            })
            .create_async()
            .await
    }

    /// `PUT` of any part refused with `status` and problem `code`.
    pub(crate) async fn refuse_parts(&mut self, status: usize, code: &str) -> Mock {
        self.server
            .mock("PUT", Matcher::Regex(r"^/api/agent/v1/snapshots/".into()))
            .with_status(status)
            .with_header("content-type", "application/problem+json")
            .with_body(problem(status, code).to_string())
            .create_async()
            .await
    }
}

pub(crate) fn status_body(agent_state: &str, sources: &[(&str, &str, &str)]) -> serde_json::Value {
    json!({
        "agent_id": "agent1",
        "state": agent_state,
        "poll_after_secs": 30,
        "sources": sources.iter().map(|(name, state, id)| {
            let mut s = json!({"local_name": name, "state": state, "source_id": id});
            if *state == "merged" {
                s["merged_into"] = json!(id);
            }
            s
        }).collect::<Vec<_>>(),
    })
}

pub(crate) fn problem(status: usize, code: &str) -> serde_json::Value {
    json!({
        "type": "about:blank",
        "title": "Refused",
        "status": status,
        "code": code,
        "detail": format!("test refusal {code}"),
    })
}

fn uploaded(events: &[Event]) -> Vec<(String, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Uploaded { source, sequence } => Some((source.clone(), *sequence)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn pending_agent_keeps_its_spool_and_still_sends_heartbeats() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 2).await;
    let status = h.status("pending", &[("acme", "pending", "src_1")]).await;
    let heartbeat = h.heartbeat().await;
    let put = h.accept_parts(Matcher::Any).await.expect(0);
    h.round().await;
    status.assert_async().await;
    heartbeat.assert_async().await;
    put.assert_async().await;
    assert_eq!(h.spooled("acme"), vec![1, 2]);
    let state = h.store.load().unwrap();
    assert_eq!(state.agent_state, Some(AgentState::Pending));
    assert_eq!(state.sources["acme"].state, Some(SourceState::Pending));
}

#[tokio::test]
async fn approved_source_uploads_its_backlog_oldest_first_then_empties_the_spool() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 3).await;
    h.status("approved", &[("acme", "approved", "src_1")]).await;
    let heartbeat = h.heartbeat().await;
    let put = h
        .accept_parts(Matcher::PartialJson(
            json!({"source_id": "src_1", "encoding": "gzip+json"}),
        ))
        .await;
    let wait = h.round().await;
    put.assert_async().await;
    heartbeat.assert_async().await;
    assert!(h.spooled("acme").is_empty());
    assert_eq!(
        uploaded(&h.drain_events()),
        vec![("acme".into(), 1), ("acme".into(), 2), ("acme".into(), 3)]
    );
    // The platform's poll hint (30 s) spread by at most 10 %.
    assert!(
        wait >= Duration::from_secs(27) && wait <= Duration::from_secs(33),
        "{wait:?}"
    );
    assert!(
        h.store.load().unwrap().sources["acme"]
            .last_upload_at
            .is_some()
    );
}

#[tokio::test]
async fn parts_reassemble_into_the_collected_payload() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 1).await;
    h.status("approved", &[("acme", "approved", "src_1")]).await;
    h.heartbeat().await;
    let received: Received = Arc::default();
    record_parts(&mut h, &received).await;
    h.round().await;
    let parts = received.lock().unwrap().clone();
    assert!(parts.len() > 1, "64-byte parts: the snapshot needs several");
    let chunks: Vec<Vec<u8>> = parts.iter().map(|p| p.chunk().unwrap()).collect();
    let payload = seatbroker_protocol::decode_parts(&chunks, &parts[0].snapshot_checksum).unwrap();
    assert_eq!(payload.local_source, "acme");
    assert_eq!(payload.collection.people_seen, 1);
    assert!(
        parts
            .iter()
            .all(|p| p.sequence == 1 && p.source_id == "src_1")
    );
    assert!(
        parts
            .iter()
            .enumerate()
            .all(|(i, p)| p.part == i as u32 + 1)
    );
}

#[tokio::test]
async fn merged_source_uploads_to_the_target_source() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 1).await;
    h.status("approved", &[("acme", "merged", "src_old")]).await;
    h.heartbeat().await;
    let put = h
        .accept_parts(Matcher::PartialJson(json!({"source_id": "src_old"})))
        .await;
    h.round().await;
    put.assert_async().await;
    assert!(h.spooled("acme").is_empty());
}

#[tokio::test]
async fn only_approved_sources_upload() {
    let mut h = Harness::new(&["acme", "beta"], true).await;
    h.collect("acme", 1).await;
    h.collect("beta", 1).await;
    h.status(
        "approved",
        &[("acme", "approved", "src_1"), ("beta", "pending", "src_2")],
    )
    .await;
    h.heartbeat().await;
    let put = h
        .accept_parts(Matcher::PartialJson(json!({"source_id": "src_1"})))
        .await;
    let other = h
        .accept_parts(Matcher::PartialJson(json!({"source_id": "src_2"})))
        .await
        .expect(0);
    h.round().await;
    put.assert_async().await;
    other.assert_async().await;
    assert!(h.spooled("acme").is_empty());
    assert_eq!(h.spooled("beta"), vec![1]);
}

#[tokio::test]
async fn rejected_source_is_not_uploaded_and_is_marked_refused() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 1).await;
    h.status("approved", &[("acme", "rejected", "src_1")]).await;
    h.heartbeat().await;
    let put = h.accept_parts(Matcher::Any).await.expect(0);
    h.round().await;
    put.assert_async().await;
    assert_eq!(h.spooled("acme"), vec![1], "what is spooled is kept");
    assert!(h.store.load().unwrap().sources["acme"].is_refused());
}

#[tokio::test]
async fn revoked_agent_stops_uploading_keeps_the_spool_and_says_to_enroll() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 1).await;
    let body = json!({"agent_id": "agent1", "state": "revoked", "sources": [],
        "message": "revoked by admin; run `seatbroker-agent enroll`"});
    h.server
        .mock("GET", "/api/agent/v1/status")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(body.to_string())
        .create_async()
        .await;
    let heartbeat = h.heartbeat().await.expect(0);
    let put = h.accept_parts(Matcher::Any).await.expect(0);
    h.round().await;
    heartbeat.assert_async().await;
    put.assert_async().await;
    assert_eq!(h.spooled("acme"), vec![1]);
    assert!(h.drain_events().contains(&Event::Revoked));
    let state = h.store.load().unwrap();
    assert!(state.is_revoked());
    assert!(
        state
            .last_error
            .unwrap()
            .contains("seatbroker-agent enroll")
    );
}

#[tokio::test]
async fn unknown_credential_is_treated_like_revocation() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 1).await;
    h.server
        .mock("GET", "/api/agent/v1/status")
        .with_status(401)
        .with_header("content-type", "application/problem+json")
        .with_body(problem(401, "invalid_credential").to_string())
        .expect(1)
        .create_async()
        .await;
    h.round().await;
    assert!(h.store.load().unwrap().is_revoked());
    assert_eq!(h.spooled("acme"), vec![1]);
}

/// One refusal of the first upload: what happens to the spool and to the next snapshot.
async fn check_refusal(
    status: usize,
    code: &str,
    expect_spool: Vec<u64>,
    expect_event: Option<Event>,
    expect_quarantined: usize,
) {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 2).await;
    h.status("approved", &[("acme", "approved", "src_1")]).await;
    h.heartbeat().await;
    // The first snapshot is refused; the second is accepted if the agent gets that far.
    h.server
        .mock("PUT", Matcher::Any)
        .match_body(Matcher::PartialJson(json!({"sequence": 1})))
        .with_status(status)
        .with_header("content-type", "application/problem+json")
        .with_body(problem(status, code).to_string())
        .create_async()
        .await;
    h.accept_parts(Matcher::PartialJson(json!({"sequence": 2})))
        .await;
    h.round().await;
    assert_eq!(h.spooled("acme"), expect_spool, "{code}: spool");
    let events = h.drain_events();
    if let Some(event) = expect_event {
        assert!(events.contains(&event), "{code}: {events:?}");
    }
    assert_eq!(
        h.service.spool().quarantined().unwrap().len(),
        expect_quarantined,
        "{code}: quarantine"
    );
}

#[tokio::test]
async fn refusals_are_acted_on_by_disposition() {
    let dropped = Some(Event::Dropped {
        source: "acme".into(),
        sequence: 1,
    });
    // Never applicable: drop it, carry on with the next.
    check_refusal(409, "stale_sequence", vec![], dropped.clone(), 0).await;
    check_refusal(409, "snapshot_conflict", vec![], dropped.clone(), 0).await;
    check_refusal(422, "payload_invalid", vec![], dropped, 0).await;
    // Too large for good: set aside for a person, carry on.
    check_refusal(
        413,
        "payload_too_large",
        vec![],
        Some(Event::SetAside {
            source: "acme".into(),
            sequence: 1,
        }),
        1,
    )
    .await;
    // Not approved (yet) or refused for the source: keep everything, stop this source.
    check_refusal(403, "source_pending", vec![1, 2], None, 0).await;
    check_refusal(403, "agent_pending", vec![1, 2], None, 0).await;
    check_refusal(403, "source_rejected", vec![1, 2], None, 0).await;
    check_refusal(403, "source_foreign", vec![1, 2], None, 0).await;
    check_refusal(403, "agent_revoked", vec![1, 2], Some(Event::Revoked), 0).await;
    check_refusal(400, "bad_request", vec![1, 2], None, 0).await;
}

#[tokio::test]
async fn source_rejected_on_upload_stops_the_source() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 1).await;
    h.status("approved", &[("acme", "approved", "src_1")]).await;
    h.heartbeat().await;
    h.refuse_parts(403, "source_revoked").await;
    h.round().await;
    let state = h.store.load().unwrap();
    assert_eq!(state.sources["acme"].state, Some(SourceState::Revoked));
    assert!(state.sources["acme"].is_refused());
}

#[tokio::test]
async fn server_errors_are_retried_until_accepted() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 1).await;
    h.status("approved", &[("acme", "approved", "src_1")]).await;
    h.heartbeat().await;
    let failing = h
        .server
        .mock("PUT", Matcher::Any)
        .with_status(503)
        .with_header("retry-after", "0")
        .with_body("upstream unavailable")
        .expect(3)
        .create_async()
        .await;
    let put = h.accept_parts(Matcher::Any).await;
    h.round().await;
    failing.assert_async().await;
    put.assert_async().await;
    assert!(h.spooled("acme").is_empty());
}

#[tokio::test]
async fn a_part_damaged_every_time_is_given_up_for_the_round_not_retried_for_ever() {
    let mut h = Harness::new(&["acme"], true).await;
    h.collect("acme", 1).await;
    h.status("approved", &[("acme", "approved", "src_1")]).await;
    h.heartbeat().await;
    // First try plus three resends, then the round moves on; the snapshot stays.
    let damaged = h.refuse_parts(422, "checksum_mismatch").await.expect(4);
    h.round().await;
    damaged.assert_async().await;
    assert_eq!(h.spooled("acme").len(), 1);
}

#[tokio::test]
async fn status_is_retried_through_an_outage() {
    let mut h = Harness::new(&["acme"], true).await;
    let down = h
        .server
        .mock("GET", "/api/agent/v1/status")
        .with_status(502)
        .expect(2)
        .create_async()
        .await;
    let up = h.status("pending", &[("acme", "pending", "src_1")]).await;
    h.heartbeat().await;
    h.round().await;
    down.assert_async().await;
    up.assert_async().await;
}

#[tokio::test]
async fn a_round_without_credential_enrolls_with_the_configured_token() {
    let mut h = Harness::new(&["acme"], false).await;
    let install_id = h.store.install_id().unwrap();
    let enroll = h
        .server
        .mock("POST", "/api/agent/v1/enroll")
        .match_header("seatbroker-protocol", "1")
        .match_header("authorization", Matcher::Missing)
        .match_body(Matcher::PartialJson(json!({
            "protocol_version": 1,
            "enrollment_token": "sbe_enroll_token",
            "install_id": install_id,
            "sources": [{"local_name": "acme", "kind": "humaans", "tenant_id": "company-1",
                         "tenant_name": "Acme Ltd", "interval_secs": 3600}],
        })))
        .with_status(201)
        .with_header("content-type", "application/json")
        .with_body(
            json!({"agent_id": "agent1", "agent_credential": CREDENTIAL, "state": "pending",
                   "sources": [{"local_name": "acme", "state": "pending", "source_id": "src_1"}]})
            .to_string(),
        )
        .create_async()
        .await;
    h.status("pending", &[("acme", "pending", "src_1")]).await;
    h.heartbeat().await;
    h.round().await;
    enroll.assert_async().await;
    assert_eq!(h.store.credential().unwrap().unwrap().expose(), CREDENTIAL);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(h.state_dir().join("credential"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(h.drain_events().contains(&Event::Enrolled {
        agent_id: "agent1".into()
    }));
    assert_eq!(
        h.store.install_id().unwrap(),
        install_id,
        "the install id is kept"
    );
}

#[tokio::test]
async fn a_refused_enrollment_token_is_reported_and_nothing_is_stored() {
    let mut h = Harness::new(&["acme"], false).await;
    h.server
        .mock("POST", "/api/agent/v1/enroll")
        .with_status(403)
        .with_header("content-type", "application/problem+json")
        .with_body(problem(403, "enrollment_token_expired").to_string())
        .expect(1)
        .create_async()
        .await;
    h.round().await;
    assert!(h.store.credential().unwrap().is_none());
    let error = h.store.load().unwrap().last_error.unwrap();
    assert!(error.contains("enrollment_token_expired"), "{error}");
}

#[tokio::test]
async fn the_credential_never_appears_in_errors() {
    let mut h = Harness::new(&["acme"], true).await;
    h.server
        .mock("GET", "/api/agent/v1/status")
        .with_status(418)
        .with_body(format!(
            "I echo your header: Bearer {CREDENTIAL}... no, I don't"
        ))
        .create_async()
        .await;
    h.round().await;
    let state = std::fs::read_to_string(h.state_dir().join("state.json")).unwrap();
    assert!(state.contains("HTTP 418"), "{state}");
    // The body is the server's; the agent's own messages never carry the credential.
    let debug = format!("{:?}", h.store.credential().unwrap());
    assert!(!debug.contains("c2VjcmV0"), "{debug}");
}

/// An app source's licence section with the given accounts (id, licence state).
fn licence_section(accounts: &[(&str, LicenceState)]) -> LicenceSnapshot {
    LicenceSnapshot {
        as_of: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        activity_available: true,
        policy: LicencePolicy::default(),
        accounts_total: accounts.len() as u64,
        counts: LicenceStateCounts::default(),
        pools: vec![],
        accounts: accounts
            .iter()
            .map(|(id, state)| AccountRecord {
                account_id: (*id).to_owned(),
                login: Some(format!("{id}@acme.test")),
                email: Some(format!("{id}@acme.test")),
                aliases: vec![],
                enabled: true,
                account_type: AccountType::Member,
                created: None,
                last_activity: None,
                licences: vec![LicenceHeld {
                    pool_id: "sku-e3".into(),
                    assigned: None,
                    state: state.clone(),
                    reason: None,
                    since: None,
                }],
            })
            .collect(),
        unparsable_records: vec![],
        delta: None,
    }
}

type Received = Arc<std::sync::Mutex<Vec<UploadPart>>>;

/// `PUT` of any part, recorded, answering an applied acknowledgement on the last one.
async fn record_parts(h: &mut Harness, sink: &Received) -> Mock {
    let sink = sink.clone();
    h.server
        .mock("PUT", Matcher::Regex("^/api/agent/v1/snapshots/".into()))
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body_from_request(move |request| {
            let part: UploadPart = serde_json::from_slice(request.body().unwrap()).unwrap();
            let applied = part.part == part.part_count;
            let ack = json!({"snapshot_id": part.snapshot_id, "part": part.part, "outcome": "accepted",
                "parts_received": part.part, "part_count": part.part_count, "snapshot_applied": applied});
            sink.lock().unwrap().push(part);
            ack.to_string().into_bytes()
        })
        .create_async()
        .await
}

/// The payloads of the snapshots `sink` received, in order, with their ids.
fn received_payloads(sink: &Received) -> Vec<(String, SnapshotPayload)> {
    let parts = std::mem::take(&mut *sink.lock().unwrap());
    let mut out: Vec<(String, SnapshotPayload)> = Vec::new();
    let mut chunks = Vec::new();
    for part in &parts {
        chunks.push(part.chunk().unwrap());
        if part.part == part.part_count {
            let payload =
                seatbroker_protocol::decode_parts(&chunks, &part.snapshot_checksum).unwrap();
            out.push((part.snapshot_id.clone(), payload));
            chunks.clear();
        }
    }
    out
}

fn ids(section: &LicenceSnapshot) -> Vec<&str> {
    section
        .accounts
        .iter()
        .map(|a| a.account_id.as_str())
        .collect()
}

#[tokio::test]
async fn licence_snapshots_go_as_deltas_against_the_last_applied_one() {
    use LicenceState::{Idle, InUse, NeverUsed};
    let mut h = Harness::new(&["m365"], true).await;
    let mut status = status_body("approved", &[("m365", "approved", "src_1")]);
    status["accepts_licence_deltas"] = json!(true);
    h.server
        .mock("GET", "/api/agent/v1/status")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(status.to_string())
        .create_async()
        .await;
    h.heartbeat().await;
    let sink: Received = Arc::default();
    let put = record_parts(&mut h, &sink).await;
    let first: Vec<(&str, LicenceState)> = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
        .into_iter()
        .map(|id| (id, InUse))
        .collect();
    *h.collector.licences.lock().unwrap() = Some(licence_section(&first));

    // No base yet: the first snapshot goes whole.
    h.collect("m365", 1).await;
    h.round().await;
    let sent = received_payloads(&sink);
    assert_eq!(sent.len(), 1);
    let (first_id, whole) = &sent[0];
    let section = whole.licences.as_ref().unwrap();
    assert!(section.delta.is_none());
    assert_eq!(ids(section).len(), 10);

    // The next one: c idle, d gone, k new. Only those travel, against the first.
    let mut next = first.clone();
    next.retain(|(id, _)| *id != "d");
    next[2].1 = Idle;
    next.push(("k", NeverUsed));
    *h.collector.licences.lock().unwrap() = Some(licence_section(&next));
    h.collect("m365", 1).await;
    h.round().await;
    let sent = received_payloads(&sink);
    let (second_id, delta) = &sent[0];
    let section = delta.licences.as_ref().unwrap();
    assert_eq!(ids(section), ["c", "k"]);
    let meta = section.delta.as_ref().unwrap();
    assert_eq!(&meta.base_snapshot_id, first_id);
    assert_eq!(meta.removed_accounts, ["d"]);
    let whole_next = licence_section(&next);
    assert_eq!(
        meta.accounts_digest,
        digest_text(accounts_digest(
            whole_next.accounts.iter().map(AccountRecord::fingerprint)
        ))
    );
    assert_eq!(section.accounts_total, 10);
    assert!(h.spooled("m365").is_empty());

    // The platform cannot apply the next delta (say its database was restored): the same
    // snapshot goes whole at once, and becomes the base.
    put.remove_async().await;
    let mismatch = h.refuse_parts(409, "base_mismatch").await.expect(1);
    let put = record_parts(&mut h, &sink).await;
    next[0].1 = Idle;
    *h.collector.licences.lock().unwrap() = Some(licence_section(&next));
    h.collect("m365", 1).await;
    h.round().await;
    mismatch.assert_async().await;
    let sent = received_payloads(&sink);
    assert_eq!(sent.len(), 1);
    let (third_id, resent) = &sent[0];
    assert_ne!(third_id, second_id);
    let section = resent.licences.as_ref().unwrap();
    assert!(section.delta.is_none(), "sent whole after base_mismatch");
    assert_eq!(ids(section).len(), 10);
    assert!(h.spooled("m365").is_empty());

    // From there deltas go again, against the snapshot sent whole.
    next[1].1 = Idle;
    *h.collector.licences.lock().unwrap() = Some(licence_section(&next));
    h.collect("m365", 1).await;
    h.round().await;
    let sent = received_payloads(&sink);
    let section = sent[0].1.licences.as_ref().unwrap();
    assert_eq!(ids(section), ["b"]);
    assert_eq!(&section.delta.as_ref().unwrap().base_snapshot_id, third_id);
    drop(put);
}

#[tokio::test]
async fn a_platform_that_does_not_take_deltas_gets_whole_snapshots() {
    let mut h = Harness::new(&["m365"], true).await;
    h.status("approved", &[("m365", "approved", "src_1")]).await;
    h.heartbeat().await;
    let sink: Received = Arc::default();
    let _put = record_parts(&mut h, &sink).await;
    let accounts = [("a", LicenceState::InUse), ("b", LicenceState::InUse)];
    *h.collector.licences.lock().unwrap() = Some(licence_section(&accounts));
    h.collect("m365", 1).await;
    h.round().await;
    h.collect("m365", 1).await;
    h.round().await;
    let sent = received_payloads(&sink);
    assert_eq!(sent.len(), 2);
    for (_, payload) in &sent {
        let section = payload.licences.as_ref().unwrap();
        assert!(section.delta.is_none());
        assert_eq!(ids(section), ["a", "b"]);
    }
}
