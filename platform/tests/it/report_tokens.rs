//! Report tokens: created by an admin in the console (shown once), accepted with
//! `Authorization: Bearer` on `/api/v1/reports/*` only, expiring, revocable, last use shown,
//! every change audited; the store's side on SQLite and PostgreSQL.

use chrono::Duration;
use reqwest::StatusCode;
use reqwest::header;
use seatbroker_platform::ReportTokenState;

use crate::console::{ADMIN_PASSWORD, Platform, Session, VIEWER_PASSWORD, create_users};
use crate::{TestDb, t0};

/// The token the creation page shows once.
fn shown_token(body: &str) -> String {
    let marker = "id=\"new-report-token\">";
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("no new token on the page: {body}"))
        + marker.len();
    body[start..start + body[start..].find('<').unwrap()].to_owned()
}

/// GET `path` with `Authorization: <authorization>` and no cookie.
async fn get_with(
    base: &str,
    path: &str,
    authorization: &str,
) -> (StatusCode, header::HeaderMap, String) {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}{path}"))
        .header(header::AUTHORIZATION, authorization)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn problem_code(body: &str) -> String {
    let value: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_a_token_that_reads_reports_and_nothing_else() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let mut admin = Session::new(&platform.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;

    // Created on its own page, shown once.
    let created = admin
        .act(
            "/report-tokens",
            &[("name", "Finance BI"), ("expires_days", "30")],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let token = shown_token(&created.body);
    assert!(token.starts_with("sbr_") && token.len() > 40, "{token}");
    let listing = admin.get("/report-tokens").await;
    assert!(listing.body.contains("Finance BI"));
    assert!(!listing.body.contains(&token), "the token is shown again");
    assert!(
        listing.body.contains("<td>never</td>"),
        "not used yet: {}",
        listing.body
    );
    // The enrollment tokens page does not list it.
    assert!(!admin.get("/tokens").await.body.contains("Finance BI"));
    // Stored hashed.
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM report_tokens")
        .fetch_all(db.store.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], token);

    let bearer = format!("Bearer {token}");
    for path in [
        "/api/v1/reports/overview",
        "/api/v1/reports/licences",
        "/api/v1/reports/sources",
        "/api/v1/reports/inactive-seats",
    ] {
        let (status, _, body) = get_with(&platform.url, path, &bearer).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let _: serde_json::Value = serde_json::from_str(&body).unwrap();
    }
    // Last use is shown.
    let listing = admin.get("/report-tokens").await;
    assert!(
        listing
            .body
            .contains(&t0().format("%Y-%m-%d %H:%M UTC").to_string())
    );
    assert!(!listing.body.contains("<td>never</td>"), "{}", listing.body);

    // Nowhere else: console pages, admin pages, forms, the agent API.
    let (status, _, _) = get_with(&platform.url, "/", &bearer).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "console page with a report token"
    );
    let (status, _, _) = get_with(&platform.url, "/report-tokens", &bearer).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, body) = get_with(&platform.url, "/api/agent/v1/status", &bearer).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let form = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/report-tokens", platform.url))
        .header(header::AUTHORIZATION, &bearer)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("csrf=&name=sneaky")
        .send()
        .await
        .unwrap();
    assert_eq!(
        form.status(),
        StatusCode::SEE_OTHER,
        "a form with a report token"
    );
    assert_eq!(db.store.list_report_tokens().await.unwrap().len(), 1);

    // A session keeps working on the same URL.
    let (status, _) = admin.get_json("/api/v1/reports/overview").await;
    assert_eq!(status, StatusCode::OK);

    // Wrong schemes and unknown tokens: 401 problem+json with a Bearer challenge.
    for authorization in [
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Bearer",
        "Bearer sbr_unknown",
        "Bearer sbe_an-enrollment-token",
    ] {
        let (status, headers, body) =
            get_with(&platform.url, "/api/v1/reports/overview", authorization).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert!(
            headers[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_eq!(problem_code(&body), "invalid_token", "{authorization}");
    }

    // Revoked: refused at once, and audited.
    let id = db.store.list_report_tokens().await.unwrap()[0].id.clone();
    let revoked = admin.act(&format!("/report-tokens/{id}/revoke"), &[]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    let (status, _, body) = get_with(&platform.url, "/api/v1/reports/overview", &bearer).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(&body), "invalid_token");
    let audit = db.store.list_audit(50, None).await.unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .filter(|e| e.action.starts_with("report_token."))
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("report_token.revoke", "alice"),
            ("report_token.create", "alice")
        ]
    );
    assert!(
        !audit.iter().any(|e| e.detail.to_string().contains(&token)),
        "token in the audit log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_cannot_manage_report_tokens_and_bad_forms_are_refused() {
    let db = TestDb::sqlite().await;
    create_users(&db.store).await;
    let platform = Platform::start(db.store.clone()).await;
    let mut viewer = Session::new(&platform.url);
    viewer.login_ok("victor", VIEWER_PASSWORD).await;
    assert_eq!(
        viewer.get("/report-tokens").await.status,
        StatusCode::FORBIDDEN
    );
    let refused = viewer.act("/report-tokens", &[("name", "mine")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let mut admin = Session::new(&platform.url);
    admin.login_ok("alice", ADMIN_PASSWORD).await;
    for (name, days) in [("", "30"), ("ok", "0"), ("ok", "many"), ("ok", "731")] {
        let page = admin
            .act("/report-tokens", &[("name", name), ("expires_days", days)])
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{name:?} {days:?}");
    }
    assert!(db.store.list_report_tokens().await.unwrap().is_empty());
    // Empty expiry: never expires.
    let page = admin
        .act(
            "/report-tokens",
            &[("name", "forever"), ("expires_days", "")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        db.store.list_report_tokens().await.unwrap()[0].expires_at,
        None
    );
}

async fn token_lifecycle(db: TestDb) {
    let store = &db.store;
    let created = store
        .create_report_token("alice", "  BI  ", Some(t0() + Duration::days(1)))
        .await
        .unwrap();
    assert_eq!(created.record.name, "BI");
    assert_eq!(format!("{:?}", created.token), "[REDACTED]");
    let token = created.token.expose().to_owned();
    // Unknown or malformed values find nothing.
    assert!(store.use_report_token("sbr_nope").await.unwrap().is_none());
    assert!(store.use_report_token("").await.unwrap().is_none());
    // Use records the time, at most once a minute.
    let used = store.use_report_token(&token).await.unwrap().unwrap();
    assert_eq!(used.last_used_at, Some(t0()));
    db.clock.set(t0() + Duration::seconds(30));
    store.use_report_token(&token).await.unwrap().unwrap();
    assert_eq!(
        store.list_report_tokens().await.unwrap()[0].last_used_at,
        Some(t0())
    );
    db.clock.set(t0() + Duration::minutes(5));
    store.use_report_token(&token).await.unwrap().unwrap();
    assert_eq!(
        store.list_report_tokens().await.unwrap()[0].last_used_at,
        Some(t0() + Duration::minutes(5))
    );
    // Expiry.
    db.clock.set(t0() + Duration::days(1));
    assert!(store.use_report_token(&token).await.unwrap().is_none());
    assert_eq!(
        store.list_report_tokens().await.unwrap()[0].state,
        ReportTokenState::Expired
    );
    // A token already past its expiry or without a name is refused.
    assert!(
        store
            .create_report_token("alice", "late", Some(t0()))
            .await
            .is_err()
    );
    assert!(store.create_report_token("alice", " ", None).await.is_err());
    // Revocation, twice harmless, and of an unknown id an error.
    let other = store
        .create_report_token("alice", "other", None)
        .await
        .unwrap();
    let other_token = other.token.expose().to_owned();
    assert!(
        store
            .use_report_token(&other_token)
            .await
            .unwrap()
            .is_some()
    );
    store
        .revoke_report_token("bob", &other.record.id)
        .await
        .unwrap();
    store
        .revoke_report_token("bob", &other.record.id)
        .await
        .unwrap();
    assert!(
        store
            .use_report_token(&other_token)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.revoke_report_token("bob", "missing").await.is_err());
    let listed = store.list_report_tokens().await.unwrap();
    let other_row = listed.iter().find(|t| t.id == other.record.id).unwrap();
    assert_eq!(other_row.state, ReportTokenState::Revoked);
    assert_eq!(other_row.revoked_by.as_deref(), Some("bob"));
    let audit = store.list_audit(50, None).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "report_token.revoke",
            "report_token.create",
            "report_token.create"
        ]
    );
}
on_both_backends!(token_lifecycle_on, token_lifecycle);
