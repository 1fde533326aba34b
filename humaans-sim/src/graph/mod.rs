//! A Microsoft Graph and Entra ID login simulator serving the directory of a seeded
//! Humaans company (the same company `humaans-sim serve` serves for the same spec).
//!
//! ```no_run
//! # async fn demo() -> Result<(), humaans_sim::graph::GraphError> {
//! use humaans_sim::graph::{GraphOptions, GraphSimulator};
//!
//! let sim = GraphSimulator::start(GraphOptions { people: 500, seed: 7, ..GraphOptions::default() }).await?;
//! let (login, graph) = (sim.login_url(), sim.graph_url()); // http://127.0.0.1:P/login, .../graph
//! let secret = &sim.secrets().full;
//! let expected = sim.truth(true); // what `collect --dry-run` must print, plus `joined`
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! One port serves both: `POST {login_url}/{tenant_id}/oauth2/v2.0/token` (client
//! credentials; the tenant may also be given as `<name>.onmicrosoft.com`) and
//! `GET {graph_url}/v1.0/subscribedSkus`, `GET {graph_url}/v1.0/users` (`$select`, `$top`,
//! `@odata.nextLink` with an opaque `$skiptoken`). See `shared/reference/microsoft-graph.md`.
//!
//! Faults count Graph requests only (token requests are not counted and never faulted):
//! request k, 2k, ... or a burst, never randomness.

mod api;
pub(crate) mod directory;
mod login;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;

use self::api::GraphError as ApiError;
use self::directory::Directory;
pub use self::login::GraphSecrets;
use self::login::TokenLedger;
pub use crate::accounts::{
    AccountCounts, AccountTotals, AppTruth, Joined, JoinedCounts, JoinedPool, Pool,
};
use crate::company::{Company, CompanySpec, SpecError};
use crate::rng::Rng;
pub use crate::server::config::RateLimitWhen;

/// Everything [`GraphSimulator::start`] needs. `GraphOptions { people: 500, ..Default::default() }`
/// is a 500-person company on 127.0.0.1 with an OS-chosen port, a premium tenant and no faults.
#[derive(Debug, Clone)]
pub struct GraphOptions {
    /// Number of people of the Humaans company, 1 to [`CompanySpec::MAX_PEOPLE`].
    pub people: usize,
    pub seed: u64,
    /// The date the company is built around (default: today, UTC).
    pub as_of: NaiveDate,
    /// As for the Humaans simulator (default 10); part of the company spec.
    pub unknown_status_permille: u32,
    /// Where to listen (default 127.0.0.1:0, any free port).
    pub bind: SocketAddr,
    /// Entra ID P1/P2 tenant: `signInActivity` can be read (default true).
    pub premium: bool,
    /// `expires_in` of access tokens (default 3599 s).
    pub token_lifetime: Duration,
    /// With `signInActivity` selected, answer 400 to `$top` above 120 instead of capping it.
    pub refuse_large_sign_in_top: bool,
    /// Every third page comes back up to a quarter short of `$top` (default true).
    pub short_pages: bool,
    pub faults: GraphFaults,
}

impl Default for GraphOptions {
    fn default() -> Self {
        let spec = CompanySpec::default();
        Self {
            people: spec.people,
            seed: spec.seed,
            as_of: spec.as_of,
            unknown_status_permille: spec.unknown_status_permille,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            premium: true,
            token_lifetime: Duration::from_secs(3599),
            refuse_large_sign_in_top: false,
            short_pages: true,
            faults: GraphFaults::default(),
        }
    }
}

impl GraphOptions {
    pub fn company_spec(&self) -> CompanySpec {
        CompanySpec {
            people: self.people,
            seed: self.seed,
            as_of: self.as_of,
            unknown_status_permille: self.unknown_status_permille,
        }
    }
}

/// Injected faults, counted over Graph requests 1, 2, 3, ... in arrival order. When
/// several hit one request: revocation first, then throttling, then the failing page.
/// Latency applies to every request, token requests included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphFaults {
    pub latency: Duration,
    pub throttle: Option<Throttle>,
    /// Page K (1-based) of every `/users` listing answers 500 every time.
    pub fail_page: Option<u64>,
    pub revoke: Option<Revoke>,
}

/// Answer `status` with `Retry-After: retry_after_secs` on the requests `when` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    pub when: RateLimitWhen,
    pub status: ThrottleStatus,
    pub retry_after_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleStatus {
    /// 429 `TooManyRequests`.
    TooManyRequests,
    /// 503 `ServiceNotAvailable`.
    ServiceUnavailable,
    /// 504 `GatewayTimeout`.
    GatewayTimeout,
}

/// After `after_requests` Graph requests, the client secret `secret` (its value) is
/// removed: its tokens answer 401 and the token endpoint refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoke {
    pub secret: String,
    pub after_requests: u64,
}

/// Why a Graph simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(
        "cannot listen on {addr}: {source}; choose another --host/--port (port 0 picks a free one)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("company generation failed: {0}")]
    Generation(String),
}

pub(crate) struct GraphState {
    seed: u64,
    company: Arc<Company>,
    directory: Directory,
    login_url: String,
    graph_url: String,
    tenant_id: String,
    tenant_domain: String,
    client_id: String,
    service_principal_id: String,
    secrets: GraphSecrets,
    tokens: TokenLedger,
    token_lifetime_secs: u64,
    premium: bool,
    refuse_large_sign_in_top: bool,
    short_pages: bool,
    faults: RwLock<GraphFaults>,
    requests: AtomicU64,
    login_requests: AtomicU64,
    error_serial: AtomicU64,
}

impl std::fmt::Debug for GraphState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphState")
            .field("tenant_id", &self.tenant_id)
            .field("users", &self.directory.users.len())
            .finish_non_exhaustive()
    }
}

impl GraphState {
    fn faults(&self) -> GraphFaults {
        self.faults
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// The app registration's client id for a seed.
fn client_id(seed: u64) -> (String, String) {
    let mut rng = Rng::derive(seed, 0x636C_6965_6E74);
    (directory::guid(&mut rng), directory::guid(&mut rng))
}

/// A running Graph simulator. Dropping it stops the server too; [`GraphSimulator::shutdown`]
/// also waits for it.
#[derive(Debug)]
pub struct GraphSimulator {
    addr: SocketAddr,
    state: Arc<GraphState>,
    serving: crate::serving::Serving,
}

impl GraphSimulator {
    /// Generates the company and its directory (on a blocking thread) and starts serving.
    pub async fn start(options: GraphOptions) -> Result<GraphSimulator, GraphError> {
        let spec = options.company_spec();
        spec.validate()?;
        let company = tokio::task::spawn_blocking(move || Company::generate(&spec))
            .await
            .map_err(|e| GraphError::Generation(e.to_string()))??;
        Self::start_with(Arc::new(company), options).await
    }

    /// Serves the directory of an already generated company (the company fields of
    /// `options` are ignored), e.g. the one a Humaans [`crate::Simulator`] serves.
    pub async fn start_with(
        company: Arc<Company>,
        options: GraphOptions,
    ) -> Result<GraphSimulator, GraphError> {
        let planted = company.clone();
        let directory = tokio::task::spawn_blocking(move || directory::plant(&planted))
            .await
            .map_err(|e| GraphError::Generation(e.to_string()))?;
        let listener = tokio::net::TcpListener::bind(options.bind)
            .await
            .map_err(|source| GraphError::Bind {
                addr: options.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| GraphError::Bind {
            addr: options.bind,
            source,
        })?;
        let seed = company.spec().seed;
        let (client_id, service_principal_id) = client_id(seed);
        let state = Arc::new(GraphState {
            seed,
            login_url: format!("http://{addr}/login"),
            graph_url: format!("http://{addr}/graph"),
            tenant_id: directory.tenant_id.clone(),
            tenant_domain: directory.tenant_domain.clone(),
            client_id,
            service_principal_id,
            secrets: GraphSecrets::for_seed(seed),
            tokens: TokenLedger::default(),
            token_lifetime_secs: options.token_lifetime.as_secs(),
            premium: options.premium,
            refuse_large_sign_in_top: options.refuse_large_sign_in_top,
            short_pages: options.short_pages,
            faults: RwLock::new(options.faults.clone()),
            requests: AtomicU64::new(0),
            login_requests: AtomicU64::new(0),
            error_serial: AtomicU64::new(0),
            company,
            directory,
        });
        if let Some(revoke) = options
            .faults
            .revoke
            .as_ref()
            .filter(|r| r.after_requests == 0)
        {
            state.tokens.revoke(&revoke.secret);
        }
        let app = Router::new()
            .route("/login/{tenant}/oauth2/v2.0/token", post(login::token))
            .route("/graph/v1.0/subscribedSkus", get(api::subscribed_skus))
            .route("/graph/v1.0/users", get(api::users))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(state.clone(), inject))
            .with_state(state.clone());
        let serving = crate::serving::Serving::spawn(listener, app, "graph");
        tracing::info!(%addr, users = state.directory.users.len(), "Graph simulator listening.");
        Ok(GraphSimulator {
            addr,
            state,
            serving,
        })
    }

    /// `http://127.0.0.1:P/login`: the token endpoint is `{login_url}/{tenant_id}/oauth2/v2.0/token`.
    pub fn login_url(&self) -> &str {
        &self.state.login_url
    }
    /// `http://127.0.0.1:P/graph`: Graph is under `{graph_url}/v1.0/`.
    pub fn graph_url(&self) -> &str {
        &self.state.graph_url
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn tenant_id(&self) -> &str {
        &self.state.tenant_id
    }
    /// The tenant's `<name>.onmicrosoft.com` domain, also accepted as tenant identifier.
    pub fn tenant_domain(&self) -> &str {
        &self.state.tenant_domain
    }
    pub fn client_id(&self) -> &str {
        &self.state.client_id
    }
    pub fn secrets(&self) -> &GraphSecrets {
        &self.state.secrets
    }
    pub fn company(&self) -> &Arc<Company> {
        &self.state.company
    }
    /// The truth a collection with activity (premium tenant, `AuditLog.Read.All`) or
    /// without must reproduce.
    pub fn truth(&self, activity_available: bool) -> AppTruth {
        self.state.directory.truth(
            &self.state.company,
            activity_available && self.state.premium,
        )
    }
    /// Graph requests received so far (faulted ones included; token requests not).
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }
    /// Replaces the faults from the next request on. The request counter keeps running.
    pub fn set_faults(&self, faults: GraphFaults) {
        *self
            .state
            .faults
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = faults;
    }
    /// Removes a client secret (by value): the token endpoint refuses it (AADSTS7000215)
    /// and its tokens answer 401. False for a secret the simulator never knew.
    pub fn revoke_secret(&self, secret: &str) -> bool {
        let known = self
            .state
            .secrets
            .all()
            .iter()
            .any(|(_, s, _)| *s == secret);
        if known {
            self.state.tokens.revoke(secret);
        }
        known
    }
    /// Every access token issued so far expires now (401 `InvalidAuthenticationToken`),
    /// so a client's refresh can be tested without waiting.
    pub fn expire_tokens(&self) {
        self.state.tokens.expire_all();
    }

    /// Stops accepting connections and waits (at most 5 s) for open responses to finish.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}

async fn not_found(State(state): State<Arc<GraphState>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/graph/") {
        let segment = path.trim_start_matches("/graph/").to_owned();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Resource not found for the segment '{segment}'."),
        )
        .render(&state, request.headers())
    } else {
        (StatusCode::NOT_FOUND, "Not found\n").into_response()
    }
}

async fn inject(State(state): State<Arc<GraphState>>, request: Request, next: Next) -> Response {
    let faults = state.faults();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if !request.uri().path().starts_with("/graph/") {
        return next.run(request).await;
    }
    let n = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    tracing::debug!(request = n, path = %request.uri().path(), "Graph request.");
    if let Some(revoke) = faults.revoke.as_ref().filter(|r| n > r.after_requests) {
        state.tokens.revoke(&revoke.secret);
    }
    if let Some(throttle) = faults.throttle.as_ref().filter(|t| t.when.hits(n)) {
        tracing::debug!(request = n, "Injecting throttling.");
        let (status, code, message) = match throttle.status {
            ThrottleStatus::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests; retry after the number of seconds in Retry-After.",
            ),
            ThrottleStatus::ServiceUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceNotAvailable",
                "The service is temporarily unavailable; retry after the number of seconds in Retry-After.",
            ),
            ThrottleStatus::GatewayTimeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "GatewayTimeout",
                "The gateway timed out; retry after the number of seconds in Retry-After.",
            ),
        };
        let mut response = ApiError::new(status, code, message).render(&state, request.headers());
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(throttle.retry_after_secs),
        );
        return response;
    }
    next.run(request).await
}

/// The directory's truth for `spec`, without serving it: the agent's dry-run JSON with or
/// without activity (what a `no_audit_log` secret or a non-premium tenant sees), plus
/// `joined`.
pub fn truth(spec: &CompanySpec, activity_available: bool) -> Result<AppTruth, SpecError> {
    let company = Company::generate(spec)?;
    Ok(truth_of(&company, activity_available))
}

/// As [`truth`], for an already generated company.
pub fn truth_of(company: &Company, activity_available: bool) -> AppTruth {
    directory::plant(company).truth(company, activity_available)
}
