//! The Email page (admins): the SMTP settings in use (never the password), the digest
//! subscriptions (add, remove: audited), the "send a test email" button, and the record of
//! recent sends. Handlers only write the queue and wake the sender
//! (`crate::email::Mailer`); no request waits for an SMTP server.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::Layout;
use super::session::{AdminForm, CsrfOnly, CsrfProtected, CurrentUser};
use super::{WebError, WebState, href};
use crate::store::{EmailSend, Frequency, StoreError, Subscription};

/// Sends listed on the page.
const SENDS_SHOWN: i64 = 50;

#[derive(Template)]
#[template(path = "email.html")]
pub(crate) struct EmailPage {
    pub(crate) layout: Layout,
    /// "host:port (security), from …", or `None` when SMTP is not set up.
    pub(crate) smtp: Option<String>,
    pub(crate) subscriptions: Vec<(Subscription, String)>,
    pub(crate) sends: Vec<SendView>,
}

/// A send with display strings.
#[derive(Debug)]
pub(crate) struct SendView {
    pub(crate) send: EmailSend,
    pub(crate) queued: String,
    pub(crate) finished: String,
    pub(crate) error: String,
}

fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Fixed notices a redirect may ask for.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Done {
    done: String,
}

impl Done {
    fn notice(&self) -> Option<String> {
        Some(
            match self.done.as_str() {
                "subscribed" => {
                    "Subscription added: the first digest goes out at its next due time."
                }
                "unsubscribed" => "Subscription removed; what was sent stays on record below.",
                "test_queued" => {
                    "Test email queued: it is sent in the background; its outcome appears below."
                }
                _ => return None,
            }
            .to_owned(),
        )
    }
}

fn done(what: &str) -> Response {
    Redirect::to(&href("/email", &[("done", what)])).into_response()
}

/// `/email`.
pub(crate) async fn email(
    State(state): State<WebState>,
    CurrentUser(user): CurrentUser,
    Query(done): Query<Done>,
) -> Result<Response, WebError> {
    if !user.role.is_admin() {
        return Err(WebError::admin_only());
    }
    let smtp = state.settings.mailer.as_ref().map(|mailer| {
        let s = mailer.settings();
        format!(
            "{}:{} ({}), from {}{}",
            s.host,
            s.port,
            match s.security {
                crate::email::SmtpSecurity::Starttls => "STARTTLS",
                crate::email::SmtpSecurity::Tls => "TLS",
                crate::email::SmtpSecurity::None => "unencrypted, this machine only",
            },
            s.from,
            match &s.credentials {
                Some((user, _)) => format!(", signed in as {user}"),
                None => String::new(),
            }
        )
    });
    let subscriptions = state
        .store
        .list_email_subscriptions()
        .await?
        .into_iter()
        .map(|s| {
            let due = when(s.next_due);
            (s, due)
        })
        .collect();
    let sends = state
        .store
        .list_email_sends(SENDS_SHOWN)
        .await?
        .into_iter()
        .map(|send| SendView {
            queued: when(send.created_at),
            finished: send.finished_at.map(when).unwrap_or_default(),
            error: send.last_error.clone().unwrap_or_default(),
            send,
        })
        .collect();
    Ok(Html(
        EmailPage {
            layout: Layout::new("email", &user).with_notice(done.notice()),
            smtp,
            subscriptions,
            sends,
        }
        .render()?,
    )
    .into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct SubscriptionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    frequency: String,
}

impl CsrfProtected for SubscriptionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn checked_address(address: &str) -> Result<String, WebError> {
    let address = address.trim();
    if address.is_empty() || address.len() > 254 {
        return Err(WebError::bad_request(
            "Give an email address of at most 254 characters, e.g. it-admins@example.com.",
        ));
    }
    crate::email::check_address(address).map_err(|e| WebError::bad_request(e.to_string()))?;
    Ok(address.to_owned())
}

fn store_refusal(error: StoreError) -> WebError {
    match error {
        StoreError::InvalidState(message) => WebError::conflict(message),
        other => WebError::from(other),
    }
}

/// `POST /email/subscriptions`.
pub(crate) async fn add_subscription(
    State(state): State<WebState>,
    AdminForm { user, form }: AdminForm<SubscriptionForm>,
) -> Result<Response, WebError> {
    let address = checked_address(&form.address)?;
    let frequency = Frequency::parse(form.frequency.trim()).ok_or_else(|| {
        WebError::bad_request(format!(
            "Unknown frequency {:?}: use weekly or monthly.",
            form.frequency
        ))
    })?;
    state
        .store
        .add_email_subscription(&user.username, &address, frequency)
        .await
        .map_err(store_refusal)?;
    Ok(done("subscribed"))
}

/// `POST /email/subscriptions/{id}/remove`.
pub(crate) async fn remove_subscription(
    State(state): State<WebState>,
    Path(id): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Result<Response, WebError> {
    state
        .store
        .remove_email_subscription(&user.username, &id)
        .await?;
    Ok(done("unsubscribed"))
}

#[derive(Debug, Deserialize)]
pub(crate) struct TestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    address: String,
}

impl CsrfProtected for TestForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /email/test`: queues a test message and returns at once.
pub(crate) async fn send_test(
    State(state): State<WebState>,
    AdminForm { user, form }: AdminForm<TestForm>,
) -> Result<Response, WebError> {
    let Some(mailer) = &state.settings.mailer else {
        return Err(WebError::conflict(
            "Email is not set up: start the platform with --smtp-host and --email-from (see README, Scheduled reports by email).",
        ));
    };
    let address = checked_address(&form.address)?;
    state
        .store
        .queue_test_email(&user.username, &address)
        .await?;
    mailer.wake();
    Ok(done("test_queued"))
}
