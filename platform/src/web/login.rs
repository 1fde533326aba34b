//! Login and logout.
//!
//! Login attempts are reserved per username and per client address in the database
//! (`login_attempts`) before the password is checked, in one atomic statement, so every
//! platform process enforces the same limits even under concurrent guesses. A failed
//! attempt keeps its reservation; a successful one clears the username's and gives the
//! address's back. While a limit is reached, the password is not even checked, and
//! password checks run at most `auth::MAX_CONCURRENT_HASHES` at a time.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::pages::LoginPage;
use super::session::{
    ClientIp, CsrfOnly, LOGIN_CSRF_COOKIE, SESSION_COOKIE, UserForm, cookie, set_cookie,
};
use super::{WebError, WebState};
use crate::auth::{self, SessionToken};
use crate::oidc::LocalPasswords;
use crate::store::NO_PASSWORD;

#[derive(Debug, serde::Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// Where to go after logging in: a local path (see [`safe_next`]).
    #[serde(default)]
    next: String,
}

/// `?next=` of the login page.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct LoginQuery {
    next: String,
}

/// `next` if it is a path on this console, else `None`: it must start with one `/`
/// (`//host` and `/\host` leave the site in browsers), hold no backslash or control
/// character, and not lead back to the login or logout. Anything else is dropped, so the
/// login can never redirect to another site.
pub(crate) fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2048
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && !next.starts_with("/login")
        && !next.starts_with("/logout");
    ok.then_some(next)
}

fn login_response(
    status: StatusCode,
    state: &WebState,
    username: &str,
    next: &str,
    error: Option<String>,
) -> Result<Response, WebError> {
    let csrf = auth::random_token(24);
    let page = LoginPage {
        csrf: csrf.clone(),
        next: safe_next(next).unwrap_or_default().to_owned(),
        username: username.to_owned(),
        error,
        sso: state
            .settings
            .oidc
            .as_ref()
            .map(|oidc| oidc.settings.display_name.clone()),
        passwords_on: state.settings.local_passwords == LocalPasswords::On,
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

pub(crate) async fn login_page(
    State(state): State<WebState>,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, WebError> {
    // An unreadable query string only loses the way back, never the login page.
    let next = query.map(|Query(q)| q.next).unwrap_or_default();
    login_response(StatusCode::OK, &state, "", &next, None)
}

fn too_many(
    state: &WebState,
    username: &str,
    next: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<Response, WebError> {
    tracing::warn!(user = %username, ip = ?ip, "Login refused: too many failed attempts.");
    login_response(
        StatusCode::TOO_MANY_REQUESTS,
        state,
        username,
        next,
        Some(format!(
            "Too many failed logins for this account or from this address. Wait {} minutes and try again, or ask an admin to reset the password.",
            auth::LOGIN_WINDOW.num_minutes()
        )),
    )
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
    // With local passwords switched off, only the break-glass admin gets a password check.
    let break_glass = match &state.settings.local_passwords {
        LocalPasswords::On => false,
        LocalPasswords::BreakGlassOnly(name) if *name == username => true,
        LocalPasswords::BreakGlassOnly(_) => {
            tracing::info!(user = %username, ip = ?ip, "Password login refused: local passwords are switched off.");
            return login_response(
                StatusCode::FORBIDDEN,
                &state,
                &username,
                &form.next,
                Some("Password sign-in is switched off on this platform: use the single sign-on button. Only the break-glass admin signs in with a password.".to_owned()),
            );
        }
    };
    let user_key = format!("user:{}", username.to_lowercase());
    let ip_key = ip.map(|ip| format!("ip:{ip}"));
    let store = &state.store;

    // Reserve the attempt before checking anything, atomically in the database, so
    // concurrent guesses in any number of processes never exceed the limits.
    if !store
        .reserve_login_attempt(
            &user_key,
            auth::LOGIN_WINDOW,
            auth::MAX_FAILURES_PER_USERNAME,
        )
        .await?
    {
        return too_many(&state, &username, &form.next, ip);
    }
    if let Some(key) = &ip_key
        && !store
            .reserve_login_attempt(key, auth::LOGIN_WINDOW, auth::MAX_FAILURES_PER_IP)
            .await?
    {
        store.release_login_attempt(&user_key).await?;
        return too_many(&state, &username, &form.next, ip);
    }

    let user = store.user_for_login(&username).await?;
    // A user created by single sign-on has no password: checked like a missing user.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .filter(|hash| hash != NO_PASSWORD);
    let Some(matches) = auth::verify_password_bounded(form.password, hash)
        .await
        .map_err(WebError::internal)?
    else {
        // Too many checks running: not the user's failure, so give the attempt back.
        store.release_login_attempt(&user_key).await?;
        if let Some(key) = &ip_key {
            store.release_login_attempt(key).await?;
        }
        tracing::warn!(user = %username, ip = ?ip, "Login refused: too many password checks at once.");
        return login_response(
            StatusCode::TOO_MANY_REQUESTS,
            &state,
            &username,
            &form.next,
            Some(
                "The platform is busy checking other logins. Try again in a few seconds."
                    .to_owned(),
            ),
        );
    };
    let user = match user {
        Some(user) if matches && !user.disabled => user,
        _ => {
            // The reservations stay: they are the failure count.
            tracing::info!(user = %username, ip = ?ip, "Login failed.");
            return login_response(
                StatusCode::UNAUTHORIZED,
                &state,
                &username,
                &form.next,
                Some("Wrong username or password, or the account is disabled.".to_owned()),
            );
        }
    };
    store.clear_login_failures(&user_key).await?;
    if let Some(key) = &ip_key {
        store.release_login_attempt(key).await?;
    }
    if break_glass {
        if !user.role.is_admin() {
            tracing::warn!(user = %user.username, "Break-glass login refused: the user is not an admin.");
            return login_response(
                StatusCode::FORBIDDEN,
                &state,
                &username,
                &form.next,
                Some(
                    "The break-glass account must be an admin; sign in with single sign-on."
                        .to_owned(),
                ),
            );
        }
        tracing::warn!(user = %user.username, ip = ?ip, "Break-glass password login.");
        store
            .audit_event(
                &user.username,
                "user.break_glass_login",
                &user.username,
                &serde_json::json!({"ip": ip.map(|ip| ip.to_string())}),
            )
            .await?;
    }
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
    let mut response = Redirect::to(safe_next(&form.next).unwrap_or("/")).into_response();
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

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_returned_to() {
        for ok in [
            "/",
            "/reclaim?state=idle&sort=days",
            "/people/p%2F1",
            "/seats",
        ] {
            assert_eq!(safe_next(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/seats\r\nSet-Cookie: x=1",
            "/a b",
            "/login?next=/x",
            "/logout",
            "evil.example/path",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
        assert_eq!(safe_next(&format!("/{}", "a".repeat(3000))), None);
    }
}
