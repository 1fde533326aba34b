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
