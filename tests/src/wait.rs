//! Waiting for a condition by polling, with a deadline. Tests assert on outcomes, never on
//! how long something took; the deadline only turns a hang into a readable failure.

use std::future::Future;
use std::time::Duration;

use anyhow::bail;

/// Polls `probe` every `every` until it returns `Ok(Some(value))`, for at most `timeout`.
/// `Ok(None)` means "not yet"; an `Err` ends the wait at once. On timeout the error names
/// `what` and the last "not yet" note the probe left in `last`.
pub async fn until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut probe: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(every).await;
    }
}
