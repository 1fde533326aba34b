//! Session cookies, the extractors that check them, CSRF-checked forms and the client
//! address used for login rate limits.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use super::format::Format;
use super::{WebError, WebState};
use crate::auth::{self, SessionUser};

/// Name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "seatbroker_session";
/// Name of the cookie that carries the login form's CSRF token (double submit).
pub(crate) const LOGIN_CSRF_COOKIE: &str = "seatbroker_login";

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure when configured.
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age_secs: i64,
    secure: bool,
) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The signed-in user. Rejects with a redirect to the login page (HTML) or 401 (JSON).
#[derive(Debug, Clone)]
pub(crate) struct CurrentUser(pub(crate) SessionUser);

impl FromRequestParts<WebState> for CurrentUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        let json = Format::of(&parts.headers, parts.uri.path()) == Format::Json;
        // A page asked for without a session is where the login returns to.
        let login_required = || {
            let error = WebError::login_required(json);
            match parts.uri.path_and_query() {
                Some(target) if parts.method == axum::http::Method::GET => {
                    error.returning_to(target.as_str())
                }
                _ => error,
            }
        };
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(login_required());
        };
        let user = state
            .store
            .session_user(&auth::sha256_hex(id))
            .await
            .map_err(|e| {
                let e = WebError::from(e);
                if json { e.json() } else { e }
            })?;
        match user {
            Some(user) => Ok(CurrentUser(user)),
            None => Err(login_required()),
        }
    }
}

/// A form that carries the session's CSRF token in its `csrf` field.
pub(crate) trait CsrfProtected {
    fn csrf(&self) -> &str;
}

/// A form with just the CSRF token (buttons without inputs).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    pub(crate) csrf: String,
}

impl CsrfProtected for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn check_csrf(user: &SessionUser, posted: &str) -> Result<(), WebError> {
    if !posted.is_empty() && auth::constant_time_eq(user.csrf.as_bytes(), posted.as_bytes()) {
        Ok(())
    } else {
        tracing::warn!(user = %user.username, "Refused a console form without a valid CSRF token.");
        Err(WebError::csrf())
    }
}

async fn parse_form<T: DeserializeOwned>(req: Request, state: &WebState) -> Result<T, WebError> {
    match Form::<T>::from_request(req, state).await {
        Ok(Form(form)) => Ok(form),
        // A form without the csrf field fails to parse when the field is required; say
        // what is wrong rather than "missing field".
        Err(rejection) => Err(WebError::bad_request(format!(
            "The form could not be read: {rejection}. Reload the page and try again."
        ))),
    }
}

/// A POSTed form of any signed-in user, CSRF-checked.
#[derive(Debug)]
pub(crate) struct UserForm<T> {
    pub(crate) user: SessionUser,
    pub(crate) form: T,
}

impl<T> FromRequest<WebState> for UserForm<T>
where
    T: DeserializeOwned + CsrfProtected + Send,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &WebState) -> Result<Self, WebError> {
        let (mut parts, body) = req.into_parts();
        let CurrentUser(user) = CurrentUser::from_request_parts(&mut parts, state).await?;
        let form: T = parse_form(Request::from_parts(parts, body), state).await?;
        check_csrf(&user, form.csrf())?;
        Ok(Self { user, form })
    }
}

/// A POSTed form of an admin, CSRF-checked. Viewers get 403 before anything happens.
#[derive(Debug)]
pub(crate) struct AdminForm<T> {
    pub(crate) user: SessionUser,
    pub(crate) form: T,
}

impl<T> FromRequest<WebState> for AdminForm<T>
where
    T: DeserializeOwned + CsrfProtected + Send,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &WebState) -> Result<Self, WebError> {
        let UserForm { user, form } = UserForm::<T>::from_request(req, state).await?;
        if !user.role.is_admin() {
            tracing::warn!(user = %user.username, "Refused an admin action to a viewer.");
            return Err(WebError::admin_only());
        }
        Ok(Self { user, form })
    }
}

/// The client's address: the TCP peer, or behind a trusted proxy the last address the
/// proxy appended to `X-Forwarded-For`. `None` when neither is known.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub(crate) Option<IpAddr>);

impl FromRequestParts<WebState> for ClientIp {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        if !state.settings.behind_proxy {
            return Ok(ClientIp(peer));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|ip| ip.trim().parse::<IpAddr>().ok());
        Ok(ClientIp(client_address(
            peer,
            forwarded,
            &state.settings.trusted_proxies,
        )))
    }
}

/// The client behind a chain of proxies: walking `X-Forwarded-For` from the right, the
/// first address that is not a trusted proxy. Only a trusted peer's header is believed; an
/// unreadable entry stops the walk at the last trusted hop.
fn client_address(
    peer: Option<IpAddr>,
    forwarded: impl DoubleEndedIterator<Item = Option<IpAddr>>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let mut client = peer?;
    for hop in forwarded.rev() {
        if !trusted.contains(&client) {
            break;
        }
        match hop {
            Some(ip) => client = ip,
            None => break,
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn client_address_believes_only_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")];
        let check = |peer: &str, header: &[&str], expected: &str| {
            let hops = header.iter().map(|h| h.parse::<IpAddr>().ok());
            assert_eq!(
                client_address(Some(ip(peer)), hops, &trusted),
                Some(ip(expected)),
                "{peer} {header:?}"
            );
        };
        // A client talking directly cannot choose its address.
        check("198.51.100.7", &["1.2.3.4"], "198.51.100.7");
        // Through the proxy: the address the proxy saw.
        check("127.0.0.1", &["198.51.100.7"], "198.51.100.7");
        // A forged left part is ignored: the rightmost untrusted hop wins.
        check("127.0.0.1", &["1.2.3.4", "198.51.100.7"], "198.51.100.7");
        check(
            "127.0.0.1",
            &["1.2.3.4", "198.51.100.7", "10.0.0.2"],
            "198.51.100.7",
        );
        // Nothing forwarded, or garbage: the proxy itself.
        check("127.0.0.1", &[], "127.0.0.1");
        check("127.0.0.1", &["junk"], "127.0.0.1");
    }

    #[test]
    fn finds_cookies_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; seatbroker_session=abc"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "seatbroker"), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_when_asked() {
        let c = set_cookie("n", "v", "/", 60, true);
        assert_eq!(
            c,
            "n=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!set_cookie("n", "v", "/", 60, false).contains("Secure"));
    }
}
