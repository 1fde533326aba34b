//! The HTTP client: a cached client-credentials token, one GET with status mapping, retries
//! around it, and serial `@odata.nextLink` paging.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use seatbroker_protocol::Secret;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::config::{EntraConfig, PAGE_WITH_ACTIVITY, PAGE_WITHOUT_ACTIVITY, validate_host_url};
use super::error::EntraError;
use super::model::{IdOnly, Page, SubscribedSku, User};
use super::token::{self, TokenAnswer};
use crate::humaans::{NowFn, SleepFn, parse_retry_after, user_agent};

/// Graph's error code when the tenant has no Entra ID P1/P2 (or is a B2C tenant).
pub const NON_PREMIUM: &str = "Authentication_RequestFromNonPremiumTenantOrB2CTenant";
/// Graph's error code for a missing permission.
pub const REQUEST_DENIED: &str = "Authorization_RequestDenied";

/// What the agent says when sign-in activity cannot be read.
pub const NO_ACTIVITY: &str = "Entra ID refused to share sign-in activity (it needs the AuditLog.Read.All application permission and an Entra ID P1 or P2 licence in the tenant): licences are counted, but nobody is called idle or never-used; every licence of an enabled account is unknown_activity";

const USER_FIELDS: &str = "id,userPrincipalName,mail,otherMails,proxyAddresses,accountEnabled,userType,createdDateTime,assignedLicenses";

/// Everything one collection read from the tenant.
#[derive(Debug, Clone)]
pub struct Directory {
    pub skus: Vec<SubscribedSku>,
    /// Parsed users, without duplicates, in the order Graph sent them.
    pub users: Vec<User>,
    /// User records received, including unparsable ones.
    pub users_seen: u64,
    /// Ids (or positions) of user records that could not be parsed, with why.
    pub unparsable_users: Vec<String>,
    /// Whether `signInActivity` could be read.
    pub activity_available: bool,
    /// Pages of users read.
    pub pages: u64,
    pub duration: Duration,
}

/// What `check` learns about the app registration.
#[derive(Debug, Clone)]
pub struct EntraAccess {
    /// The application permissions in the access token, when it could be decoded.
    pub roles: Option<Vec<String>>,
    /// Needed permissions the token lacks (`A or B` where either will do).
    pub missing: Vec<String>,
    /// One line per probe request: what was asked, and `Ok` or the error.
    pub probes: Vec<(&'static str, Result<(), String>)>,
    /// Whether sign-in activity could be read.
    pub activity_available: bool,
}

#[derive(Debug)]
struct Cached {
    token: Secret,
    renew_at: tokio::time::Instant,
}

/// The agent's Entra ID / Microsoft Graph client. Cheap to clone (shared connection pool
/// and token).
#[derive(Clone)]
pub struct EntraClient {
    http: reqwest::Client,
    login_url: String,
    graph_url: String,
    config: Arc<EntraConfig>,
    token: Arc<tokio::sync::Mutex<Option<Cached>>>,
    sleep: SleepFn,
    now: NowFn,
}

impl std::fmt::Debug for EntraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraClient")
            .field("login_url", &self.login_url)
            .field("graph_url", &self.graph_url)
            .field("tenant_id", &self.config.tenant_id)
            .field("client_id", &self.config.client_id)
            .field("client_secret", &self.config.client_secret)
            .finish_non_exhaustive()
    }
}

impl EntraClient {
    /// Validates the configuration and builds the client (rustls, system roots plus the
    /// optional extra CA, timeouts, User-Agent). Makes no request.
    pub fn new(config: EntraConfig) -> Result<Self, EntraError> {
        let login_url =
            validate_host_url("login_url", &config.login_url, config.allow_insecure_http)?;
        let graph_url =
            validate_host_url("graph_url", &config.graph_url, config.allow_insecure_http)?;
        let bad = |field: &'static str, message: &str| EntraError::InvalidConfig {
            field,
            message: message.to_owned(),
        };
        let tenant = config.tenant_id.trim();
        if tenant.is_empty()
            || !tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(bad(
                "tenant_id",
                "must be the Directory (tenant) ID (a GUID) or a verified domain",
            ));
        }
        if config.client_id.trim().is_empty() {
            return Err(bad(
                "client_id",
                "is empty; set the Application (client) ID",
            ));
        }
        if config.client_secret.expose().trim().is_empty() {
            return Err(bad(
                "client_secret",
                "is empty; put the client secret's Value in the secret file",
            ));
        }
        if config.retry.max_attempts == 0 {
            return Err(bad("retry.max_attempts", "must be at least 1"));
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(user_agent())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(crate::http::same_origin_redirects())
            .https_only(!login_url.starts_with("http://") && !graph_url.starts_with("http://"));
        if let Some(path) = &config.ca_certificate {
            let ca_error = |message: String| EntraError::CaCertificate {
                path: path.clone(),
                message,
            };
            let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca_error("it holds no certificate".into()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| EntraError::InvalidConfig {
            field: "tls",
            message: format!("cannot build the HTTPS client: {e}"),
        })?;
        Ok(Self {
            http,
            login_url,
            graph_url,
            config: Arc::new(config),
            token: Arc::default(),
            sleep: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
            now: Arc::new(std::time::SystemTime::now),
        })
    }

    /// Replaces the sleep used between retries (tests record delays instead of waiting).
    pub fn with_sleep(mut self, sleep: SleepFn) -> Self {
        self.sleep = sleep;
        self
    }

    /// Replaces the wall clock used for `Retry-After` HTTP dates.
    pub fn with_clock(mut self, now: NowFn) -> Self {
        self.now = now;
        self
    }

    pub fn config(&self) -> &EntraConfig {
        &self.config
    }

    /// The validated Graph host (no trailing `/`).
    pub fn graph_url(&self) -> &str {
        &self.graph_url
    }

    /// A valid access token: the cached one, or a new one when it is close to expiry.
    pub async fn access_token(&self) -> Result<Secret, EntraError> {
        let mut cached = self.token.lock().await;
        if let Some(current) = cached.as_ref()
            && tokio::time::Instant::now() < current.renew_at
        {
            return Ok(current.token.clone());
        }
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.login_url,
            self.config.tenant_id.trim()
        );
        let answer = self
            .with_retry(&url, || self.request_token_once(&url))
            .await?;
        let lifetime = token::usable_for(answer.expires_in, self.config.token_refresh_margin);
        tracing::debug!(
            tenant = %self.config.tenant_id,
            valid_secs = lifetime.as_secs(),
            "Obtained an Entra ID access token."
        );
        let fresh = Secret::new(answer.access_token);
        *cached = Some(Cached {
            token: fresh.clone(),
            renew_at: tokio::time::Instant::now() + lifetime,
        });
        Ok(fresh)
    }

    /// Drops the cached token, so the next request gets a new one.
    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    async fn request_token_once(&self, url: &str) -> Result<TokenAnswer, EntraError> {
        let scope = format!("{}/.default", self.graph_url);
        let body = token::form(&[
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id.trim()),
            ("client_secret", self.config.client_secret.expose()),
            ("scope", &scope),
        ]);
        let response = self
            .http
            .post(url)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(url, &e))?;
        let status = response.status();
        let retry_after = retry_after(response.headers(), (self.now)());
        let bytes = read_body(url, response, self.config.max_body_bytes).await?;
        match status.as_u16() {
            200..=299 => {
                serde_json::from_slice::<TokenAnswer>(&bytes).map_err(|e| EntraError::InvalidBody {
                    url: url.to_owned(),
                    message: format!("not a token answer: {e}"),
                })
            }
            400 | 401 => Err(token::refused(
                status.as_u16(),
                &bytes,
                self.config.tenant_id.trim(),
                self.config.client_id.trim(),
            )),
            _ => Err(status_error(url, status, retry_after, &bytes)),
        }
    }

    /// One GET with `token`, no retry: the body on 2xx, a classified error otherwise.
    async fn get_once(&self, url: &str, token: &Secret) -> Result<Vec<u8>, EntraError> {
        let response = self
            .http
            .get(url)
            .header(ACCEPT, "application/json")
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| transport_error(url, &e))?;
        let status = response.status();
        if status.is_success() {
            return read_body(url, response, self.config.max_body_bytes).await;
        }
        let retry_after = retry_after(response.headers(), (self.now)());
        let body = read_body(url, response, self.config.max_body_bytes).await?;
        Err(status_error(url, status, retry_after, &body))
    }

    /// GET `url` (absolute) and parse JSON: transient failures are retried; a 401 gets one
    /// new token and one more try.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, EntraError> {
        let mut renewed = false;
        loop {
            let token = self.access_token().await?;
            let result = self
                .with_retry(url, || async {
                    let body = self.get_once(url, &token).await?;
                    serde_json::from_slice::<T>(&body).map_err(|e| EntraError::InvalidBody {
                        url: url.to_owned(),
                        message: format!("{e} (body of {} bytes)", body.len()),
                    })
                })
                .await;
            match result {
                Err(EntraError::Unauthorized { .. }) if !renewed => {
                    tracing::info!(url, "Graph rejected the access token; getting a new one.");
                    renewed = true;
                    self.forget_token().await;
                }
                other => return other,
            }
        }
    }

    /// Runs `op` until it succeeds, fails permanently, or the retry policy is used up.
    /// A `Retry-After` replaces the computed backoff (capped at `max_retry_after`).
    async fn with_retry<T, F, Fut>(&self, url: &str, mut op: F) -> Result<T, EntraError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, EntraError>>,
    {
        let policy = self.config.retry;
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
            let delay = backoff.next().map(|computed| match error.retry_after() {
                Some(asked) => asked.min(policy.max_retry_after),
                None => computed,
            });
            let delay = match delay {
                Some(delay) if waited + delay <= policy.max_elapsed => delay,
                _ if attempts == 1 => return Err(error),
                _ => {
                    return Err(EntraError::RetriesExhausted {
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
                "Microsoft request failed, will retry."
            );
            (self.sleep)(delay).await;
            waited += delay;
        }
    }

    /// `GET /v1.0/subscribedSkus`, sorted by SKU id.
    pub async fn subscribed_skus(&self) -> Result<Vec<SubscribedSku>, EntraError> {
        let url = format!("{}/v1.0/subscribedSkus", self.graph_url);
        let mut skus = self.pages::<SubscribedSku>(&url, "subscribed SKUs").await?;
        skus.sort_by(|a, b| a.sku_id.cmp(&b.sku_id));
        skus.dedup_by(|a, b| a.sku_id == b.sku_id);
        Ok(skus)
    }

    /// Every page of a small listing, parsed strictly.
    async fn pages<T: DeserializeOwned>(
        &self,
        first: &str,
        what: &'static str,
    ) -> Result<Vec<T>, EntraError> {
        let mut items = Vec::new();
        let mut next = Some(first.to_owned());
        let mut pages = 0u64;
        while let Some(url) = next {
            pages += 1;
            if pages > self.config.max_pages {
                return Err(EntraError::TooManyPages {
                    what,
                    pages: pages - 1,
                });
            }
            let page: Page<T> = self.get_json(&url).await?;
            items.extend(page.value);
            next = self.next_link(&url, page.next_link)?;
        }
        Ok(items)
    }

    /// The next page's URL, verbatim, after checking it stays on the Graph host (the
    /// access token must not travel anywhere else).
    fn next_link(&self, current: &str, link: Option<String>) -> Result<Option<String>, EntraError> {
        let Some(link) = link else {
            return Ok(None);
        };
        let same_origin = match (
            reqwest::Url::parse(&link),
            reqwest::Url::parse(&self.graph_url),
        ) {
            // `localhost` and `127.0.0.1` count as one host (a local simulator).
            (Ok(next), Ok(base)) => {
                next.origin() == base.origin()
                    || (next.scheme() == base.scheme()
                        && next.port_or_known_default() == base.port_or_known_default()
                        && crate::config::is_loopback(&next)
                        && crate::config::is_loopback(&base))
            }
            _ => false,
        };
        if !same_origin {
            return Err(EntraError::InvalidBody {
                url: current.to_owned(),
                message: format!(
                    "@odata.nextLink {link:?} does not point to graph_url {}; check graph_url",
                    self.graph_url
                ),
            });
        }
        Ok(Some(link))
    }

    /// Every user, following `@odata.nextLink` serially. With `with_activity`, selects
    /// `signInActivity` (pages of 120); without, pages of 999.
    pub async fn users(&self, with_activity: bool) -> Result<UserListing, EntraError> {
        let (select, top) = if with_activity {
            (format!("{USER_FIELDS},signInActivity"), PAGE_WITH_ACTIVITY)
        } else {
            (USER_FIELDS.to_owned(), PAGE_WITHOUT_ACTIVITY)
        };
        let mut next = Some(format!(
            "{}/v1.0/users?$select={select}&$top={top}",
            self.graph_url
        ));
        let mut listing = UserListing::default();
        let mut ids = HashSet::new();
        while let Some(url) = next {
            if listing.pages >= self.config.max_pages {
                return Err(EntraError::TooManyPages {
                    what: "users",
                    pages: listing.pages,
                });
            }
            listing.pages += 1;
            let page: Page<Box<RawValue>> = self.get_json(&url).await?;
            for raw in page.value {
                listing.seen += 1;
                match serde_json::from_str::<User>(raw.get()) {
                    Ok(user) => {
                        if ids.insert(user.id.clone()) {
                            listing.users.push(user);
                        }
                    }
                    Err(error) => {
                        let id = serde_json::from_str::<IdOnly>(raw.get())
                            .ok()
                            .and_then(|r| r.id)
                            .map(|v| v.as_str().map(str::to_owned).unwrap_or(v.to_string()))
                            .unwrap_or_else(|| format!("record {} (no id)", listing.seen));
                        tracing::warn!(user = %id, %error, "A Graph user record could not be read; it is left out.");
                        listing.unparsable.push(format!("{id}: {error}"));
                    }
                }
            }
            next = self.next_link(&url, page.next_link)?;
        }
        Ok(listing)
    }

    /// One full collection: SKUs, then users with sign-in activity, or without it when the
    /// tenant or the permissions refuse it. All or nothing.
    pub async fn collect(&self) -> Result<Directory, EntraError> {
        let started = tokio::time::Instant::now();
        let skus = self.subscribed_skus().await?;
        let (listing, activity_available) = match self.users(true).await {
            Ok(listing) => (listing, true),
            Err(EntraError::Forbidden { code, .. })
                if code == NON_PREMIUM || code == REQUEST_DENIED =>
            {
                tracing::warn!(tenant = %self.config.tenant_id, code = %code, "{NO_ACTIVITY}");
                (self.users(false).await?, false)
            }
            Err(error) => return Err(error),
        };
        let bad = listing.unparsable.len() as u64;
        if self.config.unparsable.exceeded(bad, listing.seen) {
            return Err(EntraError::TooManyUnparsable {
                bad,
                seen: listing.seen,
                sample_ids: listing
                    .unparsable
                    .iter()
                    .take(5)
                    .map(|u| u.split(':').next().unwrap_or("").to_owned())
                    .collect(),
            });
        }
        Ok(Directory {
            skus,
            users: listing.users,
            users_seen: listing.seen,
            unparsable_users: listing.unparsable,
            activity_available,
            pages: listing.pages,
            duration: started.elapsed(),
        })
    }

    /// The organisation's display name (`GET /v1.0/organization`), if readable.
    pub async fn organization_name(&self) -> Result<Option<String>, EntraError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Organization {
            #[serde(default)]
            display_name: Option<String>,
        }
        let url = format!("{}/v1.0/organization?$select=displayName", self.graph_url);
        let page: Page<Organization> = self.get_json(&url).await?;
        Ok(page
            .value
            .into_iter()
            .find_map(|o| o.display_name)
            .filter(|n| !n.trim().is_empty()))
    }

    /// What `check` shows: the token's permissions and one small request per need.
    /// A token refusal is an error; refused probes are reported, not errors.
    pub async fn check_access(&self) -> Result<EntraAccess, EntraError> {
        let token = self.access_token().await?;
        let roles = token::token_roles(token.expose());
        let missing = roles
            .as_deref()
            .map(token::missing_permissions)
            .unwrap_or_default();
        let probe_urls: [(&'static str, String); 3] = [
            (
                "licences (subscribedSkus)",
                format!("{}/v1.0/subscribedSkus", self.graph_url),
            ),
            (
                "users",
                format!("{}/v1.0/users?$select=id&$top=1", self.graph_url),
            ),
            (
                "sign-in activity",
                format!(
                    "{}/v1.0/users?$select=id,signInActivity&$top=1",
                    self.graph_url
                ),
            ),
        ];
        let mut probes = Vec::new();
        let mut activity_available = false;
        for (what, url) in probe_urls {
            let result = self
                .get_json::<Page<Box<RawValue>>>(&url)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            if what == "sign-in activity" {
                activity_available = result.is_ok();
            }
            probes.push((what, result));
        }
        Ok(EntraAccess {
            roles,
            missing,
            probes,
            activity_available,
        })
    }
}

/// The users of one listing.
#[derive(Debug, Clone, Default)]
pub struct UserListing {
    pub users: Vec<User>,
    pub seen: u64,
    pub unparsable: Vec<String>,
    pub pages: u64,
}

/// The body of `response`, up to `limit` bytes; a redirect (another origin: the client
/// follows only its own) is an error naming the target.
async fn read_body(
    url: &str,
    response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, EntraError> {
    let status = response.status();
    if status.is_redirection() {
        return Err(EntraError::Redirected {
            url: url.to_owned(),
            status: status.as_u16(),
            location: crate::http::location(&response),
        });
    }
    crate::http::read_capped(response, limit)
        .await
        .map_err(|error| match error {
            crate::http::Capped::TooLarge => EntraError::TooLarge {
                url: url.to_owned(),
                limit,
            },
            crate::http::Capped::Read(e) => transport_error(url, &e),
        })
}

fn transport_error(url: &str, error: &reqwest::Error) -> EntraError {
    let url = url.to_owned();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    if error.is_timeout() {
        EntraError::Timeout { url }
    } else if error.is_connect() {
        EntraError::Unreachable { url, message }
    } else {
        EntraError::Transport { url, message }
    }
}

/// Graph's `{"error": {"code", "message"}}`, else the start of the body.
fn graph_error(body: &[u8]) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct Outer {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
    }
    match serde_json::from_slice::<Outer>(body) {
        Ok(Outer { error }) => (
            error.code.unwrap_or_default(),
            one_line(&error.message.unwrap_or_default(), 300),
        ),
        Err(_) => (String::new(), one_line(&String::from_utf8_lossy(body), 200)),
    }
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    flat.trim().to_owned()
}

/// The permission a refused request needs.
fn permission_for(url: &str, code: &str) -> &'static str {
    if code == NON_PREMIUM {
        "AuditLog.Read.All (and an Entra ID P1 or P2 licence in the tenant)"
    } else if url.contains("signInActivity") {
        "AuditLog.Read.All"
    } else if url.contains("/subscribedSkus") {
        "LicenseAssignment.Read.All (or Organization.Read.All)"
    } else if url.contains("/organization") {
        "Organization.Read.All"
    } else {
        "User.Read.All"
    }
}

fn status_error(
    url: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> EntraError {
    let (code, message) = graph_error(body);
    let url = url.to_owned();
    match status.as_u16() {
        401 => EntraError::Unauthorized {
            url,
            message: if code.is_empty() {
                message
            } else {
                format!("{code}: {message}")
            },
        },
        403 => EntraError::Forbidden {
            permission: permission_for(&url, &code),
            url,
            code,
            message,
        },
        408 => EntraError::Timeout { url },
        429 => EntraError::RateLimited { url, retry_after },
        501 | 505 => EntraError::Rejected {
            url,
            status: status.as_u16(),
            message,
        },
        500..=599 => EntraError::Server {
            url,
            status: status.as_u16(),
            message: if message.is_empty() {
                status.canonical_reason().unwrap_or("").to_owned()
            } else {
                message
            },
            retry_after,
        },
        other => EntraError::Rejected {
            url,
            status: other,
            message: if code.is_empty() {
                message
            } else {
                format!("{code}: {message}")
            },
        },
    }
}

fn retry_after(headers: &HeaderMap, now: std::time::SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, now)
}
