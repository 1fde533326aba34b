//! The console through HTTP: a real listener, a client that keeps cookies by hand, and the
//! agent API to feed it data. Covers login → approve → report, CSRF, roles, login rate
//! limits (shared between two platform processes), report JSON and CSV export.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use chrono::Duration;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use seatbroker_platform::{
    AppState, LOGIN_WINDOW, MAX_FAILURES_PER_IP, MAX_FAILURES_PER_USERNAME, Role, SESSION_LIFETIME,
    SessionUser, Store, WebSettings, app, hash_password,
};
use seatbroker_protocol::{EnrollResponse, SeatRecord, SeatState, Secret, UploadAck};
use tokio_util::sync::CancellationToken;

use crate::{TestDb, date, enroll_request, parts, payload, seat, t0};

pub(crate) const ADMIN_PASSWORD: &str = "admin password 123";
pub(crate) const VIEWER_PASSWORD: &str = "viewer password 456";

/// Argon2id hashes, computed once per test binary (they are deliberately slow).
fn hash_of(password: &str) -> String {
    static HASHES: OnceLock<(String, String)> = OnceLock::new();
    let (admin, viewer) = HASHES.get_or_init(|| {
        (
            hash_password(ADMIN_PASSWORD).unwrap(),
            hash_password(VIEWER_PASSWORD).unwrap(),
        )
    });
    if password == ADMIN_PASSWORD {
        admin.clone()
    } else {
        viewer.clone()
    }
}

/// Creates `alice` (admin) and `victor` (viewer).
pub(crate) async fn create_users(store: &Store) {
    store
        .upsert_user("test", "alice", Role::Admin, &hash_of(ADMIN_PASSWORD))
        .await
        .unwrap();
    store
        .upsert_user("test", "victor", Role::Viewer, &hash_of(VIEWER_PASSWORD))
        .await
        .unwrap();
}

/// One platform process serving `store` on 127.0.0.1; stops when dropped.
pub(crate) struct Platform {
    pub(crate) url: String,
    shutdown: CancellationToken,
}

impl Platform {
    pub(crate) async fn start(store: Store) -> Platform {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = app(AppState::new(store), WebSettings::default());
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { signal.cancelled().await })
            .await
            .unwrap();
        });
        Platform { url, shutdown }
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A console user's browser: keeps cookies by hand, follows no redirects.
pub(crate) struct Session {
    base: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

impl Session {
    pub(crate) fn new(base: &str) -> Session {
        Session {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    /// The same cookies against another platform process.
    pub(crate) fn on(&self, base: &str) -> Session {
        Session {
            base: base.to_owned(),
            http: self.http.clone(),
            cookies: self.cookies.clone(),
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let (name, val) = pair.split_once('=').unwrap();
            assert!(
                attributes.contains("HttpOnly"),
                "cookie without HttpOnly: {value}"
            );
            assert!(
                attributes.contains("SameSite=Strict"),
                "cookie without SameSite=Strict: {value}"
            );
            if val.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), val.to_owned());
            }
        }
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    pub(crate) async fn get_json(&mut self, path: &str) -> (StatusCode, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .unwrap();
        let page = self.finish(response).await;
        (
            page.status,
            serde_json::from_str(&page.body).unwrap_or(serde_json::Value::Null),
        )
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode_form(form))
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    /// Posts an admin form with the session's CSRF token (read from any page).
    pub(crate) async fn act(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.csrf().await;
        let mut full = vec![("csrf", csrf.as_str())];
        full.extend_from_slice(form);
        self.post(path, &full).await
    }

    /// The session's CSRF token, from the logout form on the overview page.
    pub(crate) async fn csrf(&mut self) -> String {
        let page = self.get("/").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        hidden_value(&page.body, "csrf")
    }

    /// Logs in through the form; returns the login response.
    pub(crate) async fn login(&mut self, username: &str, password: &str) -> Page {
        let page = self.get("/login").await;
        let csrf = hidden_value(&page.body, "csrf");
        self.post(
            "/login",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    pub(crate) async fn login_ok(&mut self, username: &str, password: &str) {
        let page = self.login(username, password).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "login failed: {}",
            page.body
        );
        assert_eq!(page.location(), "/");
    }
}

fn encode_form(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{k}={}", seatbroker_platform_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn seatbroker_platform_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The value of the first hidden input named `name`.
pub(crate) fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// An enrolled agent with its credential, talking to the agent API.
pub(crate) struct Agent {
    pub(crate) enrolled: EnrollResponse,
    tenant: String,
    http: reqwest::Client,
}

impl Agent {
    pub(crate) async fn enroll(base: &str, token: &str, sources: &[(&str, &str)]) -> Agent {
        let http = reqwest::Client::new();
        let request = enroll_request(&Secret::new(token), sources);
        let response = http
            .post(format!("{base}/api/agent/v1/enroll"))
            .header("seatbroker-protocol", "1")
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        Agent {
            enrolled: response.json().await.unwrap(),
            tenant: sources[0].1.to_owned(),
            http,
        }
    }

    pub(crate) fn source_id(&self, n: usize) -> String {
        self.enrolled.sources[n].source_id.clone()
    }

    /// Uploads `seats` as one snapshot, alternating parts between `bases`.
    pub(crate) async fn upload(
        &self,
        bases: &[&str],
        source_id: &str,
        snapshot_id: &str,
        sequence: u64,
        collected_at: chrono::DateTime<chrono::Utc>,
        seats: Vec<SeatRecord>,
    ) -> UploadAck {
        let payload = payload("main", &self.tenant, collected_at, seats);
        self.upload_payload(bases, source_id, snapshot_id, sequence, &payload)
            .await
    }

    /// Uploads `payload` as one snapshot, alternating parts between `bases`.
    pub(crate) async fn upload_payload(
        &self,
        bases: &[&str],
        source_id: &str,
        snapshot_id: &str,
        sequence: u64,
        payload: &seatbroker_protocol::SnapshotPayload,
    ) -> UploadAck {
        let mut last = None;
        for (i, part) in parts(payload, snapshot_id, source_id, sequence, 600)
            .iter()
            .enumerate()
        {
            let base = bases[i % bases.len()];
            let response = self
                .http
                .put(format!(
                    "{base}/api/agent/v1/snapshots/{snapshot_id}/parts/{}",
                    part.part
                ))
                .header("seatbroker-protocol", "1")
                .bearer_auth(self.enrolled.agent_credential.expose())
                .json(part)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            assert_eq!(status, StatusCode::OK, "part {}: {body}", part.part);
            last = Some(serde_json::from_str::<UploadAck>(&body).unwrap());
        }
        last.unwrap()
    }
}

/// People with awkward data for the inactive-seats report and the CSV export.
pub(crate) fn company() -> Vec<SeatRecord> {
    let mut boss = seat("boss", SeatState::Active);
    boss.name = Some("Bea Boss".into());
    let mut ghost = seat("ghost", SeatState::Inactive);
    ghost.name = Some("O'Neil, \"Ghost\"".into());
    ghost.work_email = Some("ghost@example.com".into());
    ghost.department = Some("=SUM(A1)".into());
    ghost.manager_id = Some("boss".into());
    ghost.since = Some(date("2025-03-01"));
    let mut gone = seat("gone", SeatState::Inactive);
    gone.name = Some("Gone Person".into());
    gone.reason = Some(seatbroker_protocol::SeatReason::EndedNotOffboarded);
    gone.since = Some(date("2025-05-01"));
    gone.department = Some("Sales".into());
    let mut leaver = seat("leaver", SeatState::Leaving);
    leaver.since = Some(date("2025-06-20"));
    vec![
        boss,
        ghost,
        gone,
        leaver,
        seat("a1", SeatState::Active),
        seat("new", SeatState::PreHire),
    ]
}

/// Admin creates a token in the console; the token text shows once.
pub(crate) async fn create_token(admin: &mut Session) -> String {
    let page = admin
        .act(
            "/tokens",
            &[
                ("label", "test agent"),
                ("expires_hours", "24"),
                ("max_uses", "5"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let marker = "id=\"new-token\">";
    let start = page.body.find(marker).expect("token shown once") + marker.len();
    page.body[start..]
        .split('<')
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_approve_and_report() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let mut admin = Session::new(&platform.url);

    // Not logged in: pages redirect to the login page, JSON answers 401.
    let page = admin.get("/seats").await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/login?next=%2Fseats")
    );
    let (status, body) = admin.get_json("/api/v1/reports/overview").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthenticated");

    admin.login_ok("alice", ADMIN_PASSWORD).await;
    let token = create_token(&mut admin).await;
    assert!(token.starts_with("sbe_"), "{token}");
    // Shown once: the list does not show it again.
    assert!(!admin.get("/tokens").await.body.contains(&token));

    let agent = Agent::enroll(&platform.url, &token, &[("main", "tenant-1")]).await;
    let agent_id = agent.enrolled.agent_id.clone();
    let link_id = agent.source_id(0);

    let approvals = admin.get("/approvals").await;
    assert!(
        approvals.body.contains(&format!("id=\"agent-{agent_id}\"")),
        "{}",
        approvals.body
    );
    let page = admin
        .act(&format!("/approvals/agents/{agent_id}/approve"), &[])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = admin
        .act(&format!("/approvals/sources/{link_id}/approve"), &[])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(
        admin
            .get(page.location())
            .await
            .body
            .contains("Source approved as a new source")
    );

    let ack = agent
        .upload(
            &[&platform.url],
            &link_id,
            &"a".repeat(32),
            1,
            t0(),
            company(),
        )
        .await;
    assert!(ack.snapshot_applied);

    // Overview, as JSON on the page URL and on the API URL.
    let (status, overview) = admin.get_json("/").await;
    assert_eq!(status, StatusCode::OK);
    let (_, api_overview) = admin.get_json("/api/v1/reports/overview").await;
    assert_eq!(overview, api_overview);
    let row = &overview[0];
    assert_eq!(row["source_id"], link_id.as_str());
    assert_eq!(row["billable"], 5);
    assert_eq!(row["in_use"], 3);
    assert_eq!(row["inactive"], 2);
    assert_eq!(
        row["inactive_never_verified"], 1,
        "ghost, by the heuristic alone"
    );
    assert_eq!(row["pre_hires"], 1);
    assert_eq!(row["health"], "healthy");
    let page = admin.get("/").await.body;
    assert!(page.contains("1 never verified*"), "{page}");
    assert!(
        page.contains("only the never-verified rule makes inactive (heuristic: the person has not accepted the Humaans invitation and signed in"),
        "the overview explains the heuristic: {page}"
    );

    // Inactive seats: longest inactive first; manager name resolved.
    let page = admin.get("/seats").await;
    assert_eq!(page.status, StatusCode::OK);
    let ghost = page
        .body
        .find("O&#39;Neil, &#34;Ghost&#34;")
        .expect("ghost listed (escaped)");
    let gone = page.body.find("Gone Person").expect("gone listed");
    assert!(ghost < gone, "sorted by days, longest first");
    assert!(page.body.contains("Bea Boss"));
    assert!(
        !page.body.contains("leaver@example.com"),
        "leaving is not inactive"
    );
    assert!(
        page.body.contains("Reason <strong>never signed in to Humaans</strong> (<code>never_verified</code>) is a heuristic: the person has not accepted the Humaans invitation and signed in"),
        "the seats page explains never_verified: {}",
        page.body
    );
    let page = admin.get("/seats?reason=ended_not_offboarded").await;
    assert!(
        !page.body.contains("never-verified-note"),
        "no note without never_verified rows"
    );
    let (_, seats) = admin
        .get_json("/api/v1/reports/inactive-seats?reason=ended_not_offboarded")
        .await;
    assert_eq!(seats["total"], 1);
    assert_eq!(seats["rows"][0]["person_id"], "gone");
    assert_eq!(seats["rows"][0]["days"], 32);
    let (_, seats) = admin
        .get_json("/api/v1/reports/inactive-seats?state=all&sort=person&dir=asc")
        .await;
    let names: Vec<_> = seats["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["person_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["gone", "ghost", "leaver", "new"],
        "by name: Gone, O'Neil, Person leaver, Person new"
    );
    let (_, seats) = admin
        .get_json("/api/v1/reports/inactive-seats?manager=boss")
        .await;
    assert_eq!(seats["total"], 1);

    // CSV export: quoted, formula defused.
    let csv = admin.get("/seats.csv?sort=person&dir=asc").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = csv.body.split("\r\n").collect();
    assert!(lines[0].starts_with("person,work_email,department,"));
    assert_eq!(
        lines.len(),
        4,
        "header, two rows, trailing empty: {lines:?}"
    );
    assert!(
        lines[2].starts_with("\"O'Neil, \"\"Ghost\"\"\",ghost@example.com,\"'=SUM(A1)\",Engineer,Bea Boss,inactive,never_verified,2025-03-01,93,"),
        "{}",
        lines[2]
    );
    assert!(
        lines[0].ends_with(",source_stale,reason_note,app_activity"),
        "{}",
        lines[0]
    );
    assert!(
        lines[2].ends_with(",false,\"heuristic: the person has not accepted the Humaans invitation and signed in within the grace period after starting (30 days unless the agent's policy says otherwise); Humaans does not define the flag, and someone who works without signing in to Humaans still uses their other seats\","),
        "{}",
        lines[2]
    );
    assert!(
        lines[1].ends_with(",false,,"),
        "no note on other reasons: {}",
        lines[1]
    );

    // Trends, departments, data quality, sources: HTML and JSON.
    let (_, trends) = admin.get_json("/api/v1/reports/trends?months=3").await;
    assert_eq!(trends["days"].as_array().unwrap().len(), 1);
    assert_eq!(trends["days"][0]["inactive"], 2);
    assert!(admin.get("/trends?months=6").await.body.contains("<svg"));
    let trend_csv = admin.get("/trends.csv").await.body;
    assert!(
        trend_csv.starts_with("day,active,leaving,inactive"),
        "{trend_csv}"
    );
    assert!(
        trend_csv.contains("2025-06-02,2,1,2,1,0,0,5,3"),
        "{trend_csv}"
    );
    let (_, departments) = admin.get_json("/api/v1/reports/departments").await;
    let sales = departments
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["department"] == "Sales")
        .unwrap();
    assert_eq!(sales["inactive"], 1);
    let (_, quality) = admin.get_json("/api/v1/reports/data-quality").await;
    assert_eq!(quality["counts"][0]["kind"], "no_manager");
    assert!(admin.get("/data-quality").await.body.contains("no_manager"));
    let (_, sources) = admin.get_json("/api/v1/reports/sources").await;
    assert_eq!(sources["agents"][0]["agent_id"], agent_id.as_str());
    assert_eq!(sources["agents"][0]["state"], "approved");
    for path in [
        "/",
        "/departments",
        "/sources",
        "/audit",
        "/users",
        "/approvals",
    ] {
        assert_eq!(admin.get(path).await.status, StatusCode::OK, "{path}");
    }

    // Every admin action is in the audit log.
    let audit = admin.get("/audit").await.body;
    for action in ["token.create", "agent.approve", "user.create"] {
        assert!(
            audit.contains(action),
            "{action} missing from the audit log"
        );
    }
    assert!(audit.contains("alice"));

    // Logout ends the session in the database: the old cookie no longer works.
    let stolen = admin.on(&platform.url);
    let page = admin.act("/logout", &[]).await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/login")
    );
    let mut stolen = stolen;
    assert_eq!(stolen.get("/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_source_is_shown_as_stale_not_as_inactive() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let mut admin = Session::new(&platform.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;
    let token = create_token(&mut admin).await;
    let agent = Agent::enroll(&platform.url, &token, &[("main", "tenant-1")]).await;
    admin
        .act(
            &format!("/approvals/agents/{}/approve", agent.enrolled.agent_id),
            &[],
        )
        .await;
    admin
        .act(
            &format!("/approvals/sources/{}/approve", agent.source_id(0)),
            &[],
        )
        .await;
    agent
        .upload(
            &[&platform.url],
            &agent.source_id(0),
            &"b".repeat(32),
            1,
            t0(),
            company(),
        )
        .await;

    // Interval 1 h: 2 h later it is still healthy, 3 h later stale.
    db.clock.set(t0() + Duration::hours(2));
    let (_, overview) = admin.get_json("/api/v1/reports/overview").await;
    assert_eq!(overview[0]["health"], "healthy");
    db.clock.set(t0() + Duration::hours(3));
    let (_, overview) = admin.get_json("/api/v1/reports/overview").await;
    assert_eq!(overview[0]["health"], "stale");
    // The figures are those of the last upload: nobody became inactive.
    assert_eq!(overview[0]["inactive"], 2);
    assert_eq!(overview[0]["in_use"], 3);
    let page = admin.get("/").await.body;
    assert!(page.contains("badge stale"), "{page}");
    let (_, seats) = admin.get_json("/api/v1/reports/inactive-seats").await;
    assert_eq!(seats["total"], 2);
    assert_eq!(seats["rows"][0]["source_stale"], true);
    assert!(!page.contains("badge warn incomplete"), "{page}");

    // A snapshot taken with a token that cannot read private data undercounts: the
    // overview says so, in HTML and JSON.
    let later = t0() + Duration::hours(3);
    let mut blind = payload("main", &agent.tenant, later, company());
    blind.collection.private_access = false;
    agent
        .upload_payload(
            &[&platform.url],
            &agent.source_id(0),
            &"c".repeat(32),
            2,
            &blind,
        )
        .await;
    let (_, overview) = admin.get_json("/api/v1/reports/overview").await;
    assert_eq!(overview[0]["private_access"], false);
    let page = admin.get("/").await.body;
    assert!(page.contains("badge warn incomplete"), "{page}");
    assert!(page.contains("View public and private data"), "{page}");

    // Absurd page numbers are clamped, never an overflow.
    for path in [
        "/seats?page=9223372036854775807",
        "/api/v1/reports/inactive-seats?page=9223372036854775807",
    ] {
        assert_eq!(admin.get(path).await.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_csrf_token_are_refused() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let mut admin = Session::new(&platform.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;
    let token = create_token(&mut admin).await;
    let agent = Agent::enroll(&platform.url, &token, &[("main", "tenant-1")]).await;
    let approve = format!("/approvals/agents/{}/approve", agent.enrolled.agent_id);

    let check = |page: Page, what: &str| {
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{what}: {}", page.body);
        assert!(
            page.body.contains("security token"),
            "{what}: {}",
            page.body
        );
    };
    check(admin.post(&approve, &[]).await, "no token");
    check(admin.post(&approve, &[("csrf", "")]).await, "empty token");
    check(
        admin.post(&approve, &[("csrf", "forged")]).await,
        "wrong token",
    );
    check(admin.post("/tokens", &[("label", "x")]).await, "token form");
    check(
        admin
            .post(
                "/users",
                &[
                    ("username", "mallory"),
                    ("password", "x".repeat(20).as_str()),
                    ("role", "admin"),
                ],
            )
            .await,
        "user form",
    );
    check(admin.post("/logout", &[]).await, "logout");
    // Nothing happened.
    let (_, agents) = admin.get_json("/api/v1/reports/sources").await;
    assert_eq!(agents["agents"][0]["state"], "pending");
    assert!(!admin.get("/users").await.body.contains("mallory"));

    // Login needs the login form's own token (cookie + field).
    let mut fresh = Session::new(&platform.url);
    let page = fresh
        .post(
            "/login",
            &[("username", "alice"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    // With the token, it works.
    assert_eq!(admin.act(&approve, &[]).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_read_but_cannot_act() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let mut admin = Session::new(&platform.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;
    let token = create_token(&mut admin).await;
    let agent = Agent::enroll(&platform.url, &token, &[("main", "tenant-1")]).await;
    let agent_id = agent.enrolled.agent_id.clone();

    let mut viewer = Session::new(&platform.url);
    viewer.login_ok("victor", VIEWER_PASSWORD).await;
    for path in [
        "/",
        "/seats",
        "/trends",
        "/departments",
        "/data-quality",
        "/sources",
        "/audit",
        "/approvals",
    ] {
        assert_eq!(viewer.get(path).await.status, StatusCode::OK, "{path}");
    }
    let approvals = viewer.get("/approvals").await.body;
    assert!(
        !approvals.contains("Approve agent"),
        "a viewer sees no approve buttons"
    );
    for path in ["/tokens", "/users"] {
        assert_eq!(
            viewer.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let check = |page: Page, what: &str| {
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{what}: {}", page.body);
        assert!(page.body.contains("Only an admin"), "{what}");
    };
    check(
        viewer
            .act(&format!("/approvals/agents/{agent_id}/approve"), &[])
            .await,
        "approve agent",
    );
    check(
        viewer
            .act(
                &format!("/approvals/sources/{}/approve", agent.source_id(0)),
                &[],
            )
            .await,
        "approve source",
    );
    check(
        viewer.act(&format!("/agents/{agent_id}/revoke"), &[]).await,
        "revoke agent",
    );
    check(
        viewer.act("/tokens", &[("label", "sneaky")]).await,
        "create token",
    );
    check(
        viewer
            .act(
                "/users",
                &[
                    ("username", "eve"),
                    ("password", "a long password here"),
                    ("role", "admin"),
                ],
            )
            .await,
        "create user",
    );
    check(
        viewer.act("/users/alice/disable", &[]).await,
        "disable user",
    );
    let (_, agents) = admin.get_json("/api/v1/reports/sources").await;
    assert_eq!(agents["agents"][0]["state"], "pending");

    // Admin manages users: creates one, disables the viewer (who is signed out at once).
    let page = admin
        .act(
            "/users",
            &[
                ("username", "carol"),
                ("password", "carol's password"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        admin.act("/users/victor/disable", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(viewer.get("/").await.status, StatusCode::SEE_OTHER);
    // An admin cannot lock themself out.
    assert_eq!(
        admin.act("/users/alice/disable", &[]).await.status,
        StatusCode::CONFLICT
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_across_processes() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    // Two platform processes on one database: the limit holds on both.
    let one = Platform::start(db.store.clone()).await;
    let two = Platform::start(db.second_process().await).await;

    for attempt in 0..MAX_FAILURES_PER_USERNAME {
        let platform = if attempt % 2 == 0 { &one } else { &two };
        let page = Session::new(&platform.url)
            .login("alice", "wrong password")
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert!(page.body.contains("Wrong username or password"));
    }
    // Now even the right password is refused, on either process.
    for platform in [&one, &two] {
        let page = Session::new(&platform.url)
            .login("alice", ADMIN_PASSWORD)
            .await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
        assert!(page.body.contains("Too many failed logins"));
    }
    // Resetting the password (`admin create`, the Users page) lifts the lock.
    db.store
        .upsert_user("root", "alice", Role::Admin, &hash_of(ADMIN_PASSWORD))
        .await
        .unwrap();
    Session::new(&two.url)
        .login_ok("alice", ADMIN_PASSWORD)
        .await;
    // Another user from the same address still gets in (the address limit is higher).
    Session::new(&one.url)
        .login_ok("victor", VIEWER_PASSWORD)
        .await;
    // After the window, alice can log in again.
    db.clock.set(t0() + LOGIN_WINDOW + Duration::seconds(1));
    Session::new(&two.url)
        .login_ok("alice", ADMIN_PASSWORD)
        .await;

    // Per address: many usernames from one address.
    for n in 0..MAX_FAILURES_PER_IP {
        let page = Session::new(&one.url)
            .login(&format!("nobody{n}"), "guess")
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "attempt {n}");
    }
    let page = Session::new(&two.url)
        .login("victor", VIEWER_PASSWORD)
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_works_on_every_process() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let one = Platform::start(db.store.clone()).await;
    let two = Platform::start(db.second_process().await).await;
    let mut session = Session::new(&one.url);
    session.login_ok("alice", ADMIN_PASSWORD).await;
    let mut elsewhere = session.on(&two.url);
    assert_eq!(elsewhere.get("/").await.status, StatusCode::OK);
    // Sessions expire.
    db.clock.set(t0() + SESSION_LIFETIME + Duration::seconds(1));
    assert_eq!(elsewhere.get("/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_headers() {
    let db = TestDb::sqlite().await;
    let platform = Platform::start(db.store.clone()).await;
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/healthz", platform.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let login = http
        .get(format!("{}/login", platform.url))
        .send()
        .await
        .unwrap();
    let csp = login.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert_eq!(login.headers()[header::X_FRAME_OPTIONS], "DENY");
    let metrics = http
        .get(format!("{}/metrics", platform.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "seatbroker_http_requests_total{route=\"/login\",method=\"GET\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("seatbroker_http_request_duration_seconds_bucket{route=\"/healthz\""));
    // Prometheus refuses a scrape that declares one metric name twice.
    let mut declared = std::collections::HashSet::new();
    for name in metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
    {
        assert!(declared.insert(name), "{name} declared twice:\n{metrics}");
    }
    db.store.close().await;
    let health = http
        .get(format!("{}/healthz", platform.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_cannot_be_demoted() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let demote = |name: &'static str| {
        let store = db.store.clone();
        async move {
            store
                .upsert_user("root", name, Role::Viewer, &hash_of(ADMIN_PASSWORD))
                .await
        }
    };
    let refused = demote("alice").await.unwrap_err();
    assert!(
        refused.to_string().contains("last enabled admin"),
        "{refused}"
    );
    // With a second admin, the first may become a viewer.
    db.store
        .upsert_user("root", "bob", Role::Admin, &hash_of(ADMIN_PASSWORD))
        .await
        .unwrap();
    demote("alice").await.unwrap();
    let refused = demote("bob").await.unwrap_err();
    assert!(
        refused.to_string().contains("last enabled admin"),
        "{refused}"
    );
    // Nor disabled, by someone else.
    let someone = SessionUser {
        user_id: "someone-else".to_owned(),
        username: "root".to_owned(),
        role: Role::Admin,
        csrf: String::new(),
        session_hash: String::new(),
        pending_approvals: 0,
    };
    let refused = db
        .store
        .set_user_disabled(&someone, "bob", true)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("last enabled admin"),
        "{refused}"
    );
}

/// The approvals page offers only sources of the same kind and tenant as merge targets
/// (the merge refuses any other), proposing the one the domain proposes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_targets_are_only_same_tenant_sources() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let mut admin = Session::new(&platform.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;
    let token = create_token(&mut admin).await;

    // Two approved sources: tenant-1 and tenant-2.
    let first = Agent::enroll(
        &platform.url,
        &token,
        &[("one", "tenant-1"), ("two", "tenant-2")],
    )
    .await;
    let first_id = first.enrolled.agent_id.clone();
    admin
        .act(&format!("/approvals/agents/{first_id}/approve"), &[])
        .await;
    for i in 0..2 {
        let page = admin
            .act(
                &format!("/approvals/sources/{}/approve", first.source_id(i)),
                &[],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    }
    let (same, other) = (first.source_id(0), first.source_id(1));

    // A reinstalled agent reads tenant-1 again.
    let second = Agent::enroll(&platform.url, &token, &[("one", "tenant-1")]).await;
    let link = second.source_id(0);
    let (status, agents) = admin.get_json("/approvals").await;
    assert_eq!(status, StatusCode::OK);
    let waiting: Vec<&serde_json::Value> = agents
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["sources"].as_array().unwrap())
        .filter(|l| l["link_id"] == link.as_str())
        .collect();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["proposed_merge"], same.as_str());

    let page = admin.get("/approvals").await.body;
    let form = &page[page
        .find(&format!("/approvals/sources/{link}/merge"))
        .expect("a merge form for the pending source")..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(
        form.contains(&format!("value=\"{same}\"")),
        "same tenant offered: {form}"
    );
    assert!(
        !form.contains(&format!("value=\"{other}\"")),
        "another tenant is not offered: {form}"
    );
    // The merge refuses it anyway.
    let page = admin
        .act(
            &format!("/approvals/sources/{link}/merge"),
            &[("target", &other)],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
    let page = admin
        .act(
            &format!("/approvals/sources/{link}/merge"),
            &[("target", &same)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // Revoking a source from the sources page stops its link; rotating the credential
    // shows a new one once.
    let page = admin
        .act(&format!("/approvals/sources/{other}/revoke"), &[])
        .await;
    assert_eq!(page.location(), "/sources?done=source_revoked");
    assert_eq!(
        db.store.get_link(&other).await.unwrap().unwrap().state,
        seatbroker_protocol::SourceState::Revoked
    );
    let page = admin.act(&format!("/agents/{first_id}/rotate"), &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let credential = hidden_text(&page.body, "new-credential");
    assert!(credential.starts_with("sbk_"), "{credential}");
    assert!(
        db.store
            .authenticate_agent(first.enrolled.agent_credential.expose())
            .await
            .unwrap()
            .is_none()
    );
}

/// The text of the element with `id`.
fn hidden_text(body: &str, id: &str) -> String {
    let start = body.find(&format!("id=\"{id}\">")).expect(id) + id.len() + 6;
    body[start..start + body[start..].find('<').unwrap()].to_owned()
}

/// A JSON client (by `Accept`, or any `/api/` path) gets problem+json for every error,
/// from every report URL; a browser gets HTML.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_clients_get_problems_on_every_error() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut admin = Session::new(&platform.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;
    let cookie = admin.cookie_header();

    let check =
        |path: &'static str, logged_in: bool, json: bool, status: u16, code: &'static str| {
            let (http, base, cookie) = (http.clone(), platform.url.clone(), cookie.clone());
            async move {
                let mut request = http.get(format!("{base}{path}"));
                if logged_in {
                    request = request.header(header::COOKIE, cookie);
                }
                if json {
                    request = request.header(header::ACCEPT, "application/json");
                }
                let response = request.send().await.unwrap();
                let what = format!("{path} (json: {json}, logged in: {logged_in})");
                assert_eq!(response.status().as_u16(), status, "{what}");
                let content_type = response.headers()[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let body = response.text().await.unwrap();
                if json || path.starts_with("/api/") {
                    assert_eq!(content_type, "application/problem+json", "{what}: {body}");
                    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
                    assert_eq!(problem["code"], code, "{what}: {body}");
                    assert_eq!(problem["status"], status, "{what}: {body}");
                } else {
                    assert!(
                        content_type.starts_with("text/html"),
                        "{what}: {content_type}"
                    );
                    assert!(body.contains("Bad"), "{what}: {body}");
                }
            }
        };
    // (path, sent with Accept: application/json): a bad filter value, an unknown page number.
    for (path, accept_json) in [
        ("/trends?months=abc", true),
        ("/trends?months=abc", false),
        ("/api/v1/reports/trends?months=abc", false),
        ("/departments?source=a&source=b", true),
        ("/seats?page=abc", true),
        ("/seats?page=abc", false),
        ("/api/v1/reports/inactive-seats?page=abc", false),
        // Unknown filter values: 400 with the allowed ones, never an empty table.
        ("/api/v1/reports/inactive-seats?state=asleep", false),
        ("/seats?sort=shoe", true),
        ("/seats.csv?dir=sideways", true),
        ("/api/v1/reports/reclaim?state=asleep", false),
        ("/reclaim?sort=shoe", true),
        ("/api/v1/reports/changes?days=0", false),
    ] {
        check(path, true, accept_json, 400, "bad_request").await;
    }
    // Not logged in: JSON clients get 401 (a browser is redirected to the login page).
    for path in [
        "/",
        "/seats",
        "/trends",
        "/departments",
        "/data-quality",
        "/sources",
        "/approvals",
        "/audit",
        "/api/v1/reports/overview",
        "/api/v1/reports/inactive-seats",
        "/api/v1/reports/trends",
        "/api/v1/reports/departments",
        "/api/v1/reports/data-quality",
        "/api/v1/reports/sources",
        "/applications",
        "/reclaim",
        "/changes",
        "/exclusions",
        "/people/p1",
        "/api/v1/reports/licences",
        "/api/v1/reports/reclaim",
        "/api/v1/reports/changes",
    ] {
        check(path, false, true, 401, "unauthenticated").await;
    }
    let page = Session::new(&platform.url).get("/trends").await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/login?next=%2Ftrends")
    );
}
