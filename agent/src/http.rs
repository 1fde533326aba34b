//! What every HTTP client of the agent shares against a hostile or broken server: a
//! redirect policy that stays on the first URL's origin, and bodies read with a size cap.
//!
//! Architecture Invariant: no client of the agent follows a redirect to another origin (a
//! credential or a body would go with it), and none reads an answer without a size cap.

use reqwest::redirect::{Attempt, Policy};

/// Redirects followed within one origin before giving up.
const MAX_SAME_ORIGIN_REDIRECTS: usize = 5;

/// Follows redirects only to the scheme, host and port of the request's first URL; any
/// other redirect is not followed, so the caller sees the 3xx answer and reports it.
pub(crate) fn same_origin_redirects() -> Policy {
    Policy::custom(|attempt: Attempt<'_>| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin && attempt.previous().len() <= MAX_SAME_ORIGIN_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// The `Location` of a redirect answer, for error messages.
pub(crate) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| "an unnamed place".to_owned(), str::to_owned)
}

/// Why [`read_capped`] stopped.
#[derive(Debug)]
pub(crate) enum Capped {
    /// More than the limit: reading stopped there.
    TooLarge,
    Read(reqwest::Error),
}

/// The response body, read piece by piece and abandoned as soon as it passes `limit`
/// bytes, so a hostile or broken server cannot fill the agent's memory.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, Capped> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Capped::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Capped::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(Capped::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error of a source's HTTP client that [`with_retries`] can act on.
pub(crate) trait Retriable: std::fmt::Display + Sized {
    /// Who answered, for the log line: `Humaans`, `Microsoft`.
    const SERVICE: &'static str;
    /// Whether the same request may succeed later (5xx, 429, timeouts, cut bodies).
    fn is_transient_request_error(&self) -> bool;
    /// How long the server asked to wait, when it said.
    fn retry_after(&self) -> Option<std::time::Duration>;
    /// The error that ends a run of `attempts` transient failures.
    fn retries_exhausted(attempts: u32, elapsed: std::time::Duration, last: Self) -> Self;
}

/// Runs `op` until it succeeds, fails permanently, or the policy is used up. Delays come
/// from `backon`'s exponential backoff with jitter; a server's `Retry-After` replaces the
/// computed delay (capped at `max_retry_after`). A first failure that cannot be retried
/// within the policy is returned as it is; later ones are wrapped by
/// [`Retriable::retries_exhausted`]. `sleep` waits, so tests can inject time.
pub(crate) async fn with_retries<T, E, F, Fut, S, SFut>(
    policy: crate::humaans::RetryPolicy,
    url: &str,
    sleep: S,
    mut op: F,
) -> Result<T, E>
where
    E: Retriable,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    S: Fn(std::time::Duration) -> SFut,
    SFut: std::future::Future<Output = ()>,
{
    use backon::BackoffBuilder;
    let mut backoff = backon::ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.max_attempts.saturating_sub(1) as usize)
        .with_jitter()
        .build();
    let mut attempts = 0u32;
    let mut waited = std::time::Duration::ZERO;
    loop {
        attempts += 1;
        let error = match op().await {
            Ok(value) => return Ok(value),
            Err(error) if !error.is_transient_request_error() => return Err(error),
            Err(error) => error,
        };
        let delay = backoff.next().map(|computed| match error.retry_after() {
            Some(asked) => asked.min(policy.max_retry_after),
            None => computed,
        });
        let delay = match delay {
            Some(delay) if waited + delay <= policy.max_elapsed => delay,
            _ if attempts == 1 => return Err(error),
            _ => return Err(E::retries_exhausted(attempts, waited, error)),
        };
        tracing::warn!(
            url,
            %error,
            attempt = attempts,
            delay_ms = delay.as_millis() as u64,
            "{} request failed, will retry.",
            E::SERVICE
        );
        sleep(delay).await;
        waited += delay;
    }
}
