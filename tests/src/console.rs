//! An administrator's session in the console, over plain HTTP: the same forms a person
//! submits (login with the login CSRF cookie, then CSRF-checked POSTs), and the JSON reports.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::header::{ACCEPT, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde::Deserialize;

/// Cookie names and form field of the console (platform/src/web/session.rs).
const SESSION_COOKIE: &str = "seatbroker_session";
const LOGIN_CSRF_COOKIE: &str = "seatbroker_login";

/// A signed-in console user.
#[derive(Debug, Clone)]
pub struct Session {
    client: Client,
    base: String,
    cookie: String,
    csrf: String,
}

/// An agent on the approvals page (`GET /approvals` as JSON).
#[derive(Debug, Clone, Deserialize)]
pub struct AgentRow {
    pub agent_id: String,
    pub host_name: String,
    pub state: String,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub sources: Vec<LinkRow>,
}

/// One of an agent's sources and its approval.
#[derive(Debug, Clone, Deserialize)]
pub struct LinkRow {
    pub link_id: String,
    pub local_name: String,
    pub tenant_id: String,
    pub state: String,
    #[serde(default)]
    pub source_id: Option<String>,
    #[serde(default)]
    pub proposed_merge: Option<String>,
}

/// A source on the overview (`/api/v1/reports/overview`).
#[derive(Debug, Clone, Deserialize)]
pub struct OverviewRow {
    pub source_id: String,
    pub name: String,
    /// `humaans`, `entra_id` or `seat_list`.
    #[serde(default)]
    pub kind: String,
    pub tenant_id: String,
    pub health: String,
    #[serde(default)]
    pub last_upload_at: Option<String>,
    pub people: i64,
    pub billable: i64,
    pub in_use: i64,
    pub active: i64,
    pub leaving: i64,
    pub inactive: i64,
    pub pre_hires: i64,
    pub offboarded: i64,
    pub unknown: i64,
    #[serde(default)]
    pub pre_hires_starting_soon: i64,
    #[serde(default)]
    pub recent_leavers: i64,
    /// Whether the last snapshot's Humaans token could read private data.
    #[serde(default)]
    pub private_access: Option<bool>,
}

impl OverviewRow {
    /// The count of a seat state by its wire name.
    pub fn count(&self, state: &str) -> i64 {
        match state {
            "pre_hire" => self.pre_hires,
            "active" => self.active,
            "leaving" => self.leaving,
            "inactive" => self.inactive,
            "offboarded" => self.offboarded,
            "unknown" => self.unknown,
            _ => -1,
        }
    }
}

/// `/api/v1/reports/sources`.
#[derive(Debug, Clone, Deserialize)]
pub struct SourcesReport {
    pub sources: Vec<OverviewRow>,
    pub agents: Vec<AgentRow>,
}

fn http() -> anyhow::Result<Client> {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build an HTTP client")
}

/// The value of cookie `name` among the response's `Set-Cookie` headers.
fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// The value of the first `<input ... name="csrf" value="...">` of a page.
pub fn csrf_field(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\"")?;
    let rest = &html[at..];
    let value = rest.find("value=\"")? + "value=\"".len();
    let end = rest[value..].find('"')?;
    Some(rest[value..value + end].to_owned())
}

impl Session {
    /// Signs in at `base` (e.g. `http://127.0.0.1:8080`) as `username`.
    pub async fn login(base: &str, username: &str, password: &str) -> anyhow::Result<Self> {
        let client = http()?;
        let base = base.trim_end_matches('/').to_owned();
        let page = client
            .get(format!("{base}/login"))
            .send()
            .await
            .with_context(|| format!("cannot load {base}/login"))?;
        let login_cookie = set_cookie(&page, LOGIN_CSRF_COOKIE)
            .context("the login page set no login CSRF cookie")?;
        let html = page.text().await?;
        let csrf = csrf_field(&html).context("the login page has no csrf field")?;
        let response = client
            .post(format!("{base}/login"))
            .header(COOKIE, format!("{LOGIN_CSRF_COOKIE}={login_cookie}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .context("cannot post the login form")?;
        let status = response.status();
        let Some(session) = set_cookie(&response, SESSION_COOKIE) else {
            let body = response.text().await.unwrap_or_default();
            bail!(
                "login as {username} failed with {status}: {}",
                excerpt(&body)
            );
        };
        let mut me = Self {
            client,
            base,
            cookie: format!("{SESSION_COOKIE}={session}"),
            csrf: String::new(),
        };
        let html = me.page("/approvals").await?;
        me.csrf = csrf_field(&html)
            .context("the approvals page has no csrf field (is the user an admin?)")?;
        Ok(me)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// GETs a console page and returns its HTML; fails on a status other than 200.
    pub async fn page(&self, path: &str) -> anyhow::Result<String> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .with_context(|| format!("cannot load {path}"))?;
        let status = response.status();
        let body = response.text().await?;
        if status != StatusCode::OK {
            bail!("GET {path} answered {status}: {}", excerpt(&body));
        }
        Ok(body)
    }

    /// GETs `path` as JSON.
    pub async fn json<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .with_context(|| format!("cannot load {path}"))?;
        let status = response.status();
        let body = response.text().await?;
        if status != StatusCode::OK {
            bail!("GET {path} answered {status}: {}", excerpt(&body));
        }
        serde_json::from_str(&body)
            .with_context(|| format!("GET {path} gave unexpected JSON: {}", excerpt(&body)))
    }

    /// POSTs a console form (with the session's CSRF token). Returns the redirect target,
    /// or the page when the console answered with one (e.g. a new enrollment token).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<Posted> {
        let mut form: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(&form)
            .send()
            .await
            .with_context(|| format!("cannot post {path}"))?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            return Ok(Posted::Redirect(to));
        }
        let body = response.text().await?;
        if status != StatusCode::OK {
            bail!("POST {path} answered {status}: {}", excerpt(&body));
        }
        Ok(Posted::Page(body))
    }

    /// POSTs an action form that must redirect with `?done=<done>`.
    async fn action(&self, path: &str, fields: &[(&str, &str)], done: &str) -> anyhow::Result<()> {
        match self.post(path, fields).await? {
            Posted::Redirect(to) if to.contains(&format!("done={done}")) => Ok(()),
            Posted::Redirect(to) => bail!("POST {path} redirected to {to}, expected done={done}"),
            Posted::Page(body) => bail!("POST {path} did not redirect: {}", excerpt(&body)),
        }
    }

    /// Creates an enrollment token in the console and returns it (shown once, in the page).
    pub async fn create_enrollment_token(
        &self,
        label: &str,
        max_uses: Option<u32>,
    ) -> anyhow::Result<String> {
        let uses = max_uses.map(|n| n.to_string()).unwrap_or_default();
        let page = match self
            .post(
                "/tokens",
                &[
                    ("label", label),
                    ("expires_hours", "24"),
                    ("max_uses", &uses),
                ],
            )
            .await?
        {
            Posted::Page(body) => body,
            Posted::Redirect(to) => {
                bail!("creating a token redirected to {to} instead of showing it")
            }
        };
        let marker = "id=\"new-token\">";
        let start = page
            .find(marker)
            .context("the tokens page shows no new token")?
            + marker.len();
        let end = page[start..]
            .find('<')
            .context("the new token is not closed")?;
        let token = page[start..start + end].trim().to_owned();
        if token.is_empty() {
            bail!("the tokens page shows an empty token");
        }
        Ok(token)
    }

    /// Agents waiting for a decision (or with a source waiting).
    pub async fn pending(&self) -> anyhow::Result<Vec<AgentRow>> {
        self.json("/approvals").await
    }

    pub async fn approve_agent(&self, agent_id: &str) -> anyhow::Result<()> {
        self.action(
            &format!("/approvals/agents/{agent_id}/approve"),
            &[],
            "agent_approved",
        )
        .await
    }

    pub async fn approve_source(&self, link_id: &str) -> anyhow::Result<()> {
        self.action(
            &format!("/approvals/sources/{link_id}/approve"),
            &[],
            "source_approved",
        )
        .await
    }

    pub async fn merge_source(&self, link_id: &str, target: &str) -> anyhow::Result<()> {
        self.action(
            &format!("/approvals/sources/{link_id}/merge"),
            &[("target", target)],
            "source_merged",
        )
        .await
    }

    pub async fn revoke_agent(&self, agent_id: &str) -> anyhow::Result<()> {
        self.action(&format!("/agents/{agent_id}/revoke"), &[], "agent_revoked")
            .await
    }

    pub async fn overview(&self) -> anyhow::Result<Vec<OverviewRow>> {
        self.json("/api/v1/reports/overview").await
    }

    pub async fn sources(&self) -> anyhow::Result<SourcesReport> {
        self.json("/api/v1/reports/sources").await
    }
}

/// What a POST returned.
#[derive(Debug, Clone)]
pub enum Posted {
    Redirect(String),
    Page(String),
}

fn excerpt(body: &str) -> String {
    let text: String = body.chars().take(600).collect();
    text.replace('\n', " ")
}
