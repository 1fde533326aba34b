//! The Entra ID client against mocked login and Graph endpoints (mockito): the token, its
//! cache and renewal, token errors, `@odata.nextLink` paging with the 120 cap, throttling,
//! failing pages, a tenant without sign-in activity, missing permissions; then the dry run
//! of the real binary.
//!
//! Retry sleeps are recorded by an injected sleep function and return at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use mockito::{Matcher, Mock, Server, ServerGuard};
use seatbroker_agent::entra::{
    EntraClient, EntraConfig, EntraError, NON_PREMIUM, REQUEST_DENIED, TokenProblem, to_licences,
};
use seatbroker_protocol::{LicencePolicy, Secret};
use serde_json::{Value, json};

const TENANT: &str = "6f1c2a9e-3b7d-4c1e-9a55-0d2f8e4b7c31";
const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
const SECRET: &str = "s3cret~value";
const SKU_E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
const SKU_BI: &str = "f8a1db68-be16-40ed-86d5-cb42ce701560";

fn as_of() -> NaiveDate {
    "2026-11-25".parse().unwrap()
}

type Sleeps = Arc<Mutex<Vec<Duration>>>;

fn entra_client(
    server: &ServerGuard,
    tweak: impl FnOnce(&mut EntraConfig),
) -> (EntraClient, Sleeps) {
    let mut config = EntraConfig::new(TENANT, CLIENT, Secret::new(SECRET));
    config.login_url = server.url();
    config.graph_url = server.url();
    tweak(&mut config);
    let sleeps: Sleeps = Arc::default();
    let recorded = sleeps.clone();
    let client = EntraClient::new(config)
        .unwrap()
        .with_sleep(Arc::new(move |d| {
            recorded.lock().unwrap().push(d);
            Box::pin(async {})
        }));
    (client, sleeps)
}

/// A JWT-shaped token whose payload lists `roles` (the signature is not checked).
fn jwt(roles: &[&str]) -> String {
    let payload = json!({"aud": "https://graph.microsoft.com", "roles": roles}).to_string();
    format!("eyJhbGciOiJub25lIn0.{}.c2ln", base64url(payload.as_bytes()))
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

const ALL_ROLES: &[&str] = &[
    "User.Read.All",
    "AuditLog.Read.All",
    "LicenseAssignment.Read.All",
];

async fn mock_token(server: &mut ServerGuard, expires_in: u64, hits: usize) -> Mock {
    server
        .mock("POST", format!("/{TENANT}/oauth2/v2.0/token").as_str())
        .match_header("content-type", "application/x-www-form-urlencoded")
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("grant_type".into(), "client_credentials".into()),
            Matcher::UrlEncoded("client_id".into(), CLIENT.into()),
            Matcher::UrlEncoded("client_secret".into(), SECRET.into()),
            Matcher::UrlEncoded("scope".into(), format!("{}/.default", server.url())),
        ]))
        .with_body(
            json!({"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
                   "access_token": jwt(ALL_ROLES)})
            .to_string(),
        )
        .expect(hits)
        .create_async()
        .await
}

async fn mock_skus(server: &mut ServerGuard) -> Mock {
    server
        .mock("GET", "/v1.0/subscribedSkus")
        .with_body(
            json!({"value": [
                {"skuId": SKU_E3, "skuPartNumber": "ENTERPRISEPACK", "consumedUnits": 20,
                 "prepaidUnits": {"enabled": 25, "warning": 0, "suspended": 0, "lockedOut": 0},
                 "capabilityStatus": "Enabled", "servicePlans": []},
                {"skuId": SKU_BI, "skuPartNumber": "POWER_BI_PRO", "consumedUnits": 9,
                 "prepaidUnits": {"enabled": 5, "warning": 0, "suspended": 0},
                 "capabilityStatus": "Enabled"}
            ]})
            .to_string(),
        )
        .create_async()
        .await
}

/// User `i`: every fifth never signed in, the next idle (40 days), the next disabled, the
/// rest recent; every third also holds Power BI; every eleventh holds nothing.
fn user(i: usize) -> Value {
    let activity = match i % 5 {
        0 => Value::Null,
        1 => json!({"lastSignInDateTime": "2026-10-16T09:00:00Z",
                    "lastNonInteractiveSignInDateTime": "0001-01-01T00:00:00Z"}),
        _ => json!({"lastSignInDateTime": "2026-10-01T09:00:00Z",
                    "lastNonInteractiveSignInDateTime": "2026-11-20T09:00:00Z"}),
    };
    let mut licences = vec![json!({"skuId": SKU_E3, "disabledPlans": []})];
    if i.is_multiple_of(3) {
        licences.push(json!({"skuId": SKU_BI, "disabledPlans": []}));
    }
    if i.is_multiple_of(11) {
        licences.clear();
    }
    json!({
        "id": format!("u{i:05}"),
        "userPrincipalName": format!("user{i}@acme.onmicrosoft.com"),
        "mail": format!("User{i}@Acme.com"),
        "otherMails": [],
        "proxyAddresses": [format!("SMTP:user{i}@acme.com"), format!("smtp:u{i}@acme.com")],
        "accountEnabled": i % 5 != 2,
        "userType": if i.is_multiple_of(13) { "Guest" } else { "Member" },
        "createdDateTime": "2024-01-01T00:00:00Z",
        "assignedLicenses": licences,
        "signInActivity": activity,
    })
}

/// What the rules say about `users` (0..n), counted here independently of the engine.
fn expected_counts(n: usize, activity: bool) -> [u64; 5] {
    // in_use, idle, never_used, disabled_holding, unknown_activity
    let mut counts = [0u64; 5];
    for i in 0..n {
        let held = if i.is_multiple_of(11) {
            0
        } else if i.is_multiple_of(3) {
            2
        } else {
            1
        };
        let slot = if i % 5 == 2 {
            3
        } else if !activity {
            4
        } else {
            match i % 5 {
                0 => 2,
                1 => 1,
                _ => 0,
            }
        };
        counts[slot] += held;
    }
    counts
}

/// Mocks the users listing: pages of `page` users following `@odata.nextLink`.
async fn mock_users(
    server: &mut ServerGuard,
    n: usize,
    page: usize,
    with_activity: bool,
) -> Vec<Mock> {
    let users: Vec<Value> = (0..n)
        .map(|i| {
            let mut u = user(i);
            if !with_activity {
                u.as_object_mut().unwrap().remove("signInActivity");
            }
            u
        })
        .collect();
    let top = if with_activity { "120" } else { "999" };
    let mut mocks = Vec::new();
    let chunks: Vec<&[Value]> = users.chunks(page).collect();
    for (index, chunk) in chunks.iter().enumerate() {
        let next = (index + 1 < chunks.len()).then(|| {
            format!(
                "{}/v1.0/users?$select=id&$top={top}&$skiptoken=X{}",
                server.url(),
                index + 1
            )
        });
        let query = if index == 0 {
            // Without activity the $top of 999 tells the two listings apart.
            let mut all = vec![
                Matcher::UrlEncoded("$top".into(), top.into()),
                Matcher::Regex("userPrincipalName".into()),
            ];
            if with_activity {
                all.push(Matcher::Regex("signInActivity".into()));
            }
            Matcher::AllOf(all)
        } else {
            Matcher::UrlEncoded("$skiptoken".into(), format!("X{index}"))
        };
        let mut body = json!({"@odata.context": "x", "value": chunk});
        if let Some(next) = next {
            body["@odata.nextLink"] = Value::from(next);
        }
        mocks.push(
            server
                .mock("GET", "/v1.0/users")
                .match_query(query)
                .with_body(body.to_string())
                .expect(1)
                .create_async()
                .await,
        );
    }
    mocks
}

fn graph_error(code: &str, message: &str) -> String {
    json!({"error": {"code": code, "message": message,
                     "innerError": {"date": "2026-11-25T12:00:00", "request-id": "r"}}})
    .to_string()
}

#[tokio::test]
async fn collects_every_page_once_with_one_token() {
    let mut server = Server::new_async().await;
    let token = mock_token(&mut server, 3599, 1).await;
    let _skus = mock_skus(&mut server).await;
    let pages = mock_users(&mut server, 250, 120, true).await;
    let (client, sleeps) = entra_client(&server, |_| {});
    let directory = client.collect().await.unwrap();
    token.assert_async().await;
    for page in &pages {
        page.assert_async().await;
    }
    assert_eq!(pages.len(), 3);
    assert_eq!((directory.users.len(), directory.users_seen), (250, 250));
    assert_eq!(directory.pages, 3);
    assert!(directory.activity_available);
    assert!(sleeps.lock().unwrap().is_empty());

    let licences = to_licences(&directory, &LicencePolicy::default(), as_of(), None).unwrap();
    let c = &licences.counts;
    assert_eq!(
        [
            c.in_use,
            c.idle,
            c.never_used,
            c.disabled_holding,
            c.unknown_activity
        ],
        expected_counts(250, true)
    );
    assert_eq!(licences.accounts_total, 250);
    let pools: Vec<_> = licences
        .pools
        .iter()
        .map(|p| (p.name.as_str(), p.purchased, p.assigned, p.unassigned))
        .collect();
    assert_eq!(
        pools,
        [
            ("ENTERPRISEPACK", Some(25), 20, Some(5)),
            ("POWER_BI_PRO", Some(5), 9, Some(0))
        ]
    );
    let first = &licences.accounts[1];
    assert_eq!(first.email.as_deref(), Some("user1@acme.com"));
    assert_eq!(first.aliases, ["user1@acme.com", "u1@acme.com"]);
}

#[tokio::test]
async fn an_expiring_token_is_renewed_and_a_401_gets_one_new_token() {
    // A token that expires at once is renewed before every request: SKUs + 2 pages.
    let mut server = Server::new_async().await;
    let token = mock_token(&mut server, 0, 3).await;
    let _skus = mock_skus(&mut server).await;
    let _pages = mock_users(&mut server, 130, 120, true).await;
    let (client, _) = entra_client(&server, |_| {});
    client.collect().await.unwrap();
    token.assert_async().await;

    // Graph rejects the cached token once: one new token, the request succeeds.
    let mut server = Server::new_async().await;
    let token = mock_token(&mut server, 3599, 2).await;
    let _rejected = server
        .mock("GET", "/v1.0/subscribedSkus")
        .with_status(401)
        .with_body(graph_error(
            "InvalidAuthenticationToken",
            "Lifetime validation failed",
        ))
        .expect(1)
        .create_async()
        .await;
    let _skus = mock_skus(&mut server).await;
    let _pages = mock_users(&mut server, 5, 120, true).await;
    let (client, _) = entra_client(&server, |_| {});
    client.collect().await.unwrap();
    token.assert_async().await;

    // Rejected again with the new token: an error, not a loop.
    let mut server = Server::new_async().await;
    let token = mock_token(&mut server, 3599, 2).await;
    let _rejected = server
        .mock("GET", "/v1.0/subscribedSkus")
        .with_status(401)
        .with_body(graph_error(
            "InvalidAuthenticationToken",
            "Access token is empty.",
        ))
        .expect(2)
        .create_async()
        .await;
    let (client, _) = entra_client(&server, |_| {});
    let error = client.collect().await.unwrap_err();
    assert!(matches!(error, EntraError::Unauthorized { .. }), "{error}");
    token.assert_async().await;
}

#[tokio::test]
async fn token_errors_name_what_is_wrong_and_are_never_retried() {
    let cases: [(usize, &str, &[u64], TokenProblem, &str); 5] = [
        (
            400,
            "invalid_request",
            &[900023],
            TokenProblem::Tenant,
            "is not a Microsoft Entra tenant",
        ),
        (
            400,
            "unauthorized_client",
            &[700016],
            TokenProblem::ClientId,
            "no application with client_id",
        ),
        (
            401,
            "invalid_client",
            &[7000215],
            TokenProblem::Secret,
            "the client secret is wrong",
        ),
        (
            401,
            "invalid_client",
            &[7000222],
            TokenProblem::SecretExpired,
            "has expired",
        ),
        (
            400,
            "invalid_scope",
            &[1002012],
            TokenProblem::Other,
            "check tenant_id, client_id",
        ),
    ];
    for (status, error_name, codes, problem, words) in cases {
        let mut server = Server::new_async().await;
        let code_text = codes
            .iter()
            .map(|c| format!("AADSTS{c}"))
            .collect::<String>();
        let token = server
            .mock("POST", format!("/{TENANT}/oauth2/v2.0/token").as_str())
            .with_status(status)
            .with_body(
                json!({"error": error_name, "error_description": format!("{code_text}: something"),
                       "error_codes": codes, "timestamp": "2026-11-25 12:00:00Z"})
                .to_string(),
            )
            .expect(1)
            .create_async()
            .await;
        let (client, sleeps) = entra_client(&server, |_| {});
        let error = client.collect().await.unwrap_err();
        token.assert_async().await;
        assert!(sleeps.lock().unwrap().is_empty(), "{error_name}: retried");
        match &error {
            EntraError::TokenRefused { problem: got, .. } => assert_eq!(*got, problem),
            other => panic!("{error_name}: {other}"),
        }
        let message = error.to_string();
        assert!(message.contains(words), "{message}");
        assert!(
            message.contains(&format!("AADSTS{}", codes[0])),
            "{message}"
        );
        assert!(!message.contains(SECRET), "{message}");
        assert!(error.is_config() && !error.is_retriable());
    }
}

#[tokio::test]
async fn throttling_honours_retry_after() {
    for (status, retry_after) in [(429, "7"), (503, "3"), (504, "1")] {
        let mut server = Server::new_async().await;
        let _token = mock_token(&mut server, 3599, 1).await;
        let _skus = mock_skus(&mut server).await;
        let _throttled = server
            .mock("GET", "/v1.0/users")
            .match_query(Matcher::UrlEncoded("$skiptoken".into(), "X1".into()))
            .with_status(status)
            .with_header("retry-after", retry_after)
            .with_body(graph_error("TooManyRequests", "Too many requests"))
            .expect(1)
            .create_async()
            .await;
        let _pages = mock_users(&mut server, 200, 120, true).await;
        let (client, sleeps) = entra_client(&server, |_| {});
        let directory = client.collect().await.unwrap();
        assert_eq!(directory.users.len(), 200, "{status}");
        let want = Duration::from_secs(retry_after.parse().unwrap());
        assert_eq!(*sleeps.lock().unwrap(), [want], "{status}");
    }
}

#[tokio::test]
async fn a_page_that_fails_for_good_fails_the_collection() {
    let mut server = Server::new_async().await;
    let _token = mock_token(&mut server, 3599, 1).await;
    let _skus = mock_skus(&mut server).await;
    let _broken = server
        .mock("GET", "/v1.0/users")
        .match_query(Matcher::UrlEncoded("$skiptoken".into(), "X1".into()))
        .with_status(500)
        .with_body(graph_error("InternalServerError", "boom"))
        .expect(4)
        .create_async()
        .await;
    let _pages = mock_users(&mut server, 200, 120, true).await;
    let (client, sleeps) = entra_client(&server, |c| c.retry.max_attempts = 4);
    let error = client.collect().await.unwrap_err();
    assert!(
        matches!(&error, EntraError::RetriesExhausted { attempts: 4, .. }),
        "{error}"
    );
    assert!(error.is_retriable());
    assert_eq!(sleeps.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_tenant_without_sign_in_activity_is_collected_without_it() {
    for code in [NON_PREMIUM, REQUEST_DENIED] {
        let mut server = Server::new_async().await;
        let _token = mock_token(&mut server, 3599, 1).await;
        let _skus = mock_skus(&mut server).await;
        let refused = server
            .mock("GET", "/v1.0/users")
            .match_query(Matcher::UrlEncoded("$top".into(), "120".into()))
            .with_status(403)
            .with_body(graph_error(
                code,
                "Neither tenant is B2C or tenant doesn't have premium license",
            ))
            .expect(1)
            .create_async()
            .await;
        let pages = mock_users(&mut server, 1500, 999, false).await;
        let (client, _) = entra_client(&server, |_| {});
        let directory = client.collect().await.unwrap();
        refused.assert_async().await;
        for page in &pages {
            page.assert_async().await;
        }
        assert!(!directory.activity_available, "{code}");
        assert_eq!(directory.users.len(), 1500);
        let licences = to_licences(&directory, &LicencePolicy::default(), as_of(), None).unwrap();
        let c = &licences.counts;
        assert_eq!((c.idle, c.never_used), (0, 0), "{code}: no guessing");
        assert_eq!(
            [
                c.in_use,
                c.idle,
                c.never_used,
                c.disabled_holding,
                c.unknown_activity
            ],
            expected_counts(1500, false)
        );
        assert!(!licences.activity_available);
    }
}

#[tokio::test]
async fn missing_permissions_are_named() {
    // No LicenseAssignment.Read.All: subscribedSkus is refused.
    let mut server = Server::new_async().await;
    let _token = mock_token(&mut server, 3599, 1).await;
    let _skus = server
        .mock("GET", "/v1.0/subscribedSkus")
        .with_status(403)
        .with_body(graph_error(
            REQUEST_DENIED,
            "Insufficient privileges to complete the operation.",
        ))
        .create_async()
        .await;
    let (client, _) = entra_client(&server, |_| {});
    let message = client.collect().await.unwrap_err().to_string();
    assert!(message.contains("LicenseAssignment.Read.All"), "{message}");
    assert!(message.contains("Grant admin consent"), "{message}");

    // No User.Read.All: users are refused with and without activity.
    let mut server = Server::new_async().await;
    let _token = mock_token(&mut server, 3599, 1).await;
    let _skus = mock_skus(&mut server).await;
    let _users = server
        .mock("GET", "/v1.0/users")
        .match_query(Matcher::Any)
        .with_status(403)
        .with_body(graph_error(
            REQUEST_DENIED,
            "Insufficient privileges to complete the operation.",
        ))
        .expect(2)
        .create_async()
        .await;
    let (client, _) = entra_client(&server, |_| {});
    let error = client.collect().await.unwrap_err();
    assert!(error.to_string().contains("User.Read.All"), "{error}");
    assert!(error.is_config());
}

#[tokio::test]
async fn check_names_the_permissions_the_token_lacks() {
    let mut server = Server::new_async().await;
    let _token = server
        .mock("POST", format!("/{TENANT}/oauth2/v2.0/token").as_str())
        .with_body(
            json!({"token_type": "Bearer", "expires_in": 3599,
                   "access_token": jwt(&["User.Read.All", "Organization.Read.All"])})
            .to_string(),
        )
        .create_async()
        .await;
    let _skus = mock_skus(&mut server).await;
    let _activity = server
        .mock("GET", "/v1.0/users")
        .match_query(Matcher::Regex("signInActivity".into()))
        .with_status(403)
        .with_body(graph_error(REQUEST_DENIED, "Insufficient privileges"))
        .create_async()
        .await;
    let _users = server
        .mock("GET", "/v1.0/users")
        .match_query(Matcher::Any)
        .with_body(json!({"value": [{"id": "u1"}]}).to_string())
        .create_async()
        .await;
    let (client, _) = entra_client(&server, |_| {});
    let access = client.check_access().await.unwrap();
    assert_eq!(access.missing, ["AuditLog.Read.All"]);
    assert!(!access.activity_available);
    let failed: Vec<&str> = access
        .probes
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(what, _)| *what)
        .collect();
    assert_eq!(failed, ["sign-in activity"]);
}

#[tokio::test]
async fn unparsable_users_are_counted_and_listed() {
    let mut server = Server::new_async().await;
    let _token = mock_token(&mut server, 3599, 1).await;
    let _skus = mock_skus(&mut server).await;
    let mut broken = user(1);
    broken["createdDateTime"] = Value::from("yesterday");
    let _users = server
        .mock("GET", "/v1.0/users")
        .match_query(Matcher::Any)
        .with_body(json!({"value": [user(2), broken, {"no": "id"}]}).to_string())
        .create_async()
        .await;
    let (client, _) = entra_client(&server, |_| {});
    let directory = client.collect().await.unwrap();
    assert_eq!((directory.users.len(), directory.users_seen), (1, 3));
    assert_eq!(directory.unparsable_users.len(), 2);
    assert!(
        directory.unparsable_users[0].starts_with("u00001: "),
        "{:?}",
        directory.unparsable_users
    );
    let licences = to_licences(&directory, &LicencePolicy::default(), as_of(), None).unwrap();
    assert_eq!(licences.unparsable_records.len(), 2);
}

/// `collect --dry-run --json` of the real binary for an `entra_id` source: exactly the keys
/// of the contract, no enrollment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_contract_json() {
    let mut server = Server::new_async().await;
    let _token = mock_token(&mut server, 3599, 1).await;
    let _skus = mock_skus(&mut server).await;
    let _pages = mock_users(&mut server, 130, 120, true).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("entra-secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            "platform:\n  url: https://platform.invalid\nsources:\n  - name: m365\n    kind: entra_id\n    tenant_id: {TENANT}\n    client_id: {CLIENT}\n    client_secret_file: {}\n    login_url: {url}\n    graph_url: {url}\n",
            secret.display(),
            url = server.url()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        crate::config::agent(&[
            "--config",
            config.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "collect",
            "--dry-run",
            "--source",
            "m365",
            "--as-of",
            "2026-11-25",
            "--json",
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    let [in_use, idle, never_used, disabled_holding, unknown_activity] = expected_counts(130, true);
    assert_eq!(
        out,
        json!({
            "kind": "entra_id",
            "as_of": "2026-11-25",
            "activity_available": true,
            "accounts": {"total": 130, "counts": {
                "in_use": in_use, "idle": idle, "never_used": never_used,
                "disabled_holding": disabled_holding, "unknown_activity": unknown_activity}},
            "pools": [
                {"id": SKU_E3, "name": "ENTERPRISEPACK", "purchased": 25, "assigned": 20, "unassigned": 5},
                {"id": SKU_BI, "name": "POWER_BI_PRO", "purchased": 5, "assigned": 9, "unassigned": 0}
            ]
        })
    );
}

/// The service's collector on an `entra_id` source: a schema-2 snapshot in the spool, the
/// missing activity recorded as a warning; a page that fails for good spools nothing.
#[tokio::test]
async fn the_service_spools_a_licence_snapshot_or_nothing() {
    use seatbroker_agent::Config;
    use seatbroker_agent::HumaansCollector;
    use seatbroker_agent::StateStore;
    use seatbroker_agent::{Service, ServiceOptions};

    let mut server = Server::new_async().await;
    let _token = mock_token(&mut server, 3599, 2).await;
    let _skus = mock_skus(&mut server).await;
    let _refused = server
        .mock("GET", "/v1.0/users")
        .match_query(Matcher::UrlEncoded("$top".into(), "120".into()))
        .with_status(403)
        .with_body(graph_error(NON_PREMIUM, "no premium licence"))
        .create_async()
        .await;
    let _broken = server
        .mock("GET", "/v1.0/users")
        .match_query(Matcher::UrlEncoded("$skiptoken".into(), "X1".into()))
        .with_status(400)
        .with_body(graph_error("BadRequest", "invalid skiptoken"))
        .expect(1)
        .create_async()
        .await;
    let _pages = mock_users(&mut server, 1200, 999, false).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    let text = format!(
        "platform:\n  url: https://platform.invalid\nsources:\n  - name: m365\n    kind: entra_id\n    tenant_id: {TENANT}\n    client_id: {CLIENT}\n    client_secret_file: {}\n    login_url: {url}\n    graph_url: {url}\n",
        secret.display(),
        url = server.url()
    );
    let config = Config::parse(&text, std::path::Path::new("agent.yaml")).unwrap();
    let source = config.sources[0].clone();
    let store = StateStore::open(&dir.path().join("state")).unwrap();
    let service = Service::new(
        config,
        store.clone(),
        HumaansCollector::default(),
        ServiceOptions::default(),
    )
    .unwrap();

    // The second page fails for good: nothing is spooled, the failure is recorded.
    let error = service.collect_once(&source).await.unwrap_err();
    assert!(error.to_string().contains("invalid skiptoken"), "{error}");
    assert!(service.spool().pending("m365").unwrap().is_empty());

    // Now it pages through: one schema-2 snapshot, activity marked unavailable.
    service.collect_once(&source).await.unwrap();
    let pending = service.spool().pending("m365").unwrap();
    assert_eq!(pending.len(), 1);
    let bytes = service.spool().read(&pending[0]).unwrap();
    let payload = seatbroker_protocol::decode_parts(
        std::slice::from_ref(&bytes),
        &seatbroker_protocol::checksum(&bytes),
    )
    .unwrap();
    assert_eq!(payload.schema, 2);
    assert!(payload.seats.is_empty());
    assert_eq!(payload.collection.tenant_id, TENANT);
    let licences = payload.licences.unwrap();
    assert!(!licences.activity_available);
    assert_eq!(licences.accounts_total, 1200);
    let record = store.load().unwrap();
    let last = record.sources["m365"].last_collection.clone().unwrap();
    assert!(last.succeeded);
    assert_eq!(last.people, 1200);
    assert!(
        last.warning.unwrap().contains("AuditLog.Read.All"),
        "the warning says why activity is missing"
    );
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let mut server = Server::new_async().await;
    let _token = mock_token(&mut server, 3599, 1).await;
    let _skus = mock_skus(&mut server).await;
    let _users = server
        .mock("GET", "/v1.0/users")
        .match_query(Matcher::Any)
        .with_body(
            json!({"value": [user(1)],
                   "@odata.nextLink": "https://elsewhere.example/v1.0/users?$skiptoken=X"})
            .to_string(),
        )
        .create_async()
        .await;
    let (client, _) = entra_client(&server, |_| {});
    let error = client.collect().await.unwrap_err();
    assert!(
        error.to_string().contains("does not point to graph_url"),
        "{error}"
    );
}

/// `check` of the real binary names the permission the token lacks and the missing
/// sign-in activity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_missing_permissions_and_activity() {
    let mut server = Server::new_async().await;
    let _token = server
        .mock("POST", format!("/{TENANT}/oauth2/v2.0/token").as_str())
        .with_body(
            json!({"token_type": "Bearer", "expires_in": 3599,
                   "access_token": jwt(&["User.Read.All", "Organization.Read.All"])})
            .to_string(),
        )
        .create_async()
        .await;
    let _skus = mock_skus(&mut server).await;
    let _activity = server
        .mock("GET", "/v1.0/users")
        .match_query(Matcher::Regex("signInActivity".into()))
        .with_status(403)
        .with_body(graph_error(REQUEST_DENIED, "Insufficient privileges"))
        .create_async()
        .await;
    let _users = server
        .mock("GET", "/v1.0/users")
        .match_query(Matcher::Any)
        .with_body(json!({"value": []}).to_string())
        .create_async()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("entra-secret");
    std::fs::write(&secret, SECRET).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            "platform:\n  url: http://127.0.0.1:9\nsources:\n  - name: m365\n    kind: entra_id\n    tenant_id: {TENANT}\n    client_id: {CLIENT}\n    client_secret_file: {}\n    login_url: {url}\n    graph_url: {url}\n",
            secret.display(),
            url = server.url()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let (_, stdout, stderr) = tokio::task::spawn_blocking(move || {
        crate::config::agent(&[
            "--config",
            config.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "check",
        ])
    })
    .await
    .unwrap();
    assert!(
        stdout.contains("ok    source m365: Entra ID issued a token"),
        "{stdout}{stderr}"
    );
    assert!(
        stdout.contains("WARN  source m365: the app registration lacks the application permission(s) AuditLog.Read.All"),
        "{stdout}"
    );
    assert!(
        stdout.contains("WARN  source m365: sign-in activity is not available"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    source m365: Graph answers users"),
        "{stdout}"
    );
}
