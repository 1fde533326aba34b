//! Bearer authentication (401), scopes (403), identity endpoints and revocation.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{config, get, start};

#[tokio::test]
async fn unauthenticated_and_forbidden_have_feathers_bodies() {
    let sim = start(config(60, 21)).await;
    let full = sim.tokens().full.clone();
    let public = sim.tokens().public_only.clone();
    // (token, path, expected status, expected name, className)
    let cases: Vec<(Option<&str>, &str, StatusCode, &str, &str)> = vec![
        (
            None,
            "/api/people",
            StatusCode::UNAUTHORIZED,
            "NotAuthenticated",
            "not-authenticated",
        ),
        (
            Some("not-a-token"),
            "/api/people",
            StatusCode::UNAUTHORIZED,
            "NotAuthenticated",
            "not-authenticated",
        ),
        (
            None,
            "/api/me",
            StatusCode::UNAUTHORIZED,
            "NotAuthenticated",
            "not-authenticated",
        ),
        (
            None,
            "/api/token-info",
            StatusCode::UNAUTHORIZED,
            "NotAuthenticated",
            "not-authenticated",
        ),
        (
            Some(&public),
            "/api/job-roles",
            StatusCode::FORBIDDEN,
            "Forbidden",
            "forbidden",
        ),
        (
            Some(&full),
            "/api/nothing-here",
            StatusCode::NOT_FOUND,
            "NotFound",
            "not-found",
        ),
    ];
    for (token, path, status, name, class_name) in cases {
        let reply = get(&sim, token, path).await;
        assert_eq!(reply.status, status, "{path}");
        let body = reply.json();
        assert_eq!(body["name"], name);
        assert_eq!(body["className"], class_name);
        assert_eq!(body["code"], status.as_u16());
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(!body.to_string().contains(&full), "tokens never echoed");
    }
    // A non-bearer scheme is not a token.
    let reply = reqwest::Client::new()
        .get(format!("{}/api/people", sim.url()))
        .header("Authorization", format!("Basic {full}"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    sim.shutdown().await;
}

#[tokio::test]
async fn token_info_and_me_name_the_owner() {
    let sim = start(config(60, 22)).await;
    let company = sim.company().clone();
    for (token, scopes, owner) in [
        (
            sim.tokens().full.clone(),
            json!(["public:read", "private:read"]),
            company.full_token_owner(),
        ),
        (
            sim.tokens().public_only.clone(),
            json!(["public:read"]),
            company.public_token_owner(),
        ),
    ] {
        let info = get(&sim, Some(&token), "/api/token-info").await.json();
        assert_eq!(info["scopes"], scopes);
        assert_eq!(info["personId"], owner.id.as_str());
        assert!(info["id"].is_string() && info["label"].is_string());
        let me = get(&sim, Some(&token), "/api/me").await.json();
        assert_eq!(me["id"], owner.id.as_str());
        assert_eq!(me["status"], "active");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_token_gets_401_from_then_on() {
    let sim = start(config(20, 23)).await;
    let full = sim.tokens().full.clone();
    assert_eq!(
        get(&sim, Some(&full), "/api/people").await.status,
        StatusCode::OK
    );
    assert!(sim.revoke_token(&full));
    assert!(!sim.revoke_token("never-existed"));
    let reply = get(&sim, Some(&full), "/api/people").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["name"], "NotAuthenticated");
    let public = sim.tokens().public_only.clone();
    assert_eq!(
        get(&sim, Some(&public), "/api/people").await.status,
        StatusCode::OK
    );
    sim.shutdown().await;
}
