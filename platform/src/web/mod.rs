//! The console: server-rendered HTML pages (askama templates in `platform/templates/`),
//! the same reports as JSON (by `Accept`, and always under `/api/v1/reports/...`; see
//! [`negotiate`]), CSV exports, and the admin actions.
//!
//! Every page needs a session ([`session::CurrentUser`]); admin actions need the admin
//! role and go through [`session::AdminForm`], which also checks the form's CSRF token.
//! Every admin action calls one store operation, which writes the audit log in the same
//! transaction.

mod admin;
mod bearer;
mod email;
mod error;
mod format;
mod licences;
mod login;
mod negotiate;
mod pages;
mod report_tokens;
mod reports;
mod session;
mod sso;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::oidc::{LocalPasswords, Oidc};
use crate::store::Store;

pub(crate) use error::WebError;
pub(crate) use licences::reclaim_csv_text;
pub(crate) use session::SESSION_COOKIE as SESSION_COOKIE_NAME;

/// Console settings that do not change while serving.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// Mark cookies `Secure` (HTTPS, directly or through a proxy).
    pub secure_cookies: bool,
    /// Take the client address from `X-Forwarded-For` (a trusted proxy sets it).
    pub behind_proxy: bool,
    /// The proxies whose `X-Forwarded-For` is believed (with `behind_proxy`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Single sign-on with this OpenID provider, when configured.
    pub oidc: Option<Arc<Oidc>>,
    /// Whether local passwords sign in (all, or only the break-glass admin's).
    pub local_passwords: LocalPasswords,
    /// The email sender, when SMTP is set up: the console queues messages and wakes it.
    pub mailer: Option<crate::email::Mailer>,
}

/// What every console handler gets: the store, the settings and the agent API's limits
/// (Sources & agents shows them). Nothing else: a request may land on any platform process.
#[derive(Debug, Clone)]
pub(crate) struct WebState {
    pub store: Store,
    pub settings: Arc<WebSettings>,
    pub api: Arc<crate::state::ApiConfig>,
}

impl WebState {
    pub(crate) fn new(
        store: Store,
        settings: WebSettings,
        api: Arc<crate::state::ApiConfig>,
    ) -> Self {
        Self {
            store,
            settings: Arc::new(settings),
            api,
        }
    }
}

const CSS: &str = include_str!("../../static/console.css");
/// The console's icon: a seat, in the accent colour (a few hundred bytes of SVG).
const FAVICON: &str = include_str!("../../static/favicon.svg");

/// `/favicon.svg` and `/favicon.ico` (browsers ask for the latter on their own; every
/// browser that asks accepts the SVG). No login needed, like the stylesheet.
async fn favicon() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        FAVICON,
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        CSS,
    )
}

/// The console's routes, with their state applied.
pub(crate) fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(reports::overview))
        .route("/login", get(login::login_page).post(login::login))
        .route("/login/oidc", get(sso::start))
        .route("/login/oidc/callback", get(sso::callback))
        .route("/logout", post(login::logout))
        .route("/static/console.css", get(stylesheet))
        .route("/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .route("/approvals", get(admin::approvals))
        .route("/approvals/agents/{id}/approve", post(admin::approve_agent))
        .route("/approvals/agents/{id}/reject", post(admin::reject_agent))
        .route(
            "/approvals/sources/{id}/approve",
            post(admin::approve_source),
        )
        .route("/approvals/sources/{id}/merge", post(admin::merge_source))
        .route("/approvals/sources/{id}/reject", post(admin::reject_source))
        .route("/approvals/sources/{id}/revoke", post(admin::revoke_source))
        .route("/applications", get(licences::applications))
        .route("/applications/price", post(licences::set_price))
        .route("/reclaim", get(licences::reclaim))
        .route("/reclaim.csv", get(licences::reclaim_csv))
        .route("/people/{id}", get(licences::person))
        .route("/changes", get(licences::changes))
        .route(
            "/exclusions",
            get(licences::exclusions).post(licences::add_exclusion),
        )
        .route("/exclusions/{id}/remove", post(licences::remove_exclusion))
        .route("/seats", get(reports::seats))
        .route("/seats.csv", get(reports::seats_csv))
        .route("/trends", get(reports::trends))
        .route("/trends.csv", get(reports::trends_csv))
        .route("/departments", get(reports::departments))
        .route("/data-quality", get(reports::data_quality))
        .route("/sources", get(reports::sources))
        .route("/agents/{id}/revoke", post(admin::revoke_agent))
        .route("/agents/{id}/rotate", post(admin::rotate_credential))
        .route("/tokens", get(admin::tokens).post(admin::create_token))
        .route("/tokens/{id}/revoke", post(admin::revoke_token))
        .route(
            "/report-tokens",
            get(report_tokens::list).post(report_tokens::create),
        )
        .route("/report-tokens/{id}/revoke", post(report_tokens::revoke))
        .route("/users", get(admin::users).post(admin::create_user))
        .route("/users/{username}/disable", post(admin::disable_user))
        .route("/users/{username}/enable", post(admin::enable_user))
        .route("/audit", get(admin::audit))
        .route("/email", get(email::email))
        .route("/email/subscriptions", post(email::add_subscription))
        .route(
            "/email/subscriptions/{id}/remove",
            post(email::remove_subscription),
        )
        .route("/email/test", post(email::send_test))
        // The JSON API: the same handlers, always answering JSON.
        .route("/api/v1/reports/overview", get(reports::overview))
        .route("/api/v1/reports/licences", get(licences::licences_report))
        .route("/api/v1/reports/applications", get(licences::applications))
        .route("/api/v1/reports/reclaim", get(licences::reclaim))
        .route("/api/v1/reports/people/{id}", get(licences::person))
        .route("/api/v1/reports/changes", get(licences::changes))
        .route("/api/v1/reports/exclusions", get(licences::exclusions))
        .route("/api/v1/reports/inactive-seats", get(reports::seats))
        .route("/api/v1/reports/trends", get(reports::trends))
        .route("/api/v1/reports/departments", get(reports::departments))
        .route("/api/v1/reports/data-quality", get(reports::data_quality))
        .route("/api/v1/reports/sources", get(reports::sources))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers every console response carries: no framing, no sniffing, no caching of
/// people's data, and a content policy that allows no script at all.
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, header::CACHE_CONTROL, "no-store");
    response
}

/// Percent-encodes a query-string value (everything but unreserved characters).
pub(crate) fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `path?k=v&...` with empty values left out.
pub(crate) fn href(path: &str, params: &[(&str, &str)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_encode_values_and_drop_empty_ones() {
        assert_eq!(href("/seats", &[]), "/seats");
        assert_eq!(
            href(
                "/seats",
                &[("department", "R&D / Ops"), ("state", ""), ("sort", "days")]
            ),
            "/seats?department=R%26D%20%2F%20Ops&sort=days"
        );
        assert_eq!(encode_query_value("é"), "%C3%A9");
    }
}
