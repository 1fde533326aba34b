//! The Report tokens page: an admin creates named, read-only tokens for the report API
//! (shown once), sees when each was last used, and revokes them. Kept apart from the
//! enrollment tokens page (`admin.rs`), whose tokens enroll agents.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::admin::{Done, done, refused};
use super::pages::{Layout, ReportTokenView, ReportTokensPage};
use super::session::{AdminForm, CsrfOnly, CsrfProtected, CurrentUser};
use super::{WebError, WebState};
use crate::auth::SessionUser;
use crate::store::ReportTokenState;

async fn page(
    state: &WebState,
    user: &SessionUser,
    created: Option<String>,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let fmt = |at: Option<DateTime<Utc>>, none: &str| {
        at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| none.to_owned())
    };
    let tokens = state
        .store
        .list_report_tokens()
        .await?
        .into_iter()
        .map(|row| ReportTokenView {
            status: match row.state {
                ReportTokenState::Usable => "usable",
                ReportTokenState::Expired => "expired",
                ReportTokenState::Revoked => "revoked",
            },
            created: fmt(Some(row.created_at), ""),
            expires: fmt(row.expires_at, "never"),
            last_used: fmt(row.last_used_at, "never"),
            row,
        })
        .collect();
    Ok(Html(
        ReportTokensPage {
            layout: Layout::new("report-tokens", user).with_notice(notice),
            created,
            tokens,
        }
        .render()?,
    )
    .into_response())
}

pub(crate) async fn list(
    State(state): State<WebState>,
    CurrentUser(user): CurrentUser,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    if !user.role.is_admin() {
        return Err(WebError::admin_only());
    }
    page(&state, &user, None, done.notice()).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReportTokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_days: String,
}

impl CsrfProtected for ReportTokenForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Creates a report token and shows it once, in this response only.
pub(crate) async fn create(
    State(state): State<WebState>,
    AdminForm { user, form }: AdminForm<ReportTokenForm>,
) -> Result<Response, WebError> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(WebError::bad_request(
            "Give the report token a name of 1 to 200 characters, e.g. the tool that will use it.",
        ));
    }
    let expires_at = match form.expires_days.trim() {
        "" => None,
        text => {
            let days: i64 = text
                .parse()
                .ok()
                .filter(|d| (1..=730).contains(d))
                .ok_or_else(|| {
                    WebError::bad_request(
                        "Expiry must be a whole number of days from 1 to 730, or empty for never.",
                    )
                })?;
            Some(state.store.now() + Duration::days(days))
        }
    };
    match state
        .store
        .create_report_token(&user.username, name, expires_at)
        .await
    {
        Ok(created) => {
            tracing::info!(user = %user.username, token = %created.record.id, "Report token created.");
            page(&state, &user, Some(created.token.expose().to_owned()), None).await
        }
        Err(e) => Ok(refused(&user, "report-tokens", "/report-tokens", e)),
    }
}

pub(crate) async fn revoke(
    State(state): State<WebState>,
    Path(id): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Response {
    match state.store.revoke_report_token(&user.username, &id).await {
        Ok(()) => done("/report-tokens", "report_token_revoked"),
        Err(e) => refused(&user, "report-tokens", "/report-tokens", e),
    }
}
