//! Approvals and administration: agents, sources, enrollment tokens, users; and the audit
//! log. Every action is an admin's CSRF-checked POST ([`AdminForm`]) that calls one store
//! operation; the store writes the audit entry in the same transaction.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Duration;
use serde::Deserialize;

use super::negotiate::{Format, NoQuery, Page};
use super::pages::{
    ApprovalsPage, AuditPage, CredentialPage, Layout, MessagePage, TokenView, TokensPage, UsersPage,
};
use super::reports::agent_rows;
use super::session::{AdminForm, CsrfOnly, CsrfProtected, CurrentUser};
use super::{WebError, WebState, href};
use crate::auth::{self, Role, SessionUser};
use crate::store::{StoreError, TokenState};

/// Notices a redirect may ask a page to show. Fixed texts, so a crafted link cannot put
/// words into the console.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Done {
    done: String,
}

impl Done {
    pub(super) fn notice(&self) -> Option<String> {
        let text = match self.done.as_str() {
            "agent_approved" => "Agent approved. Now decide on each of its sources.",
            "agent_rejected" => "Agent rejected: it cannot upload.",
            "agent_revoked" => {
                "Agent revoked: its credential no longer works; it must enroll again."
            }
            "source_approved" => "Source approved as a new source; the agent may upload now.",
            "source_merged" => {
                "Source approved and merged: its uploads continue the chosen source's history."
            }
            "source_rejected" => "Source rejected: its uploads are refused.",
            "source_revoked" => {
                "Source revoked for that agent: its uploads are refused; the history stays."
            }
            "token_revoked" => "Enrollment token revoked; agents already enrolled keep working.",
            "report_token_revoked" => "Report token revoked: it can no longer read reports.",
            "user_created" => "User saved.",
            "user_disabled" => "User disabled and signed out.",
            "user_enabled" => "User enabled.",
            _ => return None,
        };
        Some(text.to_owned())
    }
}

pub(super) fn done(path: &str, what: &str) -> Response {
    Redirect::to(&href(path, &[("done", what)])).into_response()
}

/// A store refusal (e.g. approving a source of a rejected agent) as a page that says why.
pub(super) fn refused(
    user: &SessionUser,
    page: &'static str,
    back: &str,
    error: StoreError,
) -> Response {
    let error = WebError::from(error);
    let status = error.status();
    if status.is_server_error() {
        return error.into_response();
    }
    let body = MessagePage {
        layout: Layout::new(page, user),
        title: "Not done".to_owned(),
        message: error.message().to_owned(),
        back: back.to_owned(),
    }
    .render();
    match body {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => WebError::from(e).into_response(),
    }
}

// ----- approvals -----

pub(crate) async fn approvals(State(state): State<WebState>, page: Page<Done>) -> Response {
    let format = page.format;
    format.respond(
        async {
            let agents = agent_rows(&state.store, true).await?;
            if format == Format::Json {
                return Ok(axum::Json(&agents).into_response());
            }
            Ok(Html(
                ApprovalsPage {
                    layout: Layout::new("approvals", &page.user).with_notice(page.query.notice()),
                    agents,
                    organisations: state
                        .store
                        .list_organisations()
                        .await?
                        .into_iter()
                        .map(|o| (o.id, o.name))
                        .collect(),
                }
                .render()?,
            )
            .into_response())
        }
        .await,
    )
}

pub(crate) async fn approve_agent(
    State(state): State<WebState>,
    Path(id): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Response {
    match state.store.approve_agent(&user.username, &id).await {
        Ok(()) => done("/approvals", "agent_approved"),
        Err(e) => refused(&user, "approvals", "/approvals", e),
    }
}

pub(crate) async fn reject_agent(
    State(state): State<WebState>,
    Path(id): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Response {
    match state.store.reject_agent(&user.username, &id).await {
        Ok(()) => done("/approvals", "agent_rejected"),
        Err(e) => refused(&user, "approvals", "/approvals", e),
    }
}

pub(crate) async fn revoke_agent(
    State(state): State<WebState>,
    Path(id): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Response {
    let reason = format!("revoked by {} in the console", user.username);
    match state
        .store
        .revoke_agent(&user.username, &id, Some(&reason))
        .await
    {
        Ok(()) => done("/sources", "agent_revoked"),
        Err(e) => refused(&user, "sources", "/sources", e),
    }
}

/// Approving a source as new; an application source may name its organisation.
#[derive(Debug, Deserialize)]
pub(crate) struct ApproveForm {
    #[serde(default)]
    csrf: String,
    /// Empty: the default (see `Store::approve_source_into`).
    #[serde(default)]
    organisation: String,
}

impl CsrfProtected for ApproveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(crate) async fn approve_source(
    State(state): State<WebState>,
    Path(link_id): Path<String>,
    AdminForm { user, form }: AdminForm<ApproveForm>,
) -> Response {
    let organisation = Some(form.organisation.as_str()).filter(|o| !o.is_empty());
    match state
        .store
        .approve_source_into(&user.username, &link_id, None, organisation)
        .await
    {
        Ok(_) => done("/approvals", "source_approved"),
        Err(e) => refused(&user, "approvals", "/approvals", e),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct MergeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    target: String,
}

impl CsrfProtected for MergeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(crate) async fn merge_source(
    State(state): State<WebState>,
    Path(link_id): Path<String>,
    AdminForm { user, form }: AdminForm<MergeForm>,
) -> Response {
    if form.target.is_empty() {
        return WebError::bad_request("Choose the source to merge into.").into_response();
    }
    match state
        .store
        .approve_and_merge(&user.username, &link_id, &form.target)
        .await
    {
        Ok(_) => done("/approvals", "source_merged"),
        Err(e) => refused(&user, "approvals", "/approvals", e),
    }
}

pub(crate) async fn reject_source(
    State(state): State<WebState>,
    Path(link_id): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Response {
    match state.store.reject_source(&user.username, &link_id).await {
        Ok(()) => done("/approvals", "source_rejected"),
        Err(e) => refused(&user, "approvals", "/approvals", e),
    }
}

pub(crate) async fn revoke_source(
    State(state): State<WebState>,
    Path(link_id): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Response {
    match state
        .store
        .revoke_source_link(&user.username, &link_id)
        .await
    {
        Ok(()) => done("/sources", "source_revoked"),
        Err(e) => refused(&user, "sources", "/sources", e),
    }
}

/// Replaces an agent's credential and shows the new one once.
pub(crate) async fn rotate_credential(
    State(state): State<WebState>,
    Path(id): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Result<Response, WebError> {
    match state
        .store
        .rotate_agent_credential(&user.username, &id)
        .await
    {
        Ok(credential) => Ok(Html(
            CredentialPage {
                layout: Layout::new("sources", &user),
                agent_id: id,
                credential: credential.expose().to_owned(),
            }
            .render()?,
        )
        .into_response()),
        Err(e) => Ok(refused(&user, "sources", "/sources", e)),
    }
}

// ----- enrollment tokens -----

async fn tokens_page(
    state: &WebState,
    user: &SessionUser,
    created: Option<String>,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let tokens = state.store.list_enrollment_tokens().await?;
    let fmt = |at: Option<chrono::DateTime<chrono::Utc>>, none: &str| {
        at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| none.to_owned())
    };
    let tokens = tokens
        .into_iter()
        .map(|row| TokenView {
            status: match row.state {
                TokenState::Usable => "usable",
                TokenState::Expired => "expired",
                TokenState::Exhausted => "used up",
                TokenState::Revoked => "revoked",
            },
            created: fmt(Some(row.created_at), ""),
            expires: fmt(row.expires_at, "never"),
            uses: match row.max_uses {
                Some(max) => format!("{} of {max}", row.uses),
                None => format!("{} (unlimited)", row.uses),
            },
            row,
        })
        .collect();
    Ok(Html(
        TokensPage {
            layout: Layout::new("tokens", user).with_notice(notice),
            created,
            tokens,
        }
        .render()?,
    )
    .into_response())
}

pub(crate) async fn tokens(
    State(state): State<WebState>,
    CurrentUser(user): CurrentUser,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    if !user.role.is_admin() {
        return Err(WebError::admin_only());
    }
    tokens_page(&state, &user, None, done.notice()).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    expires_hours: String,
    #[serde(default)]
    max_uses: String,
}

impl CsrfProtected for TokenForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Creates a token and shows it once, in this response only (never redirected to, never
/// stored in clear).
pub(crate) async fn create_token(
    State(state): State<WebState>,
    AdminForm { user, form }: AdminForm<TokenForm>,
) -> Result<Response, WebError> {
    let label = form.label.trim();
    if label.is_empty() || label.len() > 200 {
        return Err(WebError::bad_request(
            "Give the token a label of 1 to 200 characters, so you can tell it apart later.",
        ));
    }
    let expires_hours: i64 = match form.expires_hours.trim() {
        "" => 24,
        text => text
            .parse()
            .ok()
            .filter(|h| (1..=8760).contains(h))
            .ok_or_else(|| {
                WebError::bad_request(
                    "Expiry must be a whole number of hours from 1 to 8760 (a year).",
                )
            })?,
    };
    let max_uses: Option<i64> = match form.max_uses.trim() {
        "" => None,
        text => Some(text.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
            WebError::bad_request(
                "Uses must be a whole number of at least 1, or empty for unlimited.",
            )
        })?),
    };
    let expires_at = state.store.now() + Duration::hours(expires_hours);
    match state
        .store
        .create_enrollment_token(&user.username, label, Some(expires_at), max_uses)
        .await
    {
        Ok(created) => {
            tracing::info!(user = %user.username, token = %created.record.id, "Enrollment token created.");
            tokens_page(&state, &user, Some(created.token.expose().to_owned()), None).await
        }
        Err(e) => Ok(refused(&user, "tokens", "/tokens", e)),
    }
}

pub(crate) async fn revoke_token(
    State(state): State<WebState>,
    Path(id): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Response {
    match state
        .store
        .revoke_enrollment_token(&user.username, &id)
        .await
    {
        Ok(()) => done("/tokens", "token_revoked"),
        Err(e) => refused(&user, "tokens", "/tokens", e),
    }
}

// ----- users -----

pub(crate) async fn users(
    State(state): State<WebState>,
    CurrentUser(user): CurrentUser,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    if !user.role.is_admin() {
        return Err(WebError::admin_only());
    }
    let users = state.store.list_users().await?;
    Ok(Html(
        UsersPage {
            layout: Layout::new("users", &user).with_notice(done.notice()),
            users,
            min_len: auth::MIN_PASSWORD_LEN,
        }
        .render()?,
    )
    .into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserCreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

impl CsrfProtected for UserCreateForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Whether `name` is an acceptable username: 1 to 64 of `[A-Za-z0-9._@-]`.
pub(crate) fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
}

pub(crate) async fn create_user(
    State(state): State<WebState>,
    AdminForm { user, form }: AdminForm<UserCreateForm>,
) -> Result<Response, WebError> {
    let username = form.username.trim().to_owned();
    if !valid_username(&username) {
        return Err(WebError::bad_request(
            "A username is 1 to 64 letters, digits, dots, dashes, underscores or @.",
        ));
    }
    if form.password.chars().count() < auth::MIN_PASSWORD_LEN {
        return Err(WebError::bad_request(format!(
            "The password is too short: use at least {} characters.",
            auth::MIN_PASSWORD_LEN
        )));
    }
    let role: Role = form
        .role
        .parse()
        .map_err(|e: auth::UnknownRole| WebError::bad_request(e.to_string()))?;
    let password = form.password;
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(WebError::internal)?
        .map_err(WebError::internal)?;
    match state
        .store
        .upsert_user(&user.username, &username, role, &hash)
        .await
    {
        Ok(_) => Ok(done("/users", "user_created")),
        Err(e) => Ok(refused(&user, "users", "/users", e)),
    }
}

async fn set_disabled(
    state: &WebState,
    user: &SessionUser,
    username: &str,
    disabled: bool,
) -> Response {
    match state
        .store
        .set_user_disabled(user, username, disabled)
        .await
    {
        Ok(()) => done(
            "/users",
            if disabled {
                "user_disabled"
            } else {
                "user_enabled"
            },
        ),
        Err(e) => refused(user, "users", "/users", e),
    }
}

pub(crate) async fn disable_user(
    State(state): State<WebState>,
    Path(username): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Response {
    set_disabled(&state, &user, &username, true).await
}

pub(crate) async fn enable_user(
    State(state): State<WebState>,
    Path(username): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Response {
    set_disabled(&state, &user, &username, false).await
}

// ----- audit log -----

const AUDIT_LIMIT: i64 = 500;

pub(crate) async fn audit(State(state): State<WebState>, page: Page<NoQuery>) -> Response {
    page.format.respond(audit_page(&state, page).await)
}

async fn audit_page(state: &WebState, page: Page<NoQuery>) -> Result<Response, WebError> {
    let user = page.user;
    let entries = state.store.list_audit(AUDIT_LIMIT, None).await?;
    if page.format == Format::Json {
        let json: Vec<_> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "id": e.id, "at": e.at, "actor": e.actor, "action": e.action,
                    "target": e.target, "detail": e.detail,
                })
            })
            .collect();
        return Ok(axum::Json(json).into_response());
    }
    Ok(Html(
        AuditPage {
            layout: Layout::new("audit", &user),
            entries: entries.into_iter().map(audit_view).collect(),
            limit: AUDIT_LIMIT,
        }
        .render()?,
    )
    .into_response())
}

/// An audit entry as the page shows it: the action in words and the detail as
/// (field, value) pairs, never as raw JSON.
#[derive(Debug)]
pub(crate) struct AuditView {
    pub(crate) entry: crate::store::AuditEntry,
    pub(crate) action: String,
    pub(crate) details: Vec<(String, String)>,
}

fn audit_view(entry: crate::store::AuditEntry) -> AuditView {
    let action = match entry.action.as_str() {
        "agent.enroll" => "Agent enrolled",
        "agent.approve" => "Agent approved",
        "agent.reject" => "Agent rejected",
        "agent.revoke" => "Agent revoked",
        "agent.rotate_credential" => "Agent credential rotated",
        "source.approve" => "Source approved as new",
        "source.merge" => "Source approved and merged",
        "source.reject" => "Source rejected",
        "source.revoke" => "Source revoked",
        "token.create" => "Enrollment token created",
        "token.revoke" => "Enrollment token revoked",
        "user.create" => "User created",
        "user.disable" => "User disabled",
        "user.enable" => "User enabled",
        "user.reset_password" => "Password reset",
        "price.set" => "Price set",
        "price.clear" => "Price removed",
        "exclusion.add" => "Exclusion rule added",
        "exclusion.remove" => "Exclusion rule removed",
        other => return audit_view_with(other.replace(['.', '_'], " "), entry),
    };
    audit_view_with(action.to_owned(), entry)
}

fn audit_view_with(action: String, entry: crate::store::AuditEntry) -> AuditView {
    let mut details = Vec::new();
    flatten_detail("", &entry.detail, &mut details);
    AuditView {
        entry,
        action,
        details,
    }
}

/// `value` as (field, text) pairs: nested objects as `outer inner`, lists joined with
/// commas, empty values as a dash; field names with spaces instead of underscores.
fn flatten_detail(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    let text = |v: &Value| match v {
        Value::Null => "–".to_owned(),
        Value::String(s) if s.is_empty() => "–".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let key = key.replace('_', " ");
                let field = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix} {key}")
                };
                flatten_detail(&field, inner, out);
            }
        }
        Value::Array(items) => {
            let joined = items.iter().map(text).collect::<Vec<_>>().join(", ");
            out.push((
                prefix.to_owned(),
                if joined.is_empty() {
                    "–".to_owned()
                } else {
                    joined
                },
            ));
        }
        other if prefix.is_empty() => out.push(("detail".to_owned(), text(other))),
        other => out.push((prefix.to_owned(), text(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_details_are_fields_not_json() {
        let entry = crate::store::AuditEntry {
            id: 1,
            at: chrono::Utc::now(),
            actor: "alice".into(),
            action: "price.set".into(),
            target: "src-1".into(),
            detail: serde_json::json!({
                "pool_id": "E3", "amount": "12.50", "previous": null,
                "price": {"currency": "EUR"}, "tags": ["a", "b"],
            }),
        };
        let view = audit_view(entry);
        assert_eq!(view.action, "Price set");
        let fields: Vec<(&str, &str)> = view
            .details
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("amount", "12.50"),
                ("pool id", "E3"),
                ("previous", "–"),
                ("price currency", "EUR"),
                ("tags", "a, b"),
            ]
        );
        let mut entry = view.entry;
        entry.action = "thing.new_kind".into();
        entry.detail = serde_json::Value::String("plain".into());
        let view = audit_view(entry);
        assert_eq!(view.action, "thing new kind");
        assert_eq!(view.details, [("detail".to_owned(), "plain".to_owned())]);
    }
}
