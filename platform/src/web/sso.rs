//! Single sign-on: `/login/oidc` sends the browser to the provider, `/login/oidc/callback`
//! takes it back and signs the user in.
//!
//! The sign-in in progress lives in the database (`oidc_logins`, keyed by a hash of
//! `state`), bound to the browser by a cookie, and is deleted by the first callback that
//! names it: a replayed, forged or foreign `state` finds nothing. The callback then
//! exchanges the code with the PKCE verifier, verifies the ID token (signature, issuer,
//! audience, expiry, nonce), maps its claims to a username and a role, and creates the
//! session.

use axum::extract::{Query, State, rejection::QueryRejection};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Duration;

use super::login::safe_next;
use super::session::{SESSION_COOKIE, cookie};
use super::{WebError, WebState};
use crate::auth::{self, SessionToken};
use crate::oidc::{OidcError, username};
use crate::reports::escape_html;
use crate::store::{PendingLogin, SsoOutcome};

/// The cookie that binds a sign-in in progress to the browser that started it.
pub(crate) const SSO_COOKIE: &str = "seatbroker_sso";
/// The cookie that carries the console page asked for before the sign-in, so the callback
/// can lead back to it (checked by [`safe_next`] both when set and when followed).
pub(crate) const SSO_NEXT_COOKIE: &str = "seatbroker_sso_next";
/// How long a started sign-in may take.
pub(crate) const SIGN_IN_LIFETIME: Duration = Duration::minutes(10);

/// `Set-Cookie` for the binding cookie. `SameSite=Lax`, unlike the session cookie: the
/// provider sends the browser back with a cross-site navigation, which carries only Lax
/// cookies.
fn binding_cookie(value: &str, max_age_secs: i64, secure: bool) -> String {
    sign_in_cookie(SSO_COOKIE, value, max_age_secs, secure)
}

/// A cookie that lives only while a sign-in is in progress, sent only to `/login/oidc…`.
fn sign_in_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/login/oidc; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` headers appended (not inserted: several cookies share the header name).
fn with_cookies(mut response: Response, cookies: impl IntoIterator<Item = String>) -> Response {
    for value in cookies {
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct StartQuery {
    next: String,
}

fn provider_error(error: OidcError) -> WebError {
    tracing::warn!(%error, "Single sign-on failed at the identity provider.");
    WebError::bad_gateway(format!("Single sign-on failed: {error}."))
}

/// GET `/login/oidc`: records a sign-in and redirects to the provider.
pub(crate) async fn start(
    State(state): State<WebState>,
    query: Result<Query<StartQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    // An unreadable query string only loses the way back, never the sign-in.
    let next = query.map(|Query(q)| q.next).unwrap_or_default();
    let Some(oidc) = state.settings.oidc.clone() else {
        return Err(WebError::not_found(
            "Single sign-on is not configured on this platform; sign in with your password.",
        ));
    };
    let state_param = auth::random_token(24);
    let nonce = auth::random_token(24);
    let verifier = auth::random_token(32);
    let binding = auth::random_token(24);
    let url = oidc
        .authorization_url(&state_param, &nonce, &verifier)
        .await
        .map_err(provider_error)?;
    state
        .store
        .create_oidc_login(
            &auth::sha256_hex(&state_param),
            &auth::sha256_hex(&binding),
            &nonce,
            &verifier,
            SIGN_IN_LIFETIME,
        )
        .await?;
    let cookie = binding_cookie(
        &binding,
        SIGN_IN_LIFETIME.num_seconds(),
        state.settings.secure_cookies,
    );
    let secure = state.settings.secure_cookies;
    let lifetime = SIGN_IN_LIFETIME.num_seconds();
    // Percent-encoded so that no character of the path can end the cookie value.
    let next = safe_next(&next)
        .map(|next| sign_in_cookie(SSO_NEXT_COOKIE, &percent_encode(next), lifetime, secure))
        .unwrap_or_else(|| sign_in_cookie(SSO_NEXT_COOKIE, "", 0, secure));
    Ok(with_cookies(
        Redirect::to(&url).into_response(),
        [cookie, next],
    ))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A refusal after the provider vouched for someone: logged, audited, answered 403.
async fn refuse(state: &WebState, who: &str, reason: String) -> Result<WebError, WebError> {
    tracing::warn!(user = %who, %reason, "Single sign-on refused.");
    state
        .store
        .audit_event(
            who,
            "user.sso_refused",
            who,
            &serde_json::json!({"reason": reason}),
        )
        .await?;
    Ok(WebError::forbidden(format!("Sign-in refused: {reason}.")))
}

/// GET `/login/oidc/callback`: finishes the sign-in the provider sends back.
pub(crate) async fn callback(
    State(state): State<WebState>,
    headers: HeaderMap,
    query: Result<Query<Callback>, QueryRejection>,
) -> Result<Response, WebError> {
    let Some(oidc) = state.settings.oidc.clone() else {
        return Err(WebError::not_found(
            "Single sign-on is not configured on this platform.",
        ));
    };
    let Query(query) = query.map_err(|e| {
        WebError::bad_request(format!(
            "The identity provider's answer cannot be read: {e}."
        ))
    })?;
    let again = "Start again from the login page.";
    let Some(state_param) = query.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(WebError::bad_request(format!(
            "The identity provider's answer has no state parameter. {again}"
        )));
    };
    let Some(binding) = cookie(&headers, SSO_COOKIE).filter(|c| !c.is_empty()) else {
        return Err(WebError::bad_request(format!(
            "This browser has no sign-in in progress (its cookie is missing or expired): a sign-in must finish in the browser that started it. {again}"
        )));
    };
    let pending = state
        .store
        .take_oidc_login(&auth::sha256_hex(state_param), &auth::sha256_hex(binding))
        .await?;
    let (nonce, verifier) = match pending {
        PendingLogin::Found { nonce, verifier } => (nonce, verifier),
        PendingLogin::Unknown => {
            tracing::warn!("Single sign-on callback with an unknown or already used state.");
            return Err(WebError::bad_request(format!(
                "This sign-in was already used or was never started here: each sign-in works once. {again}"
            )));
        }
        PendingLogin::OtherBrowser => {
            tracing::warn!(
                "Single sign-on callback from another browser than the one that started it."
            );
            return Err(WebError::bad_request(format!(
                "This sign-in was started in another browser. {again}"
            )));
        }
        PendingLogin::Expired => {
            return Err(WebError::bad_request(format!(
                "This sign-in took longer than {} minutes. {again}",
                SIGN_IN_LIFETIME.num_minutes()
            )));
        }
    };
    if let Some(error) = &query.error {
        let description = query.error_description.as_deref().unwrap_or("");
        tracing::info!(%error, %description, "The identity provider did not sign the user in.");
        return Err(WebError::forbidden(format!(
            "The identity provider did not sign you in ({error}{}{description}).",
            if description.is_empty() { "" } else { ": " }
        )));
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(WebError::bad_request(format!(
            "The identity provider's answer has no code. {again}"
        )));
    };
    let id_token = oidc
        .exchange(code, &verifier)
        .await
        .map_err(provider_error)?;
    let issuer = oidc.settings.issuer.clone();
    let claims = match oidc.verify(&id_token, &nonce, state.store.now()).await {
        Ok(claims) => claims,
        Err(error) if error.is_provider() => return Err(provider_error(error)),
        Err(error) => return Err(refuse(&state, &issuer, error.to_string()).await?),
    };
    let subject = claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let name = match username(&claims, &oidc.settings.username_claim) {
        Ok(name) => name,
        Err(error) => return Err(refuse(&state, &subject, error.to_string()).await?),
    };
    let role = match oidc.settings.roles.role(&claims) {
        Ok(role) => role,
        Err(error) => return Err(refuse(&state, &name, error.to_string()).await?),
    };
    let (user_id, name, role) = match state
        .store
        .sso_sign_in(&issuer, &subject, &name, role)
        .await?
    {
        SsoOutcome::SignedIn {
            user_id,
            username,
            role,
            created,
        } => {
            tracing::info!(user = %username, %role, created, "Console sign-in with single sign-on.");
            (user_id, username, role)
        }
        SsoOutcome::Disabled { username } => {
            return Err(WebError::forbidden(format!(
                "Sign-in refused: the console user {username} is disabled. Ask an admin to enable it."
            )));
        }
        SsoOutcome::NameTaken => {
            return Err(WebError::conflict(format!(
                "Sign-in refused: a console user named {name} already exists and signs in with a password. Sign in with the password, or ask an admin to choose another --oidc-username-claim."
            )));
        }
    };
    let token = SessionToken::generate();
    state
        .store
        .create_session(
            &user_id,
            &token.id_hash,
            &token.csrf,
            auth::SESSION_LIFETIME,
        )
        .await?;
    let secure = state.settings.secure_cookies;
    let session = super::session::set_cookie(
        SESSION_COOKIE,
        token.id.expose(),
        "/",
        auth::SESSION_LIFETIME.num_seconds(),
        secure,
    );
    // The session cookie is SameSite=Strict, and this answer ends a navigation that began
    // at the provider, so a redirect from here would not send it yet. A page of our own
    // that moves on (no script: a meta refresh) starts a same-site navigation that does.
    // Back to the page asked for before the sign-in, checked again: the cookie came from
    // the browser.
    let next = cookie(&headers, SSO_NEXT_COOKIE)
        .and_then(percent_decode)
        .filter(|next| safe_next(next).is_some())
        .unwrap_or_else(|| "/".to_owned());
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={next}\"><title>Signed in · Seatbroker</title>\
         <link rel=\"stylesheet\" href=\"/static/console.css\"></head><body><main>\
         <h1>Signed in</h1><p>Signed in as {} ({role}). <a id=\"continue\" href=\"{next}\">Continue to the console</a></p>\
         </main></body></html>",
        escape_html(&name),
        next = escape_html(&next),
    );
    Ok(with_cookies(
        (StatusCode::OK, Html(page)).into_response(),
        [
            session,
            binding_cookie("", 0, secure),
            sign_in_cookie(SSO_NEXT_COOKIE, "", 0, secure),
        ],
    ))
}

/// Every byte outside unreserved characters and `/` as `%XX`: a cookie value can then hold
/// any path and query.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The inverse of [`percent_encode`]; `None` for a malformed escape or invalid UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_survives_the_cookie() {
        for next in [
            "/reclaim?state=orphaned&application=Slack%20Pro",
            "/people/p-1",
            "/",
        ] {
            let encoded = percent_encode(next);
            assert!(
                !encoded.contains([';', ',', ' ', '&', '=', '"']),
                "{encoded}"
            );
            assert_eq!(percent_decode(&encoded).as_deref(), Some(next));
        }
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }
}
