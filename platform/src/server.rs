//! Serving: the router (agent API + console + `/healthz` + `/metrics`), the listener
//! (plain TCP or rustls), first-start admin creation and graceful shutdown.
//!
//! Architecture Invariant: nothing here keeps state another platform process needs. The
//! only in-memory state is per-process metrics.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use seatbroker_protocol::Secret;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::auth;
use crate::config::{ConfigError, ServeArgs, Transport};
use crate::conn::{self, ConnLimits};
use crate::email::{EmailSettings, Mailer};
use crate::guard::{self, GuardSettings};
use crate::metrics::{Metrics, RouteClass};
use crate::oidc::Oidc;
use crate::state::{ApiConfig, AppState};
use crate::store::{Store, StoreError};
use crate::web::{self, WebSettings, WebState};

/// Why the platform could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "cannot create the data directory {path}: {source}; check the path and its permissions"
    )]
    DataDir { path: PathBuf, source: io::Error },
    #[error("cannot listen on {addr}: {source}; is another process using the port?")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("the server failed: {0}")]
    Io(#[from] io::Error),
    #[error("cannot create the first admin: {0}")]
    FirstAdmin(String),
}

impl ServeError {
    /// Whether the error is the operator's configuration (exit code 64).
    pub fn is_config(&self) -> bool {
        matches!(self, ServeError::Config(_))
    }
}

/// Request counts and latencies by matched route, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct HttpMetrics {
    routes: Mutex<BTreeMap<(String, String), RouteStats>>,
}

/// Upper bounds (seconds) of the request latency histogram.
const LATENCY_BUCKETS: [f64; 9] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Debug, Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum_secs: f64,
}

impl HttpMetrics {
    fn record(&self, method: &str, route: &str, status: u16, took: Duration) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let stats = routes
            .entry((route.to_owned(), method.to_owned()))
            .or_default();
        *stats.by_status.entry(status).or_default() += 1;
        let secs = took.as_secs_f64();
        for (bucket, bound) in stats.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if secs <= bound {
                *bucket += 1;
            }
        }
        stats.count += 1;
        stats.sum_secs += secs;
    }

    /// Prometheus text: `seatbroker_http_requests_total` and
    /// `seatbroker_http_request_duration_seconds` by route and method.
    pub(crate) fn render_prometheus(&self) -> String {
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP seatbroker_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE seatbroker_http_requests_total counter\n");
        for ((route, method), stats) in routes.iter() {
            for (status, n) in &stats.by_status {
                let _ = writeln!(
                    out,
                    "seatbroker_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP seatbroker_http_request_duration_seconds HTTP request latency by route and method.\n");
        out.push_str("# TYPE seatbroker_http_request_duration_seconds histogram\n");
        for ((route, method), stats) in routes.iter() {
            let labels = format!("route=\"{route}\",method=\"{method}\"");
            for (bound, n) in LATENCY_BUCKETS.iter().zip(stats.buckets) {
                let _ = writeln!(
                    out,
                    "seatbroker_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "seatbroker_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                stats.count
            );
            let _ = writeln!(
                out,
                "seatbroker_http_request_duration_seconds_sum{{{labels}}} {}",
                stats.sum_secs
            );
            let _ = writeln!(
                out,
                "seatbroker_http_request_duration_seconds_count{{{labels}}} {}",
                stats.count
            );
        }
        out
    }
}

#[derive(Debug, Clone)]
struct ServerState {
    app: AppState,
    http: Arc<HttpMetrics>,
    metrics_token: Option<Arc<Secret>>,
}

/// The method as a metrics label: one of the methods HTTP defines, or `other`, so that
/// invented methods cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("other", Method::as_str)
}

async fn track(State(state): State<ServerState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    // The route template, never the raw path: ids must not explode the label set.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.http.record(method, &route, status, started.elapsed());
    // The agent API counts its own requests; count the rest by class.
    if !route.starts_with("/api/agent/") {
        let class = if route.starts_with("/api/v1/reports") {
            RouteClass::ReportApi
        } else if matches!(
            route.as_str(),
            "/healthz"
                | "/metrics"
                | "/api/openapi.json"
                | "/static/console.css"
                | "/favicon.svg"
                | "/favicon.ico"
                | "unmatched"
        ) {
            RouteClass::Other
        } else {
            RouteClass::Console
        };
        state.app.metrics.record_request(class, status);
    }
    response
}

async fn healthz(State(state): State<ServerState>) -> Response {
    match state.app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(error) => {
            tracing::warn!(%error, "Health check failed: the database does not answer.");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

async fn metrics(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !auth::constant_time_eq(given.trim().as_bytes(), token.expose().as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
                "/metrics needs Authorization: Bearer <the --metrics-token value>\n",
            )
                .into_response();
        }
    }
    let mut body = state.app.metrics.render_prometheus();
    body.push_str(&state.http.render_prometheus());
    let gauges = match state.app.store.operator_gauges().await {
        Ok(gauges) => Some(gauges),
        Err(error) => {
            tracing::warn!(%error, "Metrics: the database did not answer; its gauges are left out.");
            None
        }
    };
    body.push_str(&crate::metrics::render_operator(gauges.as_ref()));
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// `/api/openapi.json`: the OpenAPI 3.1 document of the agent and report APIs, open to
/// anyone (it holds no data), the same text as `protocol/openapi.json`.
async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        crate::openapi::document_json(),
    )
        .into_response()
}

/// The whole platform's router: agent API, console, health and metrics, with the default
/// request limits and an open `/metrics`.
pub fn app(state: AppState, settings: WebSettings) -> Router {
    router(state, settings, GuardSettings::default(), None)
}

fn router(
    state: AppState,
    settings: WebSettings,
    guard: GuardSettings,
    metrics_token: Option<Secret>,
) -> Router {
    let server_state = ServerState {
        app: state.clone(),
        http: Arc::new(HttpMetrics::default()),
        metrics_token: metrics_token.map(Arc::new),
    };
    let web_state = WebState::new(state.store.clone(), settings, state.api.clone());
    let ops = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi_json))
        .with_state(server_state.clone());
    crate::api::router()
        .with_state(state)
        .merge(web::router(web_state))
        .merge(ops)
        .layer(axum::middleware::from_fn_with_state(guard, guard::guard))
        .layer(axum::middleware::from_fn_with_state(server_state, track))
}

/// Creates the data directory (0700) and the SQLite file (0600) whatever the umask, and
/// opens the database.
pub async fn open_store(args: &crate::config::DatabaseArgs) -> Result<Store, ServeError> {
    if args.database_url.is_none() {
        let dir_error = |source| ServeError::DataDir {
            path: args.data_dir.clone(),
            source,
        };
        private_dir(&args.data_dir).map_err(dir_error)?;
        private_file(&args.data_dir.join(crate::config::SQLITE_FILE)).map_err(dir_error)?;
    }
    Ok(Store::open(&args.url()).await?)
}

/// Creates `dir` (and missing parents) readable by the owner only.
fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `file` empty and readable by the owner only, unless it exists. SQLite gives its
/// `-wal` and `-shm` files the database file's permissions.
fn private_file(file: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// When no user exists, creates `admin` with a random one-time password and returns the
/// password (shown once by the caller). Safe when several processes start at once: only
/// one creates it.
pub(crate) async fn ensure_first_admin(store: &Store) -> Result<Option<Secret>, ServeError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let password = auth::generate_one_time_password();
    let secret = password.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(secret.expose()))
        .await
        .map_err(|e| ServeError::FirstAdmin(e.to_string()))?
        .map_err(|e| ServeError::FirstAdmin(e.to_string()))?;
    Ok(store
        .create_first_user("admin", &hash)
        .await?
        .then_some(password))
}

/// A bound, not yet serving platform.
pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    url: String,
    store: Store,
    limits: ConnLimits,
    metrics: Arc<Metrics>,
    /// The email sender, when SMTP is set up.
    mailer: Option<Mailer>,
    /// Incomplete snapshots idle this long are dropped.
    incomplete_after: chrono::Duration,
    /// The one-time password of the first admin, when this start created it.
    pub first_admin_password: Option<Secret>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Validates `args`, opens the database (migrating it), creates the first admin if
    /// needed, loads TLS material and binds the listener.
    pub async fn bind(args: &ServeArgs) -> Result<Server, ServeError> {
        args.validate()?;
        let acceptor = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
            _ => None,
        };
        let store = open_store(&args.database).await?;
        let first_admin_password = ensure_first_admin(&store).await?;
        let listener = TcpListener::bind(args.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: args.listen,
                source,
            })?;
        let local = listener.local_addr()?;
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let host = if local.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            match local {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            }
        };
        let url = format!("{scheme}://{host}:{}", local.port());
        match args.transport() {
            Transport::Tls | Transport::Loopback => {}
            Transport::Proxy => tracing::info!(
                listen = %local,
                "Serving plain HTTP behind a proxy: the proxy must terminate TLS."
            ),
            Transport::Exposed => tracing::warn!(
                listen = %local,
                "Serving plain HTTP on a non-loopback address: passwords and agent credentials cross the network unencrypted. Give --tls-cert and --tls-key, or put a TLS proxy in front and pass --behind-proxy."
            ),
        }
        let public_url = args.public_url.as_deref().unwrap_or(&url);
        let oidc = args
            .sso
            .oidc_settings(
                public_url,
                std::env::var(crate::config::OIDC_CLIENT_SECRET_ENV).ok(),
            )?
            .map(|settings| {
                tracing::info!(
                    issuer = %settings.issuer,
                    redirect_url = %settings.redirect_url,
                    "Single sign-on with OpenID Connect."
                );
                Oidc::new(settings).map(Arc::new)
            })
            .transpose()
            .map_err(|e| ServeError::Io(io::Error::other(e.to_string())))?;
        let mailer = email_settings(args, &url)?.map(Mailer::new);
        let settings = WebSettings {
            secure_cookies: args.secure_cookies(),
            behind_proxy: args.behind_proxy,
            trusted_proxies: args.trusted_proxies.clone(),
            oidc,
            local_passwords: args.sso.local_passwords()?,
            mailer: mailer.clone(),
        };
        let limits = &args.limits;
        let guard = GuardSettings {
            idle_timeout: Duration::from_secs(limits.idle_timeout_secs),
            hsts: args.secure_cookies(),
        };
        let mut state = AppState::new(store.clone());
        state.api = Arc::new(ApiConfig {
            max_pending_parts_per_agent: limits.max_pending_mib_per_agent * (1024 * 1024)
                / seatbroker_protocol::limits::MAX_PART_BYTES as u64,
            incomplete_snapshot_hours: limits.incomplete_snapshot_hours,
            ..ApiConfig::default()
        });
        let metrics = state.metrics.clone();
        let metrics_token = limits.metrics_token.clone().map(Secret::new);
        let router = router(state, settings, guard, metrics_token);
        Ok(Server {
            listener,
            tls: acceptor,
            router,
            url,
            store,
            limits: ConnLimits {
                header_timeout: Duration::from_secs(limits.header_timeout_secs),
                idle_timeout: Duration::from_secs(limits.idle_timeout_secs),
                max_connections: limits.max_connections,
            },
            metrics,
            mailer,
            incomplete_after: chrono::Duration::hours(
                i64::try_from(limits.incomplete_snapshot_hours).unwrap_or(24),
            ),
            first_admin_password,
        })
    }

    /// The URL the platform answers on (`http://127.0.0.1:PORT` for a wildcard address).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until `shutdown` fires, then stops accepting, lets requests in flight finish
    /// and closes the database pool.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServeError> {
        tracing::info!(
            url = %self.url,
            max_connections = self.limits.max_connections,
            header_timeout_secs = self.limits.header_timeout.as_secs(),
            idle_timeout_secs = self.limits.idle_timeout.as_secs(),
            "Seatbroker platform listening."
        );
        let sweeper = tokio::spawn(expire_incomplete(
            self.store.clone(),
            self.incomplete_after,
            shutdown.clone(),
        ));
        let sender = self.mailer.map(|mailer| {
            tokio::spawn(mailer.run(self.store.clone(), self.metrics.clone(), shutdown.clone()))
        });
        conn::serve(
            self.listener,
            self.tls,
            self.router,
            self.limits,
            self.metrics,
            shutdown,
        )
        .await;
        let _ = sweeper.await;
        if let Some(sender) = sender {
            let _ = sender.await;
        }
        self.store.close().await;
        tracing::info!("Seatbroker platform stopped.");
        Ok(())
    }
}

/// The email settings `args` describe (`None` without --smtp-host); links use the public URL,
/// else the URL the platform answers on. Reads the SMTP password file.
fn email_settings(args: &ServeArgs, url: &str) -> Result<Option<EmailSettings>, ConfigError> {
    let email = &args.email;
    let Some(host) = &email.smtp_host else {
        return Ok(None);
    };
    let from = email.email_from.clone().ok_or(ConfigError::NoEmailFrom)?;
    let public_url = args.public_url.as_deref().unwrap_or(url);
    let mut settings = EmailSettings::new(
        host.clone(),
        email
            .smtp_port
            .unwrap_or(email.smtp_security.default_port()),
        email.smtp_security,
        from,
        public_url,
    );
    settings.poll = Duration::from_secs(email.email_poll_secs);
    if let (Some(user), Some(path)) = (&email.smtp_user, &email.smtp_password_file) {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            what: "SMTP password file",
            path: path.clone(),
            source,
        })?;
        let password = text.lines().next().unwrap_or("").to_owned();
        if password.is_empty() {
            return Err(ConfigError::EmptySmtpPassword { path: path.clone() });
        }
        settings.credentials = Some((user.clone(), Secret::new(password)));
    }
    Ok(Some(settings))
}

/// Drops incomplete snapshots idle for `after`, at start and then every tenth of `after`
/// (at most hourly), until shutdown.
async fn expire_incomplete(store: Store, after: chrono::Duration, shutdown: CancellationToken) {
    let every = (after / 10)
        .to_std()
        .unwrap_or(Duration::from_secs(3600))
        .min(Duration::from_secs(3600));
    loop {
        if let Err(error) = store.expire_incomplete_snapshots(after).await {
            tracing::warn!(%error, "Expiring incomplete snapshots failed; will try again.");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ConfigError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_error("certificate", cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem_error("certificate", cert, e))?;
    if certs.is_empty() {
        return Err(ConfigError::NoPem {
            what: "certificate",
            path: cert.to_owned(),
        });
    }
    let private_key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error("private key", key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, private_key))
        .map_err(|e| ConfigError::Tls {
            cert: cert.to_owned(),
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn pem_error(what: &'static str, path: &Path, error: rustls_pki_types::pem::Error) -> ConfigError {
    match error {
        rustls_pki_types::pem::Error::Io(source) => ConfigError::Read {
            what,
            path: path.to_owned(),
            source,
        },
        _ => ConfigError::NoPem {
            what,
            path: path.to_owned(),
        },
    }
}
