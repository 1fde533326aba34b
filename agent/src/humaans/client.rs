//! The HTTP client: one GET with status mapping, and retries around it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap, RETRY_AFTER};
use seatbroker_protocol::Secret;
use serde::de::DeserializeOwned;

use super::config::{HumaansConfig, validate_base_url};
use super::error::{HumaansError, scope_in_message};

/// A sleep function: `tokio::time::sleep` unless a test injects another.
pub(crate) type SleepFn =
    Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;
/// The wall clock used to turn a `Retry-After` HTTP date into a delay.
pub(crate) type NowFn = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The agent's Humaans API client. Cheap to clone (shared connection pool).
#[derive(Clone)]
pub struct HumaansClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    http: reqwest::Client,
    /// Validated, without trailing `/`.
    base_url: String,
    token: Secret,
    pub(crate) config: HumaansConfig,
    sleep: SleepFn,
    now: NowFn,
}

impl std::fmt::Debug for HumaansClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HumaansClient")
            .field("base_url", &self.inner.base_url)
            .field("token", &self.inner.token)
            .field("page_size", &self.inner.config.effective_page_size())
            .field("concurrency", &self.inner.config.concurrency)
            .finish_non_exhaustive()
    }
}

/// `seatbroker-agent/<version>`.
pub(crate) fn user_agent() -> String {
    format!("seatbroker-agent/{}", env!("CARGO_PKG_VERSION"))
}

/// The largest answer read from Humaans: a page of 250 people is well under 1 MiB.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The most of an error answer read, for its message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

impl HumaansClient {
    /// Validates the configuration and builds the client (rustls, system roots plus the
    /// optional extra CA, timeouts, User-Agent). Makes no request.
    pub fn new(config: HumaansConfig) -> Result<Self, HumaansError> {
        let base_url = validate_base_url(&config.base_url, config.allow_insecure_http)?;
        if config.token.expose().trim().is_empty() {
            return Err(HumaansError::InvalidConfig {
                field: "token",
                message: "is empty; put a Humaans API access token in the token file".into(),
            });
        }
        if config
            .token
            .expose()
            .chars()
            .any(|c| c.is_control() || c == ' ')
        {
            return Err(HumaansError::InvalidConfig {
                field: "token",
                message: "contains spaces or control characters; check the token file holds \
                          only the token"
                    .into(),
            });
        }
        if config.retry.max_attempts == 0 {
            return Err(HumaansError::InvalidConfig {
                field: "retry.max_attempts",
                message: "must be at least 1".into(),
            });
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(user_agent())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(crate::http::same_origin_redirects())
            .https_only(!base_url.starts_with("http://"));
        if let Some(path) = &config.ca_certificate {
            let pem = std::fs::read(path).map_err(|e| HumaansError::CaCertificate {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                HumaansError::CaCertificate {
                    path: path.clone(),
                    message: e.to_string(),
                }
            })?;
            if certs.is_empty() {
                return Err(HumaansError::CaCertificate {
                    path: path.clone(),
                    message: "it holds no certificate".into(),
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| HumaansError::InvalidConfig {
            field: "tls",
            message: format!("cannot build the HTTPS client: {e}"),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url,
                token: config.token.clone(),
                config,
                sleep: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
                now: Arc::new(SystemTime::now),
            }),
        })
    }

    /// Replaces the sleep used between retries (tests record delays instead of waiting).
    /// Call right after [`HumaansClient::new`].
    pub fn with_sleep(self, sleep: SleepFn) -> Self {
        self.map_inner(|inner| inner.sleep = sleep)
    }

    /// Replaces the wall clock used for `Retry-After` HTTP dates.
    pub fn with_clock(self, now: NowFn) -> Self {
        self.map_inner(|inner| inner.now = now)
    }

    fn map_inner(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            http: shared.http.clone(),
            base_url: shared.base_url.clone(),
            token: shared.token.clone(),
            config: shared.config.clone(),
            sleep: shared.sleep.clone(),
            now: shared.now.clone(),
        });
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The validated base URL (no trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    pub fn config(&self) -> &HumaansConfig {
        &self.inner.config
    }

    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.inner.base_url, path_and_query)
    }

    /// One GET, no retry: the body on 2xx (at most [`MAX_BODY_BYTES`]), a classified error
    /// otherwise; a redirect to another origin is not followed.
    async fn get_once(&self, url: &str) -> Result<Vec<u8>, HumaansError> {
        let response = self
            .inner
            .http
            .get(url)
            .header(ACCEPT, "application/json")
            // `bearer_auth` marks the header sensitive, so it never shows in debug output.
            .bearer_auth(self.inner.token.expose())
            .send()
            .await
            .map_err(|e| transport_error(url, &e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(HumaansError::Redirected {
                url: url.to_owned(),
                status: status.as_u16(),
                location: crate::http::location(&response),
            });
        }
        if status.is_success() {
            return crate::http::read_capped(response, MAX_BODY_BYTES)
                .await
                .map_err(|error| match error {
                    crate::http::Capped::TooLarge => HumaansError::TooLarge {
                        url: url.to_owned(),
                        limit: MAX_BODY_BYTES,
                    },
                    crate::http::Capped::Read(e) => transport_error(url, &e),
                });
        }
        let retry_after = retry_after(response.headers(), (self.inner.now)());
        // Error bodies are small; a failure to read one must not hide the status.
        let body = crate::http::read_capped(response, MAX_ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        Err(status_error(url, status, retry_after, &body))
    }

    /// GET and parse JSON, retrying transient failures (including unreadable bodies)
    /// according to the retry policy.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path_and_query: &str,
    ) -> Result<T, HumaansError> {
        let url = self.url(path_and_query);
        self.with_retry(&url, || async {
            let body = self.get_once(&url).await?;
            serde_json::from_slice::<T>(&body).map_err(|e| HumaansError::InvalidBody {
                url: url.clone(),
                message: format!("{e} (body of {} bytes)", body.len()),
            })
        })
        .await
    }

    /// Runs `op` until it succeeds, fails permanently, or the retry policy is used up.
    /// Delays come from `backon`'s exponential backoff with jitter; a `Retry-After` from a
    /// 429 replaces the computed delay (capped at `max_retry_after`).
    pub(crate) async fn with_retry<T, F, Fut>(
        &self,
        url: &str,
        mut op: F,
    ) -> Result<T, HumaansError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, HumaansError>>,
    {
        let policy = self.inner.config.retry;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build();
        let mut attempts = 0u32;
        let mut waited = Duration::ZERO;
        loop {
            attempts += 1;
            let error = match op().await {
                Ok(value) => return Ok(value),
                Err(error) if !error.is_transient_request_error() => return Err(error),
                Err(error) => error,
            };
            let delay = backoff.next().map(|computed| match &error {
                HumaansError::RateLimited {
                    retry_after: Some(asked),
                    ..
                } => (*asked).min(policy.max_retry_after),
                _ => computed,
            });
            let delay = match delay {
                Some(delay) if waited + delay <= policy.max_elapsed => delay,
                _ if attempts == 1 => return Err(error),
                _ => {
                    return Err(HumaansError::RetriesExhausted {
                        attempts,
                        elapsed: waited,
                        last: Box::new(error),
                    });
                }
            };
            tracing::warn!(
                url,
                %error,
                attempt = attempts,
                delay_ms = delay.as_millis() as u64,
                "Humaans request failed, will retry."
            );
            (self.inner.sleep)(delay).await;
            waited += delay;
        }
    }
}

fn transport_error(url: &str, error: &reqwest::Error) -> HumaansError {
    let url = url.to_owned();
    if error.is_timeout() {
        HumaansError::Timeout { url }
    } else if error.is_connect() {
        HumaansError::Unreachable {
            url,
            message: error_chain(error),
        }
    } else {
        HumaansError::Transport {
            url,
            message: error_chain(error),
        }
    }
}

/// The error and its causes on one line (reqwest's own Display hides the cause).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn status_error(
    url: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> HumaansError {
    let url = url.to_owned();
    let message = body_message(body);
    match status.as_u16() {
        401 => HumaansError::Unauthorized { url },
        403 => HumaansError::Forbidden {
            url,
            scope: scope_in_message(&message),
            message,
        },
        404 => HumaansError::NotFound { url },
        408 => HumaansError::Timeout { url },
        429 => HumaansError::RateLimited { url, retry_after },
        // 501 Not Implemented and 505 HTTP Version Not Supported will not change.
        501 | 505 => HumaansError::Rejected {
            url,
            status: status.as_u16(),
            message,
        },
        500..=599 => HumaansError::Server {
            url,
            status: status.as_u16(),
            snippet: if message.is_empty() {
                status.canonical_reason().unwrap_or("").to_owned()
            } else {
                message
            },
        },
        code => HumaansError::Rejected {
            url,
            status: code,
            message,
        },
    }
}

/// `message` from a JSON error body, else the start of the body as text (one line).
fn body_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: Option<String>,
    }
    if let Ok(ErrorBody {
        message: Some(message),
    }) = serde_json::from_slice::<ErrorBody>(body)
    {
        return one_line(&message, 300);
    }
    one_line(&String::from_utf8_lossy(body), 200)
}

fn one_line(text: &str, max_chars: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    flat.trim().to_owned()
}

fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, now)
}

/// `Retry-After` as delay-seconds or an HTTP date (IMF-fixdate, RFC 850 or asctime).
/// A date in the past means "now" (zero).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value)
        .map(|d| d.to_utc())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT")
                .map(|d| d.and_utc())
        })
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y")
                .map(|d| d.and_utc())
        })
        .ok()?;
    let when = SystemTime::from(when);
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00Z
        let check = |v: &str, want: Option<u64>| {
            assert_eq!(parse_retry_after(v, now).map(|d| d.as_secs()), want, "{v}");
        };
        check("120", Some(120));
        check(" 0 ", Some(0));
        check("Wed, 21 Oct 2015 07:30:00 GMT", Some(120));
        check("Wednesday, 21-Oct-15 07:29:00 GMT", Some(60));
        check("Wed Oct 21 07:28:30 2015", Some(30));
        check("Wed, 21 Oct 2015 07:00:00 GMT", Some(0));
        check("soon", None);
        check("-5", None);
    }

    #[test]
    fn error_bodies() {
        let check = |body: &str, want: &str| assert_eq!(body_message(body.as_bytes()), want);
        check(
            r#"{"name":"Forbidden","message":"Missing scope","code":403}"#,
            "Missing scope",
        );
        check(r#"{"code":"x"}"#, r#"{"code":"x"}"#);
        check("<html>\nBad Gateway</html>", "<html> Bad Gateway</html>");
        check("", "");
    }
}
