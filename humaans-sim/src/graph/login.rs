//! The Microsoft identity platform's token endpoint, client credentials only:
//! `POST {login}/{tenant}/oauth2/v2.0/token`, secrets with their application permissions,
//! JWT-shaped access tokens, revocation and expiry, and AAD-style errors.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::GraphState;
use crate::rng::Rng;
use crate::server::query::{Params, decode};

pub(crate) const USER_READ_ALL: &str = "User.Read.All";
pub(crate) const AUDIT_LOG_READ_ALL: &str = "AuditLog.Read.All";
pub(crate) const LICENSE_ASSIGNMENT_READ_ALL: &str = "LicenseAssignment.Read.All";
pub(crate) const ORGANIZATION_READ_ALL: &str = "Organization.Read.All";
pub(crate) const DIRECTORY_READ_ALL: &str = "Directory.Read.All";

/// The client secrets of the simulated app registration, each granted a different set of
/// application permissions. Test fixtures, not secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphSecrets {
    /// `User.Read.All`, `AuditLog.Read.All`, `LicenseAssignment.Read.All`.
    pub full: String,
    /// `User.Read.All`, `LicenseAssignment.Read.All`: selecting `signInActivity` is 403.
    pub no_audit_log: String,
    /// `User.Read.All`, `AuditLog.Read.All`: `/subscribedSkus` is 403.
    pub no_licence_read: String,
    /// `AuditLog.Read.All`, `LicenseAssignment.Read.All`: `/users` is 403.
    pub no_user_read: String,
    /// `User.Read.All`, `AuditLog.Read.All`, `Organization.Read.All` (the other permission
    /// that reads subscribed SKUs).
    pub organization_read: String,
}

impl GraphSecrets {
    /// Deterministic secrets for a seed, shaped like Entra ID's (`~` in the fourth place).
    pub fn for_seed(seed: u64) -> Self {
        let mut rng = Rng::derive(seed, 0x7365_6372_6574);
        let mut secret = |tag: &str| format!("{tag}{}~{}", rng.id(1), rng.id(34));
        Self {
            full: secret("Fu8"),
            no_audit_log: secret("nA4"),
            no_licence_read: secret("nL2"),
            no_user_read: secret("nU6"),
            organization_read: secret("oR3"),
        }
    }

    /// `(name, secret, application permissions)` of every secret.
    pub fn all(&self) -> [(&'static str, &str, &'static [&'static str]); 5] {
        [
            (
                "full",
                &self.full,
                &[
                    USER_READ_ALL,
                    AUDIT_LOG_READ_ALL,
                    LICENSE_ASSIGNMENT_READ_ALL,
                ],
            ),
            (
                "no_audit_log",
                &self.no_audit_log,
                &[USER_READ_ALL, LICENSE_ASSIGNMENT_READ_ALL],
            ),
            (
                "no_licence_read",
                &self.no_licence_read,
                &[USER_READ_ALL, AUDIT_LOG_READ_ALL],
            ),
            (
                "no_user_read",
                &self.no_user_read,
                &[AUDIT_LOG_READ_ALL, LICENSE_ASSIGNMENT_READ_ALL],
            ),
            (
                "organization_read",
                &self.organization_read,
                &[USER_READ_ALL, AUDIT_LOG_READ_ALL, ORGANIZATION_READ_ALL],
            ),
        ]
    }

    /// The secret called `name` (`full`, `no_audit_log`, ...).
    pub fn by_name(&self, name: &str) -> Option<&str> {
        self.all()
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, secret, _)| secret)
    }
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) secret: String,
    pub(crate) roles: &'static [&'static str],
    expires_at: u64,
    serial: u64,
}

/// Why a bearer token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Unknown,
    Expired,
    Revoked,
}

#[derive(Debug, Default)]
struct Ledger {
    issued: HashMap<String, Issued>,
    revoked: HashSet<String>,
    /// Tokens with a serial below this are expired.
    expired_below: u64,
    serial: u64,
}

/// Issued tokens and revoked secrets, shared by the login and Graph routes.
#[derive(Debug, Default)]
pub(crate) struct TokenLedger {
    inner: Mutex<Ledger>,
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TokenLedger {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn check(&self, token: &str) -> Result<Issued, Refused> {
        let ledger = self.lock();
        let issued = ledger.issued.get(token).ok_or(Refused::Unknown)?;
        if ledger.revoked.contains(&issued.secret) {
            return Err(Refused::Revoked);
        }
        if issued.serial < ledger.expired_below || unix_now() >= issued.expires_at {
            return Err(Refused::Expired);
        }
        Ok(issued.clone())
    }

    pub(crate) fn revoke(&self, secret: &str) {
        self.lock().revoked.insert(secret.to_owned());
    }

    pub(crate) fn is_revoked(&self, secret: &str) -> bool {
        self.lock().revoked.contains(secret)
    }

    /// Every token issued so far is expired from now on.
    pub(crate) fn expire_all(&self) {
        let mut ledger = self.lock();
        ledger.expired_below = ledger.serial;
    }

    fn issue(
        &self,
        seed: u64,
        secret: &str,
        roles: &'static [&'static str],
        lifetime: u64,
        claims: impl FnOnce(u64, u64) -> serde_json::Value,
    ) -> String {
        let mut ledger = self.lock();
        let serial = ledger.serial;
        ledger.serial += 1;
        let now = unix_now();
        let expires_at = now + lifetime;
        let header = r#"{"typ":"JWT","alg":"RS256","kid":"humaans-sim"}"#;
        let payload = claims(now, expires_at).to_string();
        let mut rng = Rng::derive(seed ^ serial, 0x006A_7774);
        let signature: Vec<u8> = (0..32).map(|_| rng.below(256) as u8).collect();
        let token = format!(
            "{}.{}.{}",
            base64url(header.as_bytes()),
            base64url(payload.as_bytes()),
            base64url(&signature)
        );
        ledger.issued.insert(
            token.clone(),
            Issued {
                secret: secret.to_owned(),
                roles,
                expires_at,
                serial,
            },
        );
        token
    }
}

/// Base64url without padding, as JWTs use.
pub(crate) fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for k in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * k) & 63) as usize]));
        }
    }
    out
}

/// Base64 in either alphabet (standard or URL-safe), padding optional.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

/// `client_secret_basic`: `Authorization: Basic base64(urlencoded id ":" urlencoded secret)`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let text = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((decode(id), decode(secret)))
}

/// An error of the token endpoint, as AAD sends it.
#[derive(Debug)]
pub(crate) struct AadError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
}

impl AadError {
    fn new(status: StatusCode, error: &'static str, code: u32, description: String) -> Self {
        Self {
            status,
            error,
            code,
            description,
        }
    }

    fn missing(parameter: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the parameter '{parameter}'."),
        )
    }

    fn render(self, state: &GraphState) -> Response {
        let now = chrono::Utc::now();
        let mut rng = Rng::derive(
            state.seed,
            state
                .login_requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        );
        let trace = super::directory::guid(&mut rng);
        let correlation = super::directory::guid(&mut rng);
        let stamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
        let body = serde_json::json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("{}/error?code={}", state.login_url, self.code),
        });
        json_response(self.status, body.to_string())
    }
}

pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    response
}

fn looks_like_tenant(text: &str) -> bool {
    let guid = text.len() == 36
        && text.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    let dns = text.contains('.')
        && text.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    guid || dns || matches!(text, "common" | "organizations" | "consumers")
}

/// `POST /login/{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    State(state): State<Arc<GraphState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match grant(&state, &tenant, &body, basic_credentials(&headers)) {
        Ok(response) => response,
        Err(error) => error.render(&state),
    }
}

/// Client credentials come in the form (`client_secret_post`) or, as AAD also accepts, in a
/// Basic authorization header (`client_secret_basic`).
fn grant(
    state: &GraphState,
    tenant: &str,
    body: &[u8],
    basic: Option<(String, String)>,
) -> Result<Response, AadError> {
    let bad = |error, code, text: String| AadError::new(StatusCode::BAD_REQUEST, error, code, text);
    if tenant != state.tenant_id && !tenant.eq_ignore_ascii_case(&state.tenant_domain) {
        return Err(if looks_like_tenant(tenant) {
            bad(
                "invalid_request",
                90002,
                format!(
                    "Tenant '{tenant}' not found. Check the tenant id; the tenant may have been deleted or belong to another cloud."
                ),
            )
        } else {
            bad(
                "invalid_request",
                900023,
                format!(
                    "The tenant identifier '{tenant}' is neither a GUID nor a valid domain name."
                ),
            )
        });
    }
    let form = Params::parse(Some(&String::from_utf8_lossy(body)));
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| AadError::missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(bad(
            "unsupported_grant_type",
            70003,
            format!(
                "The application asked for an unsupported grant type '{grant_type}'; this endpoint accepts client_credentials."
            ),
        ));
    }
    let client_id = form
        .get("client_id")
        .or(basic.as_ref().map(|(id, _)| id.as_str()))
        .ok_or_else(|| AadError::missing("client_id"))?;
    if client_id != state.client_id {
        return Err(bad(
            "unauthorized_client",
            700016,
            format!(
                "No application with identifier '{client_id}' exists in the directory '{}'. The application may not be installed in this tenant, or the request went to the wrong tenant.",
                state.tenant_id
            ),
        ));
    }
    let scope = form
        .get("scope")
        .ok_or_else(|| AadError::missing("scope"))?;
    let resource_ok = scope.strip_suffix("/.default").is_some_and(|resource| {
        resource == state.graph_url || resource == "https://graph.microsoft.com"
    });
    if !resource_ok {
        return Err(bad(
            "invalid_scope",
            1002012,
            format!(
                "The scope '{scope}' is not valid. The client credentials flow needs the resource identifier followed by /.default, here {}/.default.",
                state.graph_url
            ),
        ));
    }
    let secret = form
        .get("client_secret")
        .or(basic.as_ref().map(|(_, secret)| secret.as_str()));
    let Some(secret) = secret else {
        return Err(AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000216,
            "The request body must contain 'client_assertion' or 'client_secret'.".to_owned(),
        ));
    };
    let roles = state
        .secrets
        .all()
        .into_iter()
        .find(|(_, value, _)| *value == secret)
        .map(|(_, _, roles)| roles)
        .filter(|_| !state.tokens.is_revoked(secret));
    let Some(roles) = roles else {
        return Err(AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "The client secret given for app '{client_id}' is not valid. Send the secret's value, not its id; the secret may have been deleted."
            ),
        ));
    };
    let lifetime = state.token_lifetime_secs;
    let token = state
        .tokens
        .issue(state.seed, secret, roles, lifetime, |now, exp| {
            serde_json::json!({
                "aud": state.graph_url,
                "iss": format!("https://sts.windows.net/{}/", state.tenant_id),
                "iat": now,
                "nbf": now,
                "exp": exp,
                "app_displayname": "Seatbroker (simulated)",
                "appid": state.client_id,
                "idtyp": "app",
                "oid": state.service_principal_id,
                "roles": roles,
                "sub": state.service_principal_id,
                "tid": state.tenant_id,
                "ver": "1.0",
            })
        });
    let body = serde_json::json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_known_values() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("\u{ff}\u{fe}", "w7_Dvg"),
        ] {
            assert_eq!(base64url(input.as_bytes()), expected, "{input:?}");
        }
    }

    #[test]
    fn base64_decodes_both_alphabets() {
        for text in ["", "f", "fo", "foo", "foob", "\u{ff}\u{fe}"] {
            assert_eq!(
                base64_decode(&base64url(text.as_bytes())).unwrap(),
                text.as_bytes()
            );
        }
        assert_eq!(
            base64_decode("w7/Dvg==").unwrap(),
            "\u{ff}\u{fe}".as_bytes()
        );
        assert_eq!(base64_decode("a*b"), None);
    }

    #[test]
    fn tenant_shapes() {
        assert!(looks_like_tenant("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"));
        assert!(looks_like_tenant("contoso.onmicrosoft.com"));
        assert!(!looks_like_tenant("not a tenant"));
        assert!(!looks_like_tenant("abc"));
    }
}
