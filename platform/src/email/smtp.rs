//! The SMTP side: a lettre transport over rustls (or plain, to loopback only), and one
//! message sent with retries: a refusal the server calls temporary (4xx), a lost
//! connection or a timeout is retried with exponential backoff and jitter (backon); a
//! permanent refusal (5xx) is not. Every failed attempt is recorded on the send's row.

use std::sync::atomic::{AtomicU32, Ordering};

use backon::{ExponentialBuilder, Retryable};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{EmailSettings, SmtpSecurity};
use crate::store::Store;

pub(super) type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// The transport the settings describe (connects per message, lazily).
pub(super) fn transport(
    settings: &EmailSettings,
) -> Result<Transport, lettre::transport::smtp::Error> {
    let builder = match settings.security {
        SmtpSecurity::Tls => Transport::relay(&settings.host)?,
        SmtpSecurity::Starttls => Transport::starttls_relay(&settings.host)?,
        SmtpSecurity::None => Transport::builder_dangerous(&settings.host),
    };
    let mut builder = builder.port(settings.port).timeout(Some(settings.timeout));
    if let Some((user, password)) = &settings.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
    }
    Ok(builder.build())
}

/// A failure's text for the record: what the server or the connection said. lettre's
/// errors carry no credentials.
fn describe(error: &lettre::transport::smtp::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

/// Sends `message`, retrying temporary failures. `Ok(attempts)` or
/// `Err((attempts, last error))`.
pub(super) async fn send_with_retry(
    transport: &Transport,
    settings: &EmailSettings,
    store: &Store,
    send_id: &str,
    message: Message,
) -> Result<u32, (u32, String)> {
    let attempts = AtomicU32::new(0);
    let backoff = ExponentialBuilder::default()
        .with_min_delay(settings.retry_delay)
        .with_max_delay(settings.retry_delay * 32)
        .with_max_times(settings.max_attempts.saturating_sub(1) as usize)
        .with_jitter();
    let attempt = || async {
        let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
        match transport.send(message.clone()).await {
            Ok(_) => Ok(()),
            Err(error) => {
                let text = describe(&error);
                if let Err(store_error) = store
                    .record_email_attempt(send_id, i64::from(n), &text)
                    .await
                {
                    tracing::warn!(send = %send_id, error = %store_error, "Cannot record a failed email attempt.");
                }
                Err(error)
            }
        }
    };
    let result = attempt
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|error| !error.is_permanent())
        .notify(|error, delay| {
            tracing::warn!(send = %send_id, error = %describe(error), retry_in_ms = delay.as_millis() as u64, "Sending an email failed; retrying.");
        })
        .await;
    let n = attempts.load(Ordering::Relaxed);
    result.map(|()| n).map_err(|error| (n, describe(&error)))
}
