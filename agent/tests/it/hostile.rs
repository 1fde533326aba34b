//! The agent against hostile or broken servers: a platform (or something in between) that
//! redirects, Graph and its login host redirecting elsewhere, answers larger than any real
//! one. Nothing the agent holds (enrollment token, snapshot, client secret, access token)
//! may follow a redirect to another host, and no answer may fill its memory.

use std::path::Path;
use std::sync::Arc;

use mockito::{Matcher, Server};
use seatbroker_agent::Config;
use seatbroker_agent::entra::{EntraClient, EntraConfig, EntraError};
use seatbroker_protocol::Secret;
use serde_json::json;

use crate::uplink::{CREDENTIAL, Harness, status_body};

const TENANT: &str = "6f1c2a9e-3b7d-4c1e-9a55-0d2f8e4b7c31";

/// The last error the agent recorded in its state file.
fn last_error(h: &Harness) -> String {
    h.store.load().unwrap().last_error.unwrap_or_default()
}

#[tokio::test]
async fn enrollment_is_not_resent_across_a_redirect() {
    for status in [307, 308] {
        let mut elsewhere = Server::new_async().await;
        let stolen = elsewhere
            .mock("POST", Matcher::Any)
            .expect(0)
            .create_async()
            .await;
        let target = format!("{}/steal", elsewhere.url());
        let mut h = Harness::new(&["acme"], false).await;
        h.server
            .mock("POST", "/api/agent/v1/enroll")
            .with_status(status)
            .with_header("location", &target)
            .expect(1)
            .create_async()
            .await;
        h.round().await;
        stolen.assert_async().await;
        assert!(h.store.credential().unwrap().is_none());
        let error = last_error(&h);
        assert!(error.contains(&target), "{status}: {error}");
        assert!(error.contains("does not follow redirects"), "{error}");
        assert!(!error.contains("sbe_enroll_token"), "{error}");
    }
}

#[tokio::test]
async fn a_snapshot_part_is_not_resent_across_a_redirect_and_stays_spooled() {
    let mut elsewhere = Server::new_async().await;
    let stolen = elsewhere
        .mock("PUT", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let target = format!("http://{}/upload", elsewhere.host_with_port());
    let mut h = Harness::new(&["acme"], true).await;
    h.status("approved", &[("acme", "approved", "src_1")]).await;
    h.heartbeat().await;
    h.server
        .mock(
            "PUT",
            Matcher::Regex(r"^/api/agent/v1/snapshots/.*$".into()),
        )
        .match_header("authorization", format!("Bearer {CREDENTIAL}").as_str())
        .with_status(308)
        .with_header("location", &target)
        .expect(1)
        .create_async()
        .await;
    h.collect("acme", 1).await;
    h.round().await;
    stolen.assert_async().await;
    assert_eq!(h.spooled("acme").len(), 1, "the snapshot is kept");
    let error = last_error(&h);
    assert!(error.contains(&target), "{error}");
}

#[tokio::test]
async fn an_oversized_platform_answer_is_refused_naming_the_limit() {
    let mut h = Harness::new(&["acme"], true).await;
    // A valid status answer padded past 4 MiB.
    let mut body = status_body("approved", &[("acme", "approved", "src_1")]);
    body["padding"] = json!("x".repeat(4 * 1024 * 1024 + 1));
    h.server
        .mock("GET", "/api/agent/v1/status")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(body.to_string())
        .create_async()
        .await;
    h.round().await;
    let error = last_error(&h);
    assert!(error.contains("larger than 4194304 bytes"), "{error}");
}

#[test]
fn platform_url_with_credentials_or_query_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let check = |url: &str, ok: bool| {
        let text = crate::uplink::config_text(url, dir.path(), &["acme"]);
        match Config::parse(&text, Path::new("agent.yaml")) {
            Ok(_) => assert!(ok, "{url} was accepted"),
            Err(error) => {
                let message = error.to_string();
                assert!(!ok, "{url}: {message}");
                assert!(message.contains("platform.url"), "{message}");
                assert!(!message.contains("hunter2"), "{message}");
            }
        }
    };
    check("https://seats.example.com", true);
    check("https://seats.example.com:8443/", true);
    check("https://admin:hunter2@seats.example.com", false);
    check("https://seats.example.com/?key=hunter2", false);
    check("https://seats.example.com/#hunter2", false);
}

fn entra(login: &str, graph: &str, tweak: impl FnOnce(&mut EntraConfig)) -> EntraClient {
    let mut config = EntraConfig::new(
        TENANT,
        "11111111-2222-3333-4444-555555555555",
        Secret::new("s3cret"),
    );
    config.login_url = login.to_owned();
    config.graph_url = graph.to_owned();
    tweak(&mut config);
    EntraClient::new(config)
        .unwrap()
        .with_sleep(Arc::new(|_| Box::pin(async {})))
}

fn token_body() -> String {
    json!({"token_type": "Bearer", "expires_in": 3600, "access_token": "eyJ.e30.sig"}).to_string()
}

#[tokio::test]
async fn graph_follows_redirects_within_its_origin_only() {
    let mut microsoft = Server::new_async().await;
    let mut elsewhere = Server::new_async().await;
    let stolen = elsewhere
        .mock("GET", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    microsoft
        .mock("POST", format!("/{TENANT}/oauth2/v2.0/token").as_str())
        .with_body(token_body())
        .create_async()
        .await;
    // Same origin: followed.
    microsoft
        .mock("GET", "/v1.0/subscribedSkus")
        .with_status(307)
        .with_header("location", "/v1.0/moved/subscribedSkus")
        .create_async()
        .await;
    microsoft
        .mock("GET", "/v1.0/moved/subscribedSkus")
        .match_header("authorization", Matcher::Regex("^Bearer ".into()))
        .with_body(json!({"value": []}).to_string())
        .create_async()
        .await;
    let client = entra(&microsoft.url(), &microsoft.url(), |_| {});
    assert!(client.subscribed_skus().await.unwrap().is_empty());
    // Another origin: not followed, an error naming it.
    let target = format!("{}/v1.0/organization", elsewhere.url());
    microsoft
        .mock("GET", Matcher::Regex(r"^/v1\.0/organization".into()))
        .with_status(302)
        .with_header("location", &target)
        .create_async()
        .await;
    let error = client.organization_name().await;
    let text = match &error {
        Err(error) => error.to_string(),
        Ok(name) => format!("{name:?}"),
    };
    stolen.assert_async().await;
    assert!(text.contains(&target), "{text}");
}

#[tokio::test]
async fn the_client_secret_does_not_follow_a_login_redirect() {
    let mut login = Server::new_async().await;
    let mut elsewhere = Server::new_async().await;
    let stolen = elsewhere
        .mock("POST", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let target = format!("{}/token", elsewhere.url());
    login
        .mock("POST", format!("/{TENANT}/oauth2/v2.0/token").as_str())
        .with_status(307)
        .with_header("location", &target)
        .create_async()
        .await;
    let client = entra(&login.url(), &login.url(), |_| {});
    let error = client.access_token().await.unwrap_err();
    stolen.assert_async().await;
    assert!(
        matches!(&error, EntraError::Redirected { location, .. } if *location == target),
        "{error}"
    );
    assert!(error.is_config());
    assert!(!error.to_string().contains("s3cret"), "{error}");
}

#[tokio::test]
async fn an_oversized_graph_answer_fails_naming_the_limit() {
    let mut microsoft = Server::new_async().await;
    microsoft
        .mock("POST", format!("/{TENANT}/oauth2/v2.0/token").as_str())
        .with_body(token_body())
        .create_async()
        .await;
    microsoft
        .mock("GET", "/v1.0/subscribedSkus")
        .with_body(json!({"value": [], "padding": "x".repeat(70_000)}).to_string())
        .create_async()
        .await;
    let client = entra(&microsoft.url(), &microsoft.url(), |c| {
        c.max_body_bytes = 64 * 1024
    });
    let error = client.subscribed_skus().await.unwrap_err();
    assert!(
        matches!(error, EntraError::TooLarge { limit: 65536, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("larger than 65536 bytes"));
}

fn humaans(url: &str) -> seatbroker_agent::HumaansClient {
    seatbroker_agent::HumaansClient::new(seatbroker_agent::HumaansConfig::new(
        url,
        Secret::new("humaans-token"),
    ))
    .unwrap()
    .with_sleep(Arc::new(|_| Box::pin(async {})))
}

#[tokio::test]
async fn the_humaans_token_does_not_follow_a_redirect_elsewhere() {
    let mut humaans_api = Server::new_async().await;
    let mut elsewhere = Server::new_async().await;
    let stolen = elsewhere
        .mock("GET", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let target = format!("{}/api/people", elsewhere.url());
    humaans_api
        .mock("GET", Matcher::Any)
        .with_status(301)
        .with_header("location", &target)
        .create_async()
        .await;
    let error = humaans(&humaans_api.url())
        .check_access()
        .await
        .unwrap_err();
    stolen.assert_async().await;
    assert!(error.to_string().contains(&target), "{error}");
    assert!(!error.is_retriable());
}

#[tokio::test]
async fn an_oversized_humaans_answer_fails_naming_the_limit() {
    let mut humaans_api = Server::new_async().await;
    humaans_api
        .mock("GET", Matcher::Any)
        .with_header("content-type", "application/json")
        .with_body(format!("{{\"x\":\"{}\"}}", "y".repeat(16 * 1024 * 1024)))
        .create_async()
        .await;
    let error = humaans(&humaans_api.url())
        .check_access()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("larger than 16777216 bytes"),
        "{error}"
    );
}
