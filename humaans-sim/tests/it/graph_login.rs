//! The Entra ID token endpoint and Graph's authentication and permission answers.

use std::time::Duration;

use humaans_sim::graph::{GraphOptions, GraphSimulator};
use reqwest::StatusCode;
use serde_json::Value;

use crate::graph_support::{
    SELECT, SELECT_WITHOUT_SIGN_IN, graph_error, graph_get, options, start, token, token_for,
    token_request,
};

fn decode_base64url(text: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {text}"),
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// The claims of a JWT-shaped token.
fn claims(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "header.payload.signature: {token}");
    let header: Value = serde_json::from_slice(&decode_base64url(parts[0])).unwrap();
    assert_eq!(header["typ"], "JWT");
    serde_json::from_slice(&decode_base64url(parts[1])).unwrap()
}

#[tokio::test]
async fn tokens_carry_the_secrets_permissions() {
    let sim = start(GraphOptions {
        token_lifetime: Duration::from_secs(600),
        ..options(30, 5)
    })
    .await;
    let secrets = sim.secrets().clone();
    let cases: [(&str, &[&str]); 5] = [
        (
            &secrets.full,
            &[
                "User.Read.All",
                "AuditLog.Read.All",
                "LicenseAssignment.Read.All",
            ],
        ),
        (
            &secrets.no_audit_log,
            &["User.Read.All", "LicenseAssignment.Read.All"],
        ),
        (
            &secrets.no_licence_read,
            &["User.Read.All", "AuditLog.Read.All"],
        ),
        (
            &secrets.no_user_read,
            &["AuditLog.Read.All", "LicenseAssignment.Read.All"],
        ),
        (
            &secrets.organization_read,
            &[
                "User.Read.All",
                "AuditLog.Read.All",
                "Organization.Read.All",
            ],
        ),
    ];
    for (secret, roles) in cases {
        let reply = token_for(&sim, secret).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let body = reply.json();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 600);
        assert_eq!(body["ext_expires_in"], 600);
        let claims = claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["roles"], serde_json::json!(roles));
        assert_eq!(claims["tid"], sim.tenant_id());
        assert_eq!(claims["appid"], sim.client_id());
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            600
        );
    }
    sim.shutdown().await;
}

/// A token request's form fields.
type Form = Vec<(&'static str, String)>;

#[tokio::test]
async fn token_errors_name_what_is_wrong() {
    let sim = start(options(30, 6)).await;
    let scope = format!("{}/.default", sim.graph_url());
    let client = sim.client_id().to_owned();
    let secret = sim.secrets().full.clone();
    let tenant = sim.tenant_id().to_owned();
    let good = |skip: &str| -> Form {
        [
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", client.clone()),
            ("client_secret", secret.clone()),
            ("scope", scope.clone()),
        ]
        .into_iter()
        .filter(|(k, _)| *k != skip)
        .collect()
    };
    let with = |key: &'static str, value: &str| -> Form {
        let mut form = good("");
        form.iter_mut().find(|(k, _)| *k == key).unwrap().1 = value.to_owned();
        form
    };
    // (tenant, form, status, error, code)
    let cases: Vec<(&str, Form, u16, &str, u64)> = vec![
        ("not a tenant!", good(""), 400, "invalid_request", 900023),
        (
            "00000000-1111-2222-3333-444444444444",
            good(""),
            400,
            "invalid_request",
            90002,
        ),
        (
            &tenant,
            with("client_id", "5f0c2b1e-0000-4000-8000-000000000000"),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            &tenant,
            with("client_secret", "wrong~secret"),
            401,
            "invalid_client",
            7000215,
        ),
        (
            &tenant,
            good("client_secret"),
            401,
            "invalid_client",
            7000216,
        ),
        (&tenant, good("grant_type"), 400, "invalid_request", 900144),
        (
            &tenant,
            with("grant_type", "password"),
            400,
            "unsupported_grant_type",
            70003,
        ),
        (
            &tenant,
            with("scope", "https://example.invalid/.default"),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            &tenant,
            with("scope", "User.Read.All"),
            400,
            "invalid_scope",
            1002012,
        ),
    ];
    for (tenant, form, status, error, code) in cases {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = token_request(&sim, tenant, &pairs).await;
        let body = reply.json();
        let case = format!("tenant {tenant:?}, form {form:?}: {}", reply.text);
        assert_eq!(reply.status.as_u16(), status, "{case}");
        assert_eq!(body["error"], error, "{case}");
        assert_eq!(body["error_codes"], serde_json::json!([code]), "{case}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.starts_with(&format!("AADSTS{code}:")), "{case}");
    }
    // client_secret_basic: the credentials in a Basic authorization header.
    let basic = {
        let raw = format!("{client}:{secret}");
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in raw.as_bytes().chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for k in 0..4 {
                out.push(if k <= chunk.len() {
                    char::from(alphabet[(n >> (18 - 6 * k) & 63) as usize])
                } else {
                    '='
                });
            }
        }
        out
    };
    let reply = reqwest::Client::new()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", sim.login_url()))
        .header("authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", scope.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    // The tenant's domain name is as good as its id.
    let domain = sim.tenant_domain().to_owned();
    let form = good("");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = token_request(&sim, &domain, &pairs).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    sim.shutdown().await;
}

/// (secret name, path, expected status, expected Graph error code)
fn check_permissions(sim: &GraphSimulator) -> Vec<(String, String, u16, Option<&'static str>)> {
    let users = |select: &str| format!("/v1.0/users?$select={select}&$top=5");
    let s = sim.secrets();
    let forbidden = Some("Authorization_RequestDenied");
    vec![
        (s.full.clone(), "/v1.0/subscribedSkus".into(), 200, None),
        (s.full.clone(), users(SELECT), 200, None),
        (
            s.no_audit_log.clone(),
            "/v1.0/subscribedSkus".into(),
            200,
            None,
        ),
        (
            s.no_audit_log.clone(),
            users(SELECT_WITHOUT_SIGN_IN),
            200,
            None,
        ),
        (s.no_audit_log.clone(), users(SELECT), 403, forbidden),
        (
            s.no_licence_read.clone(),
            "/v1.0/subscribedSkus".into(),
            403,
            forbidden,
        ),
        (s.no_licence_read.clone(), users(SELECT), 200, None),
        (
            s.no_user_read.clone(),
            users(SELECT_WITHOUT_SIGN_IN),
            403,
            forbidden,
        ),
        (
            s.no_user_read.clone(),
            "/v1.0/subscribedSkus".into(),
            200,
            None,
        ),
        (
            s.organization_read.clone(),
            "/v1.0/subscribedSkus".into(),
            200,
            None,
        ),
        (s.organization_read.clone(), users(SELECT), 200, None),
    ]
}

#[tokio::test]
async fn each_secret_gets_what_its_permissions_allow() {
    let sim = start(options(40, 7)).await;
    for (secret, path, status, code) in check_permissions(&sim) {
        let token = token(&sim, &secret).await;
        let reply = graph_get(&sim, Some(&token), &path).await;
        assert_eq!(reply.status.as_u16(), status, "{path}: {}", reply.text);
        if let Some(code) = code {
            assert_eq!(graph_error(&reply), code, "{path}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_non_premium_tenant_refuses_sign_in_activity_only() {
    let sim = start(GraphOptions {
        premium: false,
        ..options(40, 8)
    })
    .await;
    let token = token(&sim, &sim.secrets().full.clone()).await;
    let reply = graph_get(&sim, Some(&token), &format!("/v1.0/users?$select={SELECT}")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        graph_error(&reply),
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    );
    let reply = graph_get(
        &sim,
        Some(&token),
        &format!("/v1.0/users?$select={SELECT_WITHOUT_SIGN_IN}"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(!sim.truth(true).activity_available);
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_bad_expired_and_revoked_tokens_are_401() {
    let sim = start(options(30, 9)).await;
    let path = "/v1.0/subscribedSkus";
    let unauthorized = |reply: &crate::support::Reply| {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
        assert_eq!(graph_error(reply), "InvalidAuthenticationToken");
        assert!(reply.headers.contains_key("www-authenticate"));
    };
    unauthorized(&graph_get(&sim, None, path).await);
    unauthorized(&graph_get(&sim, Some("eyJhbGciOi.not.real"), path).await);

    let old = token(&sim, &sim.secrets().full.clone()).await;
    assert_eq!(
        graph_get(&sim, Some(&old), path).await.status,
        StatusCode::OK
    );
    sim.expire_tokens();
    let expired = graph_get(&sim, Some(&old), path).await;
    unauthorized(&expired);
    assert!(expired.text.contains("expired"), "{}", expired.text);
    let fresh = token(&sim, &sim.secrets().full.clone()).await;
    assert_eq!(
        graph_get(&sim, Some(&fresh), path).await.status,
        StatusCode::OK
    );

    let secret = sim.secrets().full.clone();
    assert!(sim.revoke_secret(&secret));
    assert!(!sim.revoke_secret("never-issued"));
    unauthorized(&graph_get(&sim, Some(&fresh), path).await);
    let refused = token_for(&sim, &secret).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["error_codes"], serde_json::json!([7000215]));
    // Other secrets are unaffected.
    token(&sim, &sim.secrets().no_audit_log.clone()).await;
    sim.shutdown().await;
}
