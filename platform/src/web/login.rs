//! Login and logout.
//!
//! Failed logins are counted per username and per client address in the database
//! (`login_attempts`), so every platform process enforces the same limits. While a limit
//! is reached, the password is not even checked.

use std::sync::OnceLock;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::pages::LoginPage;
use super::session::{
    ClientIp, CsrfOnly, LOGIN_CSRF_COOKIE, SESSION_COOKIE, UserForm, cookie, set_cookie,
};
use super::{WebError, WebState};
use crate::auth::{self, SessionToken};

#[derive(Debug, serde::Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn login_response(
    status: StatusCode,
    state: &WebState,
    username: &str,
    error: Option<String>,
) -> Result<Response, WebError> {
    let csrf = auth::random_token(24);
    let page = LoginPage {
        csrf: csrf.clone(),
        username: username.to_owned(),
        error,
    };
    let cookie = set_cookie(
        LOGIN_CSRF_COOKIE,
        &csrf,
        "/login",
        3600,
        state.settings.secure_cookies,
    );
    Ok((status, [(header::SET_COOKIE, cookie)], Html(page.render()?)).into_response())
}

pub(crate) async fn login_page(State(state): State<WebState>) -> Result<Response, WebError> {
    login_response(StatusCode::OK, &state, "", None)
}

/// A hash to verify against when the user does not exist, so a missing user takes as long
/// as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        auth::hash_password("no such user; this never matches")
            .unwrap_or_else(|_| "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned())
    })
}

pub(crate) async fn login(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || !auth::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return Err(WebError::csrf());
    }
    let username = form.username.trim().to_owned();
    let user_key = format!("user:{}", username.to_lowercase());
    let ip_key = ip.map(|ip| format!("ip:{ip}"));
    let store = &state.store;

    let user_failures = store.login_failures(&user_key, auth::LOGIN_WINDOW).await?;
    let ip_failures = match &ip_key {
        Some(key) => store.login_failures(key, auth::LOGIN_WINDOW).await?,
        None => 0,
    };
    if user_failures >= auth::MAX_FAILURES_PER_USERNAME as i64
        || ip_failures >= auth::MAX_FAILURES_PER_IP as i64
    {
        tracing::warn!(user = %username, ip = ?ip, "Login refused: too many failed attempts.");
        return login_response(
            StatusCode::TOO_MANY_REQUESTS,
            &state,
            &username,
            Some(format!(
                "Too many failed logins for this account or from this address. Wait {} minutes and try again, or ask an admin to reset the password.",
                auth::LOGIN_WINDOW.num_minutes()
            )),
        );
    }

    let user = store.user_for_login(&username).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_owned());
    let password = form.password;
    let matches = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .map_err(WebError::internal)?
        .unwrap_or_else(|error| {
            tracing::error!(%error, "Stored password hash is unreadable.");
            false
        });
    let user = match user {
        Some(user) if matches && !user.disabled => user,
        _ => {
            store
                .record_login_failure(&user_key, auth::LOGIN_WINDOW)
                .await?;
            if let Some(key) = &ip_key {
                store.record_login_failure(key, auth::LOGIN_WINDOW).await?;
            }
            tracing::info!(user = %username, ip = ?ip, "Login failed.");
            return login_response(
                StatusCode::UNAUTHORIZED,
                &state,
                &username,
                Some("Wrong username or password, or the account is disabled.".to_owned()),
            );
        }
    };
    store.clear_login_failures(&user_key).await?;
    let token = SessionToken::generate();
    store
        .create_session(
            &user.user_id,
            &token.id_hash,
            &token.csrf,
            auth::SESSION_LIFETIME,
        )
        .await?;
    tracing::info!(user = %user.username, role = %user.role, "Console login.");
    let secure = state.settings.secure_cookies;
    let session = set_cookie(
        SESSION_COOKIE,
        token.id.expose(),
        "/",
        auth::SESSION_LIFETIME.num_seconds(),
        secure,
    );
    let clear_login = set_cookie(LOGIN_CSRF_COOKIE, "", "/login", 0, secure);
    let mut response = Redirect::to("/").into_response();
    let headers = response.headers_mut();
    for value in [session, clear_login] {
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

pub(crate) async fn logout(
    State(state): State<WebState>,
    UserForm { user, form: _ }: UserForm<CsrfOnly>,
) -> Result<Response, WebError> {
    state.store.delete_session(&user.session_hash).await?;
    tracing::info!(user = %user.username, "Console logout.");
    let cookie = set_cookie(SESSION_COOKIE, "", "/", 0, state.settings.secure_cookies);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}
