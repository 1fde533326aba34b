//! Scheduled reports by email: the settings, the background sender and the messages.
//!
//! - `mod.rs`: [`EmailSettings`] (SMTP server, sender, links, retry policy) and [`Mailer`],
//!   the handle the console uses to wake the sender, and whose [`Mailer::run`] is the
//!   background task: it queues due digests and sends queued messages until shutdown.
//! - `digest.rs`: what a digest says, from the same store functions the console reads, with
//!   the Reclaim CSV attached; and the test message.
//! - `smtp.rs`: the SMTP transport (lettre over rustls) and one send with retries (backon).
//!
//! Architecture Invariant: no request handler talks to an SMTP server. The console only
//! writes to the `email_sends` queue and wakes the sender; every send, its attempts and its
//! outcome are recorded there. The schedule (`next_due`) lives in the database, so it
//! survives restarts and a digest is claimed by exactly one process.

mod digest;
mod smtp;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use seatbroker_protocol::Secret;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::store::Store;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587); refused when the server does not offer it.
    Starttls,
    /// TLS from the first byte (implicit TLS, port 465).
    Tls,
    /// No encryption: only to a server on this machine (loopback), e.g. for tests.
    None,
}

impl SmtpSecurity {
    /// The usual port of each mode.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

/// Everything the sender needs. The password is a [`Secret`].
#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// SMTP user and password, when the server wants a login.
    pub credentials: Option<(String, Secret)>,
    /// The sender address, e.g. `Seatbroker <seatbroker@example.com>`.
    pub from: String,
    /// The console's address, for links in messages (no trailing slash).
    pub public_url: String,
    /// How often the sender looks for due digests and queued messages (it is also woken at
    /// once when the console queues a message).
    pub poll: Duration,
    /// Attempts per message (the first included) before it is recorded as failed.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled after each one (with jitter).
    pub retry_delay: Duration,
    /// Connection and command timeout per attempt.
    pub timeout: Duration,
}

impl EmailSettings {
    /// Settings with the defaults for everything but the server, sender and links.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        security: SmtpSecurity,
        from: impl Into<String>,
        public_url: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            security,
            credentials: None,
            from: from.into(),
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            poll: Duration::from_secs(60),
            max_attempts: 5,
            retry_delay: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A message could not be built or sent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EmailError {
    #[error("the address {address:?} is not an email address: {reason}")]
    Address { address: String, reason: String },
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("cannot read the report figures: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// The console's handle on the sender: it knows the settings and wakes the background
/// task. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    settings: Arc<EmailSettings>,
    wake: Arc<Notify>,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.settings.host)
            .field("port", &self.settings.port)
            .finish_non_exhaustive()
    }
}

/// How long a claimed send may stay `sending` before another process takes it over: longer
/// than every attempt and delay of one send together.
fn lease(settings: &EmailSettings) -> chrono::Duration {
    let mut total = Duration::from_secs(60);
    let mut delay = settings.retry_delay;
    for _ in 0..settings.max_attempts {
        total += settings.timeout * 3 + delay;
        delay = delay.saturating_mul(2);
    }
    chrono::Duration::from_std(total).unwrap_or(chrono::Duration::hours(1))
}

impl Mailer {
    pub fn new(settings: EmailSettings) -> Self {
        Self {
            settings: Arc::new(settings),
            wake: Arc::new(Notify::new()),
        }
    }

    pub(crate) fn settings(&self) -> &EmailSettings {
        &self.settings
    }

    /// Tells the sender there is something queued (returns at once).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// The background sender: queues due digests and sends queued messages, every
    /// `poll` and whenever woken, until `shutdown`. Never returns an error: a failure is
    /// logged, recorded on the send, counted in the metrics, and tried again later.
    pub async fn run(self, store: Store, metrics: Arc<Metrics>, shutdown: CancellationToken) {
        let transport = match smtp::transport(&self.settings) {
            Ok(transport) => transport,
            Err(error) => {
                tracing::error!(%error, host = %self.settings.host, "Cannot set up the SMTP connection; no email will be sent.");
                return;
            }
        };
        tracing::info!(host = %self.settings.host, port = self.settings.port, "Email sender started.");
        let lease = lease(&self.settings);
        loop {
            match store.queue_due_digests().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(digests = n, "Digests due: queued."),
                Err(error) => {
                    tracing::warn!(%error, "Cannot queue due digests; will try again.")
                }
            }
            loop {
                let send = match store.claim_email_send(lease).await {
                    Ok(Some(send)) => send,
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(%error, "Cannot read the email queue; will try again.");
                        break;
                    }
                };
                let outcome = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    outcome = self.deliver(&transport, &store, &send) => outcome,
                };
                let (attempts, error) = match outcome {
                    Ok(attempts) => {
                        tracing::info!(send = %send.id, kind = %send.kind, attempts, "Email sent.");
                        (attempts, None)
                    }
                    Err((attempts, error)) => {
                        metrics.record_email_send_failure();
                        tracing::warn!(send = %send.id, kind = %send.kind, attempts, %error, "Email not sent; recorded as failed.");
                        (attempts, Some(error))
                    }
                };
                if let Err(error) = store
                    .finish_email_send(&send.id, i64::from(attempts), error.as_deref())
                    .await
                {
                    tracing::warn!(send = %send.id, %error, "Cannot record an email's outcome.");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    /// Builds and sends one queued message. `Ok(attempts)` or `Err((attempts, error))`.
    async fn deliver(
        &self,
        transport: &smtp::Transport,
        store: &Store,
        send: &crate::store::EmailSend,
    ) -> Result<u32, (u32, String)> {
        let message = if send.is_test() {
            digest::test_message(&self.settings, &send.address, store.now())
        } else {
            digest::digest_message(&self.settings, store, send).await
        }
        .map_err(|error| (0, error.to_string()))?;
        smtp::send_with_retry(transport, &self.settings, store, &send.id, message).await
    }
}

/// Checks an address the console was given.
pub(crate) fn check_address(address: &str) -> Result<(), EmailError> {
    address
        .parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|e| EmailError::Address {
            address: address.to_owned(),
            reason: e.to_string(),
        })
}

/// Checks a sender (`name <addr>` or `addr`).
pub(crate) fn check_mailbox(mailbox: &str) -> Result<(), EmailError> {
    mailbox
        .parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|e| EmailError::Address {
            address: mailbox.to_owned(),
            reason: e.to_string(),
        })
}
