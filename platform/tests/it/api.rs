//! The agent API over HTTP: each approval path and each refusal, through a real listener.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use seatbroker_platform::{ApiConfig, AppState, agent_api};
use seatbroker_protocol::{
    EnrollResponse, ErrorCode, HeartbeatAck, PROBLEM_JSON, PROTOCOL_HEADER, Problem, Secret,
    SourceState, StatusResponse, UploadAck, UploadPart, paths,
};
use serde_json::{Value, json};

use crate::{TestDb, enroll_request, parts, payload, people, t0};

/// A platform serving the agent API on a loopback port.
pub(crate) struct Server {
    base: String,
    pub(crate) state: AppState,
    _db: TestDb,
    http: reqwest::Client,
}

impl Server {
    async fn start() -> Server {
        Self::start_with(TestDb::sqlite().await, |_| {}).await
    }

    /// Serves `db` with the API settings `tweak` makes.
    pub(crate) async fn start_with(db: TestDb, tweak: impl FnOnce(&mut ApiConfig)) -> Server {
        let mut state = AppState::new(db.store.clone());
        let mut api = ApiConfig::default();
        tweak(&mut api);
        state.api = std::sync::Arc::new(api);
        let app = agent_api().with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server {
            base,
            state,
            http: reqwest::Client::new(),
            _db: db,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn token(&self) -> Secret {
        self.state
            .store
            .create_enrollment_token("admin", "api test", None, None)
            .await
            .unwrap()
            .token
    }

    /// Enrolls an agent with sources (local name, tenant).
    async fn enroll(&self, sources: &[(&str, &str)]) -> EnrollResponse {
        let token = self.token().await;
        let response = self
            .http
            .post(self.url(paths::ENROLL))
            .header(PROTOCOL_HEADER, "1")
            .json(&enroll_request(&token, sources))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// An approved agent with its one source approved; returns (credential, source id).
    pub(crate) async fn approved(&self) -> (String, String) {
        let enrolled = self.enroll(&[("hr", "acme")]).await;
        let store = &self.state.store;
        store
            .approve_agent("admin", &enrolled.agent_id)
            .await
            .unwrap();
        let source = &enrolled.sources[0].source_id;
        store
            .approve_source_as_new("admin", source, None)
            .await
            .unwrap();
        (
            enrolled.agent_credential.expose().to_owned(),
            source.clone(),
        )
    }

    pub(crate) async fn put(&self, credential: &str, part: &UploadPart) -> reqwest::Response {
        self.http
            .put(self.url(&paths::snapshot_part(&part.snapshot_id, part.part)))
            .bearer_auth(credential)
            .json(part)
            .send()
            .await
            .unwrap()
    }

    async fn status(&self, credential: &str) -> reqwest::Response {
        self.http
            .get(self.url(paths::STATUS))
            .bearer_auth(credential)
            .send()
            .await
            .unwrap()
    }

    async fn heartbeat(&self, credential: &str) -> reqwest::Response {
        self.http
            .post(self.url(paths::HEARTBEAT))
            .bearer_auth(credential)
            .json(&json!({
                "agent_version": "0.1.0",
                "sent_at": t0(),
                "sources": [],
                "spool": {"snapshots": 3, "bytes": 4096},
                "last_error": "humaans answered 503"
            }))
            .send()
            .await
            .unwrap()
    }
}

/// Asserts `response` is a problem with `status` and `code`, and returns it.
pub(crate) async fn check_problem(
    response: reqwest::Response,
    status: u16,
    code: ErrorCode,
) -> Problem {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status for expected {code}"
    );
    assert_eq!(
        response.headers().get(CONTENT_TYPE).unwrap(),
        PROBLEM_JSON,
        "content type for {code}"
    );
    let problem: Problem = response.json().await.unwrap();
    assert_eq!(problem.code, code);
    assert_eq!(problem.status, status);
    assert!(
        problem.detail.as_deref().is_some_and(|d| !d.is_empty()),
        "{code} says what happened"
    );
    problem
}

fn one_part(source: &str, snapshot_id: &str, sequence: u64) -> UploadPart {
    parts(
        &payload("hr", "acme", t0(), people(3)),
        snapshot_id,
        source,
        sequence,
        1 << 20,
    )
    .remove(0)
}

#[tokio::test]
async fn approval_path_from_enrollment_to_applied_snapshot() {
    let server = Server::start().await;
    let enrolled = server.enroll(&[("hr", "acme")]).await;
    assert_eq!(enrolled.state.as_str(), "pending");
    let credential = enrolled.agent_credential.expose().to_owned();
    let source = enrolled.sources[0].source_id.clone();
    assert_eq!(enrolled.sources[0].state, SourceState::Pending);

    let status: StatusResponse = server.status(&credential).await.json().await.unwrap();
    assert_eq!(status.state.as_str(), "pending");
    assert_eq!(status.sources[0].source_id, source);

    // Heartbeats are welcome before approval.
    let ack = server.heartbeat(&credential).await;
    assert_eq!(ack.status(), StatusCode::OK);
    let _: HeartbeatAck = ack.json().await.unwrap();
    let agent = server
        .state
        .store
        .get_agent(&enrolled.agent_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (agent.spool_snapshots, agent.last_error.as_deref()),
        (Some(3), Some("humaans answered 503"))
    );

    let part = one_part(&source, "s1", 1);
    check_problem(
        server.put(&credential, &part).await,
        403,
        ErrorCode::AgentPending,
    )
    .await;
    server
        .state
        .store
        .approve_agent("admin", &enrolled.agent_id)
        .await
        .unwrap();
    check_problem(
        server.put(&credential, &part).await,
        403,
        ErrorCode::SourcePending,
    )
    .await;
    server
        .state
        .store
        .approve_source_as_new("admin", &source, None)
        .await
        .unwrap();

    let status: StatusResponse = server.status(&credential).await.json().await.unwrap();
    assert_eq!(
        (status.state.as_str(), &status.sources[0].state),
        ("approved", &SourceState::Approved)
    );
    let response = server.put(&credential, &part).await;
    assert_eq!(response.status(), StatusCode::OK);
    let ack: UploadAck = response.json().await.unwrap();
    assert_eq!(
        (
            ack.outcome.as_str(),
            ack.parts_received,
            ack.snapshot_applied
        ),
        ("accepted", 1, true)
    );
    // The same part again: acknowledged, nothing applied twice.
    let ack: UploadAck = server.put(&credential, &part).await.json().await.unwrap();
    assert_eq!(
        (ack.outcome.as_str(), ack.snapshot_applied),
        ("already_have", true)
    );
    assert_eq!(server.state.metrics.snapshots_applied(), 1);
    let metrics = server.state.metrics.render_prometheus();
    assert!(
        metrics.contains("seatbroker_refusals_total{code=\"agent_pending\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("seatbroker_requests_by_class_total{route=\"upload\",status=\"2xx\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn merged_source_is_reported_with_its_target() {
    let server = Server::start().await;
    let (old_credential, source) = server.approved().await;
    let ack: UploadAck = server
        .put(&old_credential, &one_part(&source, "old", 1))
        .await
        .json()
        .await
        .unwrap();
    assert!(ack.snapshot_applied);
    let reinstalled = server.enroll(&[("hr", "acme")]).await;
    let store = &server.state.store;
    store
        .approve_agent("admin", &reinstalled.agent_id)
        .await
        .unwrap();
    store
        .approve_and_merge("admin", &reinstalled.sources[0].source_id, &source)
        .await
        .unwrap();
    let credential = reinstalled.agent_credential.expose().to_owned();
    let status: StatusResponse = server.status(&credential).await.json().await.unwrap();
    assert_eq!(status.sources[0].state, SourceState::Merged);
    assert_eq!(status.sources[0].source_id, source);
    assert_eq!(
        status.sources[0].merged_into.as_deref(),
        Some(source.as_str())
    );
    let ack: UploadAck = server
        .put(&credential, &one_part(&source, "new", 1))
        .await
        .json()
        .await
        .unwrap();
    assert!(ack.snapshot_applied);
}

#[tokio::test]
async fn revoked_and_rejected_agents_and_sources() {
    let server = Server::start().await;
    let store = &server.state.store;
    let (credential, source) = server.approved().await;
    let agent_id = store
        .authenticate_agent(&credential)
        .await
        .unwrap()
        .unwrap()
        .id;
    store
        .revoke_agent("admin", &agent_id, Some("machine retired"))
        .await
        .unwrap();
    let response = server.status(&credential).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a revoked agent may read its status"
    );
    let status: StatusResponse = response.json().await.unwrap();
    assert_eq!(status.state.as_str(), "revoked");
    let message = status.message.unwrap();
    assert!(
        message.contains("seatbroker-agent enroll") && message.contains("machine retired"),
        "{message}"
    );
    check_problem(
        server.heartbeat(&credential).await,
        403,
        ErrorCode::AgentRevoked,
    )
    .await;
    check_problem(
        server.put(&credential, &one_part(&source, "r1", 1)).await,
        403,
        ErrorCode::AgentRevoked,
    )
    .await;

    let rejected = server.enroll(&[("hr", "acme")]).await;
    store
        .reject_agent("admin", &rejected.agent_id)
        .await
        .unwrap();
    let part = one_part(&rejected.sources[0].source_id, "r2", 1);
    check_problem(
        server.put(rejected.agent_credential.expose(), &part).await,
        403,
        ErrorCode::AgentRejected,
    )
    .await;

    let partly = server.enroll(&[("hr", "acme")]).await;
    store
        .approve_agent("admin", &partly.agent_id)
        .await
        .unwrap();
    store
        .reject_source("admin", &partly.sources[0].source_id)
        .await
        .unwrap();
    let part = one_part(&partly.sources[0].source_id, "r3", 1);
    check_problem(
        server.put(partly.agent_credential.expose(), &part).await,
        403,
        ErrorCode::SourceRejected,
    )
    .await;

    // Rotation: the old credential is unknown from then on.
    let (credential, _) = server.approved().await;
    let agent_id = store
        .authenticate_agent(&credential)
        .await
        .unwrap()
        .unwrap()
        .id;
    store
        .rotate_agent_credential("admin", &agent_id)
        .await
        .unwrap();
    check_problem(
        server.status(&credential).await,
        401,
        ErrorCode::InvalidCredential,
    )
    .await;
}

#[tokio::test]
async fn enrollment_refusals() {
    let server = Server::start().await;
    let store = &server.state.store;
    let enroll = |body: Value| {
        let request = server.http.post(server.url(paths::ENROLL)).json(&body);
        async move { request.send().await.unwrap() }
    };
    let token = server.token().await;
    let body =
        |token: &Secret| serde_json::to_value(enroll_request(token, &[("hr", "acme")])).unwrap();
    check_problem(
        enroll(body(&Secret::new("sbe_unknown"))).await,
        401,
        ErrorCode::EnrollmentTokenInvalid,
    )
    .await;
    let once = store
        .create_enrollment_token("admin", "once", None, Some(1))
        .await
        .unwrap();
    assert_eq!(
        enroll(body(&once.token)).await.status(),
        StatusCode::CREATED
    );
    check_problem(
        enroll(body(&once.token)).await,
        403,
        ErrorCode::EnrollmentTokenExhausted,
    )
    .await;
    let revoked = store
        .create_enrollment_token("admin", "gone", None, None)
        .await
        .unwrap();
    store
        .revoke_enrollment_token("admin", &revoked.record.id)
        .await
        .unwrap();
    check_problem(
        enroll(body(&revoked.token)).await,
        403,
        ErrorCode::EnrollmentTokenRevoked,
    )
    .await;
    let expired = store
        .create_enrollment_token(
            "admin",
            "old",
            Some(t0() - chrono::Duration::hours(1)),
            None,
        )
        .await
        .unwrap();
    check_problem(
        enroll(body(&expired.token)).await,
        403,
        ErrorCode::EnrollmentTokenExpired,
    )
    .await;

    // Shape problems: (mutation, expected status).
    let cases: Vec<(&str, Value, u16)> = vec![
        ("install id with spaces", json!({"install_id": "a b"}), 422),
        ("empty host", json!({"host_name": ""}), 422),
        (
            "unknown kind",
            json!({"sources": [{"local_name": "x", "kind": "bamboo", "tenant_id": "t"}]}),
            422,
        ),
        (
            "duplicate local names",
            json!({"sources": [
            {"local_name": "x", "kind": "humaans", "tenant_id": "t"},
            {"local_name": "x", "kind": "humaans", "tenant_id": "u"}]}),
            422,
        ),
        ("wrong type", json!({"sources": "many"}), 422),
        ("future protocol", json!({"protocol_version": 7}), 400),
    ];
    for (name, patch, status) in cases {
        let mut request = body(&token);
        for (key, value) in patch.as_object().unwrap() {
            request[key] = value.clone();
        }
        let response = enroll(request).await;
        assert_eq!(response.status().as_u16(), status, "{name}");
        assert_eq!(
            response.headers().get(CONTENT_TYPE).unwrap(),
            PROBLEM_JSON,
            "{name}"
        );
    }
    // None of the refused requests used the token up or created an agent.
    assert_eq!(store.list_agents(None).await.unwrap().len(), 1);
}

/// One malformed or refused upload request and the problem it must get.
struct Case {
    name: &'static str,
    status: u16,
    code: ErrorCode,
}

#[tokio::test]
async fn upload_refusals() {
    let server = Server::start().await;
    let (credential, source) = server.approved().await;
    let (other_credential, other_source) = server.approved().await;
    let body = payload("hr", "acme", t0(), people(50));
    let two = parts(&body, "two", &source, 2, 400);
    assert!(two.len() >= 2);
    assert_eq!(
        server.put(&credential, &two[0]).await.status(),
        StatusCode::OK
    );

    let put_raw = |path: String,
                   auth: Option<&str>,
                   content_type: Option<&str>,
                   headers: Vec<(&'static str, &'static str)>,
                   body: Vec<u8>| {
        let mut request = server.http.put(server.url(&path)).body(body);
        if let Some(auth) = auth {
            request = request.bearer_auth(auth);
        }
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { request.send().await.unwrap() }
    };
    let path = |part: &UploadPart| paths::snapshot_part(&part.snapshot_id, part.part);
    let json_of = |part: &UploadPart| serde_json::to_vec(part).unwrap();
    let check = |case: Case, response: reqwest::Response| async move {
        let problem = check_problem(response, case.status, case.code.clone()).await;
        assert!(
            problem.action.is_some() || case.status == 400,
            "{}: says what to do",
            case.name
        );
    };
    let cred = Some(credential.as_str());
    let json_type = Some("application/json");

    let good = one_part(&source, "good", 3);
    check(
        Case {
            name: "no credential",
            status: 401,
            code: ErrorCode::Unauthenticated,
        },
        put_raw(path(&good), None, json_type, vec![], json_of(&good)).await,
    )
    .await;
    check(
        Case {
            name: "unknown credential",
            status: 401,
            code: ErrorCode::InvalidCredential,
        },
        put_raw(
            path(&good),
            Some("sbk_nope_nope"),
            json_type,
            vec![],
            json_of(&good),
        )
        .await,
    )
    .await;
    check(
        Case {
            name: "protocol too new",
            status: 400,
            code: ErrorCode::ProtocolTooNew,
        },
        put_raw(
            path(&good),
            cred,
            json_type,
            vec![(PROTOCOL_HEADER, "99")],
            json_of(&good),
        )
        .await,
    )
    .await;
    check(
        Case {
            name: "protocol too old",
            status: 400,
            code: ErrorCode::ProtocolTooOld,
        },
        put_raw(
            path(&good),
            cred,
            json_type,
            vec![(PROTOCOL_HEADER, "0")],
            json_of(&good),
        )
        .await,
    )
    .await;
    check(
        Case {
            name: "protocol not a number",
            status: 400,
            code: ErrorCode::BadRequest,
        },
        put_raw(
            path(&good),
            cred,
            json_type,
            vec![(PROTOCOL_HEADER, "one")],
            json_of(&good),
        )
        .await,
    )
    .await;
    check(
        Case {
            name: "malformed JSON",
            status: 400,
            code: ErrorCode::BadRequest,
        },
        put_raw(
            path(&good),
            cred,
            json_type,
            vec![],
            b"{\"snapshot_id\": ".to_vec(),
        )
        .await,
    )
    .await;
    let mut wrong_types = serde_json::to_value(&good).unwrap();
    wrong_types["sequence"] = json!("three");
    check(
        Case {
            name: "wrong types",
            status: 422,
            code: ErrorCode::BadRequest,
        },
        put_raw(
            path(&good),
            cred,
            json_type,
            vec![],
            serde_json::to_vec(&wrong_types).unwrap(),
        )
        .await,
    )
    .await;
    check(
        Case {
            name: "no content type",
            status: 415,
            code: ErrorCode::UnsupportedMediaType,
        },
        put_raw(path(&good), cred, None, vec![], json_of(&good)).await,
    )
    .await;
    check(
        Case {
            name: "oversize",
            status: 413,
            code: ErrorCode::PayloadTooLarge,
        },
        put_raw(
            path(&good),
            cred,
            json_type,
            vec![],
            vec![b' '; 3 * 1024 * 1024],
        )
        .await,
    )
    .await;
    check(
        Case {
            name: "non-numeric part",
            status: 400,
            code: ErrorCode::BadRequest,
        },
        put_raw(
            "/api/agent/v1/snapshots/good/parts/one".to_owned(),
            cred,
            json_type,
            vec![],
            json_of(&good),
        )
        .await,
    )
    .await;
    check(
        Case {
            name: "path and body disagree",
            status: 400,
            code: ErrorCode::BadRequest,
        },
        put_raw(
            paths::snapshot_part("elsewhere", 1),
            cred,
            json_type,
            vec![],
            json_of(&good),
        )
        .await,
    )
    .await;

    let mutated = |f: &dyn Fn(&mut UploadPart)| {
        let mut part = good.clone();
        f(&mut part);
        part
    };
    let cases: Vec<(Case, UploadPart)> = vec![
        (
            Case {
                name: "bad part checksum",
                status: 422,
                code: ErrorCode::ChecksumMismatch,
            },
            mutated(&|p| p.part_checksum = seatbroker_protocol::checksum(b"other")),
        ),
        (
            Case {
                name: "bad base64",
                status: 400,
                code: ErrorCode::BadRequest,
            },
            mutated(&|p| p.payload = "!!!".to_owned()),
        ),
        (
            Case {
                name: "part beyond count",
                status: 422,
                code: ErrorCode::PartOutOfRange,
            },
            mutated(&|p| {
                p.part = 2;
            }),
        ),
        (
            Case {
                name: "part zero",
                status: 422,
                code: ErrorCode::PartOutOfRange,
            },
            mutated(&|p| {
                p.part = 0;
            }),
        ),
        (
            Case {
                name: "too many parts",
                status: 422,
                code: ErrorCode::PartOutOfRange,
            },
            mutated(&|p| {
                p.part_count = 5000;
            }),
        ),
        (
            Case {
                name: "foreign source",
                status: 403,
                code: ErrorCode::SourceForeign,
            },
            mutated(&|p| p.source_id = other_source.clone()),
        ),
        (
            Case {
                name: "unknown source",
                status: 403,
                code: ErrorCode::SourceForeign,
            },
            mutated(&|p| p.source_id = "nonexistent".to_owned()),
        ),
        (
            Case {
                name: "same id, other metadata",
                status: 409,
                code: ErrorCode::SnapshotConflict,
            },
            {
                let mut p = two[0].clone();
                p.sequence = 9;
                p
            },
        ),
        (
            Case {
                name: "unknown encoding",
                status: 422,
                code: ErrorCode::PayloadInvalid,
            },
            mutated(&|p| {
                p.encoding = seatbroker_protocol::PayloadEncoding::Other("zstd".to_owned())
            }),
        ),
    ];
    for (case, part) in cases {
        check(
            case,
            put_raw(path(&part), cred, json_type, vec![], json_of(&part)).await,
        )
        .await;
    }
    // Another agent reusing a snapshot id.
    let mut stolen = two[0].clone();
    stolen.source_id = other_source.clone();
    check(
        Case {
            name: "id of another agent",
            status: 409,
            code: ErrorCode::SnapshotConflict,
        },
        server.put(&other_credential, &stolen).await,
    )
    .await;

    // Finish `two`, then an older sequence is stale; a broken payload is invalid.
    for part in &two[1..] {
        assert_eq!(server.put(&credential, part).await.status(), StatusCode::OK);
    }
    check(
        Case {
            name: "stale",
            status: 409,
            code: ErrorCode::StaleSequence,
        },
        server
            .put(&credential, &one_part(&source, "older", 1))
            .await,
    )
    .await;
    let wrong_source = parts(
        &payload("elsewhere", "acme", t0(), people(2)),
        "invalid",
        &source,
        5,
        1 << 20,
    )
    .remove(0);
    check(
        Case {
            name: "payload for another local source",
            status: 422,
            code: ErrorCode::PayloadInvalid,
        },
        server.put(&credential, &wrong_source).await,
    )
    .await;
    let mut nul_people = people(2);
    nul_people[1].department = Some("Sales\0".to_owned());
    let with_nul = parts(
        &payload("hr", "acme", t0(), nul_people),
        "nulbyte",
        &source,
        6,
        1 << 20,
    )
    .remove(0);
    check(
        Case {
            name: "NUL in a text field",
            status: 422,
            code: ErrorCode::PayloadInvalid,
        },
        server.put(&credential, &with_nul).await,
    )
    .await;

    // Nothing refused was stored: only `two` (applied) is known.
    assert_eq!(
        server
            .state
            .store
            .snapshot_state("two")
            .await
            .unwrap()
            .as_deref(),
        Some("applied")
    );
    for id in ["good", "older", "invalid"] {
        assert_eq!(
            server.state.store.snapshot_state(id).await.unwrap(),
            None,
            "{id}"
        );
    }
    assert!(server.state.metrics.refusals(&ErrorCode::SnapshotConflict) >= 2);
}

#[tokio::test]
async fn database_outage_is_503_with_retry_after() {
    let server = Server::start().await;
    let (credential, _) = server.approved().await;
    server.state.store.close().await;
    let response = server.status(&credential).await;
    let problem = {
        assert_eq!(response.headers().get(RETRY_AFTER).unwrap(), "5");
        check_problem(response, 503, ErrorCode::Internal).await
    };
    assert!(problem.detail.unwrap().contains("database"));
}
