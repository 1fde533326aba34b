//! Retrying platform requests: jittered exponential backoff with no limit on attempts for
//! transient errors (the platform being down for a day must not lose data), a bounded
//! delay between attempts, the server's `Retry-After` honoured (up to the bound), and
//! cancellation by shutdown at any moment. Permanent errors are returned at once.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio_util::sync::CancellationToken;

use super::UplinkError;

/// Delays between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first delay; doubled each attempt, with jitter.
    pub min_delay: Duration,
    /// The longest delay, also the cap on `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
        }
    }
}

/// Why a retried request gave up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Abandoned {
    #[error("stopped: the agent is shutting down")]
    Cancelled,
    #[error(transparent)]
    Failed(#[from] UplinkError),
}

/// Resends of a part the platform found damaged before the round gives up on it.
const MAX_CHECKSUM_RETRIES: u32 = 3;

/// Runs `request` until it succeeds, fails permanently, or `cancel` fires.
pub(crate) async fn retry<T, F, Fut>(
    policy: RetryPolicy,
    cancel: &CancellationToken,
    what: &'static str,
    request: F,
) -> Result<T, Abandoned>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, UplinkError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_jitter()
        .without_max_times();
    let max = policy.max_delay;
    let damaged = AtomicU32::new(0);
    let attempts = request
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|error| {
            // A part damaged in transit is worth resending, but a proxy that damages every
            // body would keep the agent on one part for ever: after a few tries, give up on
            // this round (the next round sends the whole snapshot again).
            if error.code() == Some(&seatbroker_protocol::ErrorCode::ChecksumMismatch) {
                damaged.fetch_add(1, Ordering::Relaxed) < MAX_CHECKSUM_RETRIES
            } else {
                error.is_transient()
            }
        })
        .adjust(move |error, delay| {
            error
                .retry_after()
                .map(|after| after.min(max))
                .or(delay)
        })
        .notify(|error, delay| {
            tracing::warn!(request = what, %error, retry_in_ms = delay.as_millis() as u64, "A platform request failed; retrying.");
        });
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(Abandoned::Cancelled),
        result = attempts => result.map_err(Abandoned::Failed),
    }
}
