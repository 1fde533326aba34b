//! The console fixes of the walkthrough (issue 12 §4) through HTTP: words instead of codes
//! (codes kept in JSON), names instead of person ids, the inactive-seat filters, the
//! approvals badge and the Overview's pointer to a waiting agent, the login's way back,
//! readable audit details, the favicon, 400 for filter values nothing has, the reclaim
//! page's "new since" filter, and Trends from the first upload.

use reqwest::StatusCode;
use seatbroker_protocol::{Finding, FindingKind, SeatState};

use crate::console::{
    ADMIN_PASSWORD, Agent, Platform, Session, company, create_token, create_users, hidden_value,
};
use crate::{TestDb, date, payload, seat, t0};

/// The login goes back to the page that was asked for, and only to a page of the console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_returns_to_the_page_asked_for_and_only_locally() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let mut browser = Session::new(&platform.url);

    let page = browser.get("/reclaim?state=idle&sort=days").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.location(),
        "/login?next=%2Freclaim%3Fstate%3Didle%26sort%3Ddays"
    );
    let login = browser.get(page.location()).await;
    assert_eq!(
        hidden_value(&login.body, "next"),
        "/reclaim?state=idle&#38;sort=days",
        "the login form carries the way back (HTML-escaped)"
    );
    let csrf = hidden_value(&login.body, "csrf");
    let answer = browser
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", ADMIN_PASSWORD),
                ("next", "/reclaim?state=idle&sort=days"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location(), "/reclaim?state=idle&sort=days");

    // A wrong password keeps the way back in the form.
    let mut other = Session::new(&platform.url);
    let login = other.get("/login?next=%2Fseats").await;
    let csrf = hidden_value(&login.body, "csrf");
    let failed = other
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "wrong"),
                ("next", "/seats"),
            ],
        )
        .await;
    assert_eq!(failed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(hidden_value(&failed.body, "next"), "/seats");

    // Anything but a local path is dropped: no open redirect.
    for evil in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/logout",
    ] {
        let mut someone = Session::new(&platform.url);
        let login = someone.get("/login").await;
        assert!(!login.body.contains("name=\"next\""));
        let csrf = hidden_value(&login.body, "csrf");
        let answer = someone
            .post(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("username", "alice"),
                    ("password", ADMIN_PASSWORD),
                    ("next", evil),
                ],
            )
            .await;
        assert_eq!(
            (answer.status, answer.location()),
            (StatusCode::SEE_OTHER, "/"),
            "{evil}"
        );
        let page = someone.get(&format!("/login?next={evil}")).await;
        assert!(!page.body.contains("name=\"next\""), "{evil}");
    }
}

/// A pending agent shows as a badge in the navigation and on the Overview, which points to
/// it instead of telling the admin to create an enrollment token; the badge goes once it
/// is decided. The favicon is served and linked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_agent_is_counted_in_the_navigation_and_pointed_to() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let mut admin = Session::new(&platform.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;

    let overview = admin.get("/").await.body;
    assert!(!overview.contains("id=\"pending-count\""), "{overview}");
    assert!(overview.contains("Create an <a href=\"/tokens\">enrollment token</a>"));
    assert!(overview.contains("rel=\"icon\""));

    let token = create_token(&mut admin).await;
    let agent = Agent::enroll(&platform.url, &token, &[("main", "tenant-1")]).await;
    let overview = admin.get("/").await.body;
    assert!(
        overview
            .contains("id=\"pending-count\" title=\"1 agent(s) waiting for a decision\">1</span>"),
        "{overview}"
    );
    assert!(overview.contains("id=\"waiting-agents\""), "{overview}");
    assert!(
        !overview.contains("Create an <a href=\"/tokens\">enrollment token</a>"),
        "the Overview points to the waiting agent instead: {overview}"
    );
    // Every page carries the badge, for viewers too.
    let mut viewer = Session::new(&platform.url);
    viewer
        .login_ok("victor", crate::console::VIEWER_PASSWORD)
        .await;
    assert!(
        viewer
            .get("/trends")
            .await
            .body
            .contains("id=\"pending-count\"")
    );

    // Approving the agent leaves its source waiting: still one.
    let agent_id = agent.enrolled.agent_id.clone();
    admin
        .act(&format!("/approvals/agents/{agent_id}/approve"), &[])
        .await;
    assert!(admin.get("/").await.body.contains(">1</span>"));
    admin
        .act(
            &format!("/approvals/sources/{}/approve", agent.source_id(0)),
            &[],
        )
        .await;
    let overview = admin.get("/").await.body;
    assert!(!overview.contains("id=\"pending-count\""), "{overview}");
    assert!(!overview.contains("id=\"waiting-agents\""), "{overview}");

    // The favicon: small SVG, no login needed.
    let mut anonymous = Session::new(&platform.url);
    for path in ["/favicon.svg", "/favicon.ico"] {
        let icon = anonymous.get(path).await;
        assert_eq!(icon.status, StatusCode::OK, "{path}");
        assert_eq!(icon.headers["content-type"], "image/svg+xml");
        assert!(icon.body.starts_with("<svg") && icon.body.len() < 1024);
    }
}

// Words instead of codes on the pages (codes kept in JSON and CSV), names instead of
// person ids, the inactive-seat filters, readable audit details, 400 for unknown filter
// values, and Trends from the first upload.
on_both_backends!(
    the_console_speaks_plainly_and_refuses_unknown_filters,
    speaks_plainly
);

async fn speaks_plainly(db: TestDb) {
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let mut admin = Session::new(&platform.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;
    let token = create_token(&mut admin).await;
    let agent = Agent::enroll(&platform.url, &token, &[("main", "tenant-1")]).await;
    let agent_id = agent.enrolled.agent_id.clone();
    admin
        .act(&format!("/approvals/agents/{agent_id}/approve"), &[])
        .await;
    admin
        .act(
            &format!("/approvals/sources/{}/approve", agent.source_id(0)),
            &[],
        )
        .await;

    let mut seats = company();
    // Someone without a department, a leaver whose end date is ahead, and an ended
    // employment for the reconstructed headcount.
    let mut nodept = seat("nodept", SeatState::Offboarded);
    nodept.department = None;
    nodept.employment_end_date = Some(date("2025-05-01"));
    seats.push(nodept);
    let mut body = payload("main", "tenant-1", t0(), seats);
    body.findings.push(Finding {
        person_id: "ghost".into(),
        kind: FindingKind::ManagerOffboarded,
        detail: Some("manager boss is offboarded".into()),
    });
    let ack = agent
        .upload_payload(
            &[&platform.url],
            &agent.source_id(0),
            &"d".repeat(32),
            1,
            &body,
        )
        .await;
    assert!(ack.snapshot_applied);

    // States and reasons in words on the page, codes in JSON.
    let page = admin.get("/seats").await.body;
    assert!(page.contains("Inactive (billable, unused)"), "{page}");
    assert!(
        page.contains("never signed in to Humaans (heuristic)"),
        "{page}"
    );
    assert!(page.contains("employment ended, but not offboarded in Humaans"));
    assert!(!page.contains(">ended_not_offboarded<"), "{page}");
    let (_, json) = admin.get_json("/api/v1/reports/inactive-seats").await;
    assert_eq!(json["rows"][0]["state"], "inactive");
    assert_eq!(json["rows"][0]["reason"], "never_verified");

    // "(no department)" selects exactly the people without one.
    let (status, json) = admin
        .get_json("/api/v1/reports/inactive-seats?state=all&department=(none)")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["total"], 1, "{json}");
    assert_eq!(json["rows"][0]["person_id"], "nodept");
    // "all" is every state but active; active is offered on its own.
    let page = admin.get("/seats").await.body;
    assert!(
        page.contains("<option value=\"all\" >all but active</option>"),
        "{page}"
    );
    assert!(page.contains("<option value=\"active\" >active</option>"));
    let (_, json) = admin
        .get_json("/api/v1/reports/inactive-seats?state=active")
        .await;
    assert_eq!(json["total"], 2, "boss and a1");

    // Findings: kinds in words, the manager's name instead of the id; JSON keeps both.
    let page = admin.get("/data-quality").await.body;
    assert!(page.contains("Manager is offboarded"), "{page}");
    assert!(page.contains("manager Bea Boss is offboarded"), "{page}");
    assert!(!page.contains("manager boss is offboarded"), "{page}");
    let (_, json) = admin
        .get_json("/api/v1/reports/data-quality?kind=manager_offboarded")
        .await;
    assert_eq!(json["findings"][0]["detail"], "manager boss is offboarded");
    assert_eq!(json["findings"][0]["kind"], "manager_offboarded");

    // The audit log: fields, not a page of raw JSON.
    let audit = admin.get("/audit").await.body;
    assert!(audit.contains("Agent approved"), "{audit}");
    assert!(audit.contains("<dl class=\"audit-detail\">"), "{audit}");
    assert!(!audit.contains("{&#34;"), "no raw JSON objects: {audit}");

    // Unknown filter values answer 400 with the reason, on every report page.
    for (path, says) in [
        ("/seats?reason=bogus", "Unknown reason"),
        ("/seats?department=Nowhere", "Unknown department"),
        ("/seats?manager=nobody", "Unknown manager"),
        ("/seats?source=nope", "Unknown source"),
        ("/seats.csv?reason=bogus", "Unknown reason"),
        ("/seats?state=bogus", "Unknown state"),
        ("/trends?months=5", "Unknown period"),
        ("/trends?source=nope", "Unknown source"),
        ("/trends.csv?months=7", "Unknown period"),
        ("/departments?source=nope", "Unknown source"),
        ("/data-quality?kind=bogus", "Unknown finding kind"),
        ("/data-quality?source=nope", "Unknown source"),
        ("/reclaim?application=Nope", "Unknown application"),
        ("/reclaim?department=Nowhere", "Unknown department"),
        ("/reclaim?manager=nobody", "Unknown manager"),
        ("/reclaim?new_since=yesterday", "Bad date"),
        ("/reclaim.csv?new_since=2025-13-01", "Bad date"),
    ] {
        let page = admin.get(path).await;
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            page.body
        );
        assert!(page.body.contains(says), "{path}: {}", page.body);
        let api = path
            .replace("/seats?", "/api/v1/reports/inactive-seats?")
            .replace("/data-quality?", "/api/v1/reports/data-quality?");
        if api.starts_with("/api/") {
            let (status, problem) = admin.get_json(&api).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{api}");
            assert!(
                problem["detail"].as_str().unwrap().contains(says),
                "{api}: {problem}"
            );
        }
    }
    // Values that exist still filter.
    for path in [
        "/seats?reason=never_verified",
        "/seats?department=Sales",
        "/seats?manager=boss",
        "/data-quality?kind=no_manager",
        "/trends?months=12",
    ] {
        assert_eq!(admin.get(path).await.status, StatusCode::OK, "{path}");
    }

    // Trends from the first upload: the one day is drawn as dots, the headcount is
    // reconstructed from employment dates (and says so), licences have no history yet.
    let page = admin.get("/trends").await.body;
    assert!(page.contains("<circle class=\"point\""), "{page}");
    assert!(page.contains("HR headcount (reconstructed)"), "{page}");
    assert!(
        page.contains("No application source has uploaded yet"),
        "{page}"
    );
    let (_, json) = admin.get_json("/api/v1/reports/trends?months=3").await;
    let headcount = json["reconstructed_headcount"].as_array().unwrap();
    assert_eq!(headcount.len(), 92, "every day of the period: {json}");
    // Seven people started in 2024; nodept's employment ended on 2025-05-01.
    assert_eq!(headcount[0]["headcount"], 7, "{json}");
    let first_day_after = headcount
        .iter()
        .position(|p| p["day"] == "2025-05-02")
        .unwrap();
    assert_eq!(headcount[first_day_after - 1]["headcount"], 7);
    assert_eq!(headcount[first_day_after]["headcount"], 6);
    assert_eq!(headcount.last().unwrap()["headcount"], 6);
    assert_eq!(json["licences"], serde_json::json!([]));
}

// The reclaim page's "new since" keeps exactly the seats that entered their state on that
// day or later (here: the day the platform saw it, as the fixture's licences carry no
// since-day), in JSON, CSV and the page; sorting keeps working with it.
on_both_backends!(reclaim_filters_new_since_a_day, new_since);

async fn new_since(db: TestDb) {
    create_users(&db.store).await;
    let fixture = crate::licences::setup(&db.store).await;
    crate::licences::load(&db.store, &fixture).await;
    // Three days later Ana (p1) is offboarded: her licences become orphaned that day.
    let later = t0() + chrono::Duration::days(3);
    db.clock.set(later);
    crate::licences::applied(
        &db.store,
        &fixture.agent_id,
        &payload("hr", "acme", later, crate::licences::hr_people(true)),
        &fixture.hr,
        2,
    )
    .await;
    let platform = Platform::start(db.store.clone()).await;
    let mut admin = Session::new(&platform.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;

    let (_, all) = admin.get_json("/api/v1/reports/reclaim").await;
    let rows = all["rows"].as_array().unwrap();
    let anas: Vec<&serde_json::Value> = rows.iter().filter(|r| r["person_id"] == "p1").collect();
    assert!(
        anas.len() >= 2 && anas.len() < rows.len(),
        "Ana's two licences and older ones: {all}"
    );
    for (day, expected) in [
        ("2025-06-01", rows.len()),
        ("2025-06-02", rows.len()),
        ("2025-06-03", anas.len()),
        ("2025-06-05", anas.len()),
        ("2025-06-06", 0),
    ] {
        let (status, json) = admin
            .get_json(&format!(
                "/api/v1/reports/reclaim?new_since={day}&sort=person&dir=desc"
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json["total"], expected, "new since {day}: {json}");
        if expected == anas.len() {
            assert!(
                json["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["person_id"] == "p1" && r["state"] == "orphaned"),
                "{json}"
            );
        }
        let csv = admin
            .get(&format!("/reclaim.csv?new_since={day}"))
            .await
            .body;
        assert_eq!(
            csv.split("\r\n").filter(|l| !l.is_empty()).count(),
            expected + 1,
            "{csv}"
        );
    }
    // Trends: the licence history starts with the first upload, and today's reclaimable
    // licences are the reclaim rows.
    let (_, trends) = admin.get_json("/api/v1/reports/trends").await;
    let licences = trends["licences"].as_array().unwrap();
    assert_eq!(licences[0]["day"], "2025-06-02", "{trends}");
    assert_eq!(licences.len(), 4, "2 to 5 June: {trends}");
    assert_eq!(licences[3]["reclaimable"], rows.len(), "{trends}");
    assert_eq!(
        licences[0]["reclaimable"].as_u64().unwrap() + 1,
        rows.len() as u64,
        "Ana's Slack seat was already idle; her Microsoft 365 licence became reclaimable: {trends}"
    );
    let page = admin.get("/reclaim?new_since=2025-06-05").await.body;
    assert!(
        page.contains("name=\"new_since\" value=\"2025-06-05\""),
        "the chosen day stays in the form: {page}"
    );
    assert!(page.contains("Name p1"), "{page}");
    assert!(!page.contains("Name p2"), "{page}");
}
