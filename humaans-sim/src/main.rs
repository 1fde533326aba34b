//! `humaans-sim`: serve a simulated Humaans company (or its Microsoft Graph directory), print
//! their ground truths, or write a seat-list CSV of the same company.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use humaans_sim::graph::{
    GraphError, GraphFaults, GraphOptions, GraphSimulator, Revoke, Throttle, ThrottleStatus,
};
use humaans_sim::seat_list::SeatListOptions;
use humaans_sim::{
    ApiShape, CompanySpec, Faults, ListingTotal, ManagerField, PrivateFields, PublicView,
    RateLimit, RateLimitWhen, SimConfig, SimError, Simulator, SlowBody, TokenInfo, Tokens,
    Truncate, TruncateMode,
};
use serde::Serialize;

/// Exit code for a configuration the simulator cannot use (EX_USAGE).
const EXIT_CONFIG: u8 = 64;

#[derive(Parser)]
#[command(
    name = "humaans-sim",
    version,
    about = "Simulators of the Humaans REST API, Microsoft Graph and seat-list files over one seeded synthetic company"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the company; prints one JSON line {"url":..,"tokens":{..}} once listening.
    Serve(ServeArgs),
    /// Print the seat-state counts the generator planted, as JSON.
    Truth(CompanyArgs),
    /// Serve the company's Microsoft Graph directory and Entra ID token endpoint; prints one
    /// JSON line {"login_url","graph_url","tenant_id","client_id","client_secrets":{..}}.
    GraphServe(GraphServeArgs),
    /// Print the Graph directory's truth: the agent's dry-run JSON plus "joined".
    GraphTruth(GraphTruthArgs),
    /// Write a seat-list CSV of the company's accounts in one application to stdout.
    SeatList(SeatListArgs),
    /// Print the truth of `seat-list` with the same arguments: dry-run JSON plus "joined".
    SeatListTruth(SeatListTruthArgs),
}

#[derive(Args)]
struct GraphServeArgs {
    #[command(flatten)]
    company: CompanyArgs,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one. Login is under /login, Graph under /graph.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// A tenant without Entra ID P1/P2: selecting signInActivity answers 403
    /// Authentication_RequestFromNonPremiumTenantOrB2CTenant.
    #[arg(long)]
    non_premium: bool,
    /// Lifetime of access tokens (expires_in), in seconds.
    #[arg(long, default_value_t = 3599)]
    token_lifetime_secs: u64,
    /// With signInActivity selected, answer 400 to $top above 120 instead of capping it.
    #[arg(long)]
    refuse_large_sign_in_top: bool,
    /// Always fill pages up to $top (by default every third page is up to a quarter short).
    #[arg(long)]
    full_pages: bool,
    /// Delay added to every request (token requests too), in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Throttle every k-th Graph request (token requests are not counted).
    #[arg(long, value_name = "K", conflicts_with = "throttle_from")]
    throttle_every: Option<u64>,
    /// Throttle a burst of Graph requests starting at this request number (1-based)...
    #[arg(long, value_name = "N", requires = "throttle_count")]
    throttle_from: Option<u64>,
    /// ... for this many requests.
    #[arg(long, value_name = "COUNT", requires = "throttle_from")]
    throttle_count: Option<u64>,
    /// Status of a throttled answer: 429, 503 or 504.
    #[arg(long, default_value_t = 429)]
    throttle_status: u16,
    /// Retry-After sent with each throttled answer, in seconds.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u64,
    /// Page K (1-based) of every /users listing answers 500 every time.
    #[arg(long, value_name = "K")]
    fail_page: Option<u64>,
    /// Remove this client secret (full, no_audit_log, no_licence_read, no_user_read,
    /// organization_read) ...
    #[arg(long, value_name = "NAME")]
    revoke_secret: Option<String>,
    /// ... after this many Graph requests (0: from the start).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        requires = "revoke_secret"
    )]
    revoke_after_requests: u64,
}

#[derive(Args)]
struct GraphTruthArgs {
    #[command(flatten)]
    company: CompanyArgs,
    /// The truth without sign-in activity, as a no_audit_log secret or a non-premium tenant
    /// sees it: activity_available false, enabled licensed accounts unknown_activity.
    #[arg(long)]
    without_activity: bool,
    /// The same as --without-activity (accepted so graph-serve's flag can be passed on).
    #[arg(long)]
    non_premium: bool,
}

#[derive(Args)]
struct SeatListArgs {
    #[command(flatten)]
    company: CompanyArgs,
    /// The application the seat list is exported from (its `application` column).
    #[arg(long)]
    app: String,
    /// Start the file with a UTF-8 byte order mark.
    #[arg(long)]
    bom: bool,
    /// End lines with CRLF.
    #[arg(long)]
    crlf: bool,
}

#[derive(Args)]
struct SeatListTruthArgs {
    #[command(flatten)]
    company: CompanyArgs,
    /// The application, as given to `seat-list`.
    #[arg(long)]
    app: String,
    /// Purchased seats of a pool, as the source's `purchased:` config gives them:
    /// LICENCE=N (the application's name for its one seat type); repeatable.
    #[arg(long, value_name = "LICENCE=N", value_parser = parse_purchased)]
    purchased: Vec<(String, u64)>,
}

fn parse_purchased(text: &str) -> Result<(String, u64), String> {
    let (name, n) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("{text:?} is not LICENCE=N, e.g. \"Business+, annual=50\""))?;
    let n = n
        .trim()
        .parse()
        .map_err(|_| format!("{n:?} in {text:?} is not a whole number of seats"))?;
    Ok((name.to_owned(), n))
}

#[derive(Args)]
struct CompanyArgs {
    /// Number of people in the company.
    #[arg(long, default_value_t = 100)]
    people: usize,
    /// Seed: the same seed always gives the same company.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The "today" the company is built around, YYYY-MM-DD (default: today, UTC).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Share of people with an unknown status value, per mille.
    #[arg(long, default_value_t = 10)]
    unknown_status_permille: u32,
}

impl CompanyArgs {
    fn spec(&self) -> CompanySpec {
        CompanySpec {
            people: self.people,
            seed: self.seed,
            as_of: self
                .as_of
                .unwrap_or_else(|| chrono::Utc::now().date_naive()),
            unknown_status_permille: self.unknown_status_permille,
        }
    }
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    company: CompanyArgs,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Delay added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Answer 429 on every k-th request.
    #[arg(long, value_name = "K", conflicts_with = "rate_limit_from")]
    rate_limit_every: Option<u64>,
    /// Answer 429 on a burst of requests starting at this request number (1-based)...
    #[arg(long, value_name = "N", requires = "rate_limit_count")]
    rate_limit_from: Option<u64>,
    /// ... for this many requests.
    #[arg(long, value_name = "COUNT", requires = "rate_limit_from")]
    rate_limit_count: Option<u64>,
    /// Retry-After value sent with each 429, in seconds.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u64,
    /// Answer 502 with a plain-text body on every k-th request.
    #[arg(long, value_name = "K")]
    server_error_every: Option<u64>,
    /// Truncate the body of every k-th response.
    #[arg(long, value_name = "K")]
    truncate_every: Option<u64>,
    /// How to truncate: cut-json (honest Content-Length) or close-mid-body.
    #[arg(long, value_enum, default_value_t = TruncateArg::CutJson)]
    truncate_mode: TruncateArg,
    /// Trickle the body of every k-th response.
    #[arg(long, value_name = "K")]
    slow_body_every: Option<u64>,
    /// Bytes per chunk of a trickled body.
    #[arg(long, default_value_t = 1024)]
    slow_body_chunk_bytes: usize,
    /// Pause between the chunks of a trickled body, in milliseconds.
    #[arg(long, default_value_t = 10)]
    slow_body_delay_ms: u64,
    /// What a public-only token gets for private fields: omitted keys or nulls.
    #[arg(long, value_enum, default_value_t = PrivateArg::Omit)]
    public_private_fields: PrivateArg,
    /// Let a public-only token see people of every status (default: active only).
    #[arg(long)]
    public_sees_everyone: bool,
    /// Let a public-only token read /api/job-roles (default: 403).
    #[arg(long)]
    public_job_roles: bool,
    /// What list answers carry as `total`: exact, minus-one (`-1`), absent (no member) or
    /// bare-array (a JSON array of the page's records, no envelope).
    #[arg(long, value_enum, default_value_t = ListingTotalArg::Exact)]
    listing_total: ListingTotalArg,
    /// Serve every listing request without `$sort` in a different order, so offset paging
    /// without a sort loses and repeats records (any `$sort` gives a stable order).
    #[arg(long)]
    unstable_order: bool,
    /// Answer 400 to any `$sort` parameter.
    #[arg(long)]
    refuse_sort: bool,
    /// How /api/token-info answers: present, absent (404), method-not-allowed (405) or
    /// bad-request (400).
    #[arg(long, value_enum, default_value_t = TokenInfoArg::Present)]
    token_info: TokenInfoArg,
    /// The job-role member naming the manager: reporting-to, manager-id or none.
    #[arg(long, value_enum, default_value_t = ManagerFieldArg::ReportingTo)]
    manager_field: ManagerFieldArg,
    /// Token with public:read and private:read (default: derived from the seed).
    #[arg(long, env = "HUMAANS_SIM_TOKEN_FULL", hide_env_values = true)]
    token_full: Option<String>,
    /// Token with public:read only (default: derived from the seed).
    #[arg(long, env = "HUMAANS_SIM_TOKEN_PUBLIC_ONLY", hide_env_values = true)]
    token_public_only: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum TruncateArg {
    CutJson,
    CloseMidBody,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListingTotalArg {
    Exact,
    MinusOne,
    Absent,
    BareArray,
}

#[derive(Clone, Copy, ValueEnum)]
enum TokenInfoArg {
    Present,
    Absent,
    MethodNotAllowed,
    BadRequest,
}

#[derive(Clone, Copy, ValueEnum)]
enum ManagerFieldArg {
    ReportingTo,
    ManagerId,
    None,
}

#[derive(Clone, Copy, ValueEnum)]
enum PrivateArg {
    Omit,
    Null,
}

impl ServeArgs {
    fn config(&self) -> SimConfig {
        let spec = self.company.spec();
        let rate_limit = match (
            self.rate_limit_every,
            self.rate_limit_from,
            self.rate_limit_count,
        ) {
            (Some(k), _, _) => Some(RateLimitWhen::Every(k)),
            (None, Some(from), Some(count)) => Some(RateLimitWhen::Requests { from, count }),
            _ => None,
        };
        let seed_tokens = Tokens::for_seed(spec.seed);
        SimConfig {
            people: spec.people,
            seed: spec.seed,
            as_of: spec.as_of,
            unknown_status_permille: spec.unknown_status_permille,
            bind: SocketAddr::new(self.host, self.port),
            faults: Faults {
                latency: Duration::from_millis(self.latency_ms),
                rate_limit: rate_limit.map(|when| RateLimit {
                    when,
                    retry_after_secs: self.retry_after_secs,
                }),
                server_error_every: self.server_error_every,
                truncate: self.truncate_every.map(|every| Truncate {
                    every,
                    mode: match self.truncate_mode {
                        TruncateArg::CutJson => TruncateMode::CutJson,
                        TruncateArg::CloseMidBody => TruncateMode::CloseMidBody,
                    },
                }),
                slow_body: self.slow_body_every.map(|every| SlowBody {
                    every,
                    chunk_bytes: self.slow_body_chunk_bytes,
                    chunk_delay: Duration::from_millis(self.slow_body_delay_ms),
                }),
            },
            public_view: PublicView {
                hide_non_active: !self.public_sees_everyone,
                private_fields: match self.public_private_fields {
                    PrivateArg::Omit => PrivateFields::Omit,
                    PrivateArg::Null => PrivateFields::Null,
                },
                job_roles_need_private: !self.public_job_roles,
            },
            tokens: Some(Tokens {
                full: self.token_full.clone().unwrap_or(seed_tokens.full),
                public_only: self
                    .token_public_only
                    .clone()
                    .unwrap_or(seed_tokens.public_only),
            }),
            api: ApiShape {
                listing_total: match self.listing_total {
                    ListingTotalArg::Exact => ListingTotal::Exact,
                    ListingTotalArg::MinusOne => ListingTotal::MinusOne,
                    ListingTotalArg::Absent => ListingTotal::Absent,
                    ListingTotalArg::BareArray => ListingTotal::BareArray,
                },
                unstable_order: self.unstable_order,
                refuse_sort: self.refuse_sort,
                token_info: match self.token_info {
                    TokenInfoArg::Present => TokenInfo::Present,
                    TokenInfoArg::Absent => TokenInfo::Absent,
                    TokenInfoArg::MethodNotAllowed => TokenInfo::MethodNotAllowed,
                    TokenInfoArg::BadRequest => TokenInfo::BadRequest,
                },
                manager_field: match self.manager_field {
                    ManagerFieldArg::ReportingTo => ManagerField::ReportingTo,
                    ManagerFieldArg::ManagerId => ManagerField::ManagerId,
                    ManagerFieldArg::None => ManagerField::None,
                },
            },
        }
    }
}

#[derive(Serialize)]
struct Listening<'a> {
    url: &'a str,
    tokens: ListeningTokens<'a>,
}

#[derive(Serialize)]
struct ListeningTokens<'a> {
    full: &'a str,
    public_only: &'a str,
}

/// The line `graph-serve` prints once listening (keys in this order).
#[derive(Serialize)]
struct GraphListening<'a> {
    login_url: &'a str,
    graph_url: &'a str,
    tenant_id: &'a str,
    client_id: &'a str,
    client_secrets: GraphListeningSecrets<'a>,
}

#[derive(Serialize)]
struct GraphListeningSecrets<'a> {
    full: &'a str,
    no_audit_log: &'a str,
    no_licence_read: &'a str,
    no_user_read: &'a str,
    organization_read: &'a str,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HUMAANS_SIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match cli.command {
        Command::Truth(args) => print_json(humaans_sim::truth(&args.spec())),
        Command::GraphTruth(args) => print_json(humaans_sim::graph::truth(
            &args.company.spec(),
            !(args.without_activity || args.non_premium),
        )),
        Command::SeatListTruth(args) => {
            let purchased = args.purchased.iter().cloned().collect();
            print_json(humaans_sim::seat_list::truth(
                &args.company.spec(),
                &args.app,
                &purchased,
            ))
        }
        Command::SeatList(args) => {
            let options = SeatListOptions {
                bom: args.bom,
                crlf: args.crlf,
            };
            match humaans_sim::seat_list::csv(&args.company.spec(), &args.app, &options) {
                Ok(csv) => {
                    let mut stdout = std::io::stdout().lock();
                    match stdout
                        .write_all(csv.as_bytes())
                        .and_then(|()| stdout.flush())
                    {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
                            ExitCode::SUCCESS
                        }
                        Err(error) => {
                            eprintln!("humaans-sim: cannot write the seat list: {error}");
                            ExitCode::FAILURE
                        }
                    }
                }
                Err(error) => {
                    eprintln!("humaans-sim: {error}");
                    ExitCode::from(EXIT_CONFIG)
                }
            }
        }
        Command::GraphServe(args) => {
            let options = match args.options() {
                Ok(options) => options,
                Err(message) => {
                    eprintln!("humaans-sim: {message}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("humaans-sim: cannot start the async runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(graph_serve(options)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error @ GraphError::Spec(_)) => {
                    eprintln!("humaans-sim: {error}");
                    ExitCode::from(EXIT_CONFIG)
                }
                Err(error) => {
                    eprintln!("humaans-sim: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve(args) => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("humaans-sim: cannot start the async runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve(args.config())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error @ (SimError::Spec(_) | SimError::Tokens)) => {
                    eprintln!("humaans-sim: {error}");
                    ExitCode::from(EXIT_CONFIG)
                }
                Err(error) => {
                    eprintln!("humaans-sim: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve(config: SimConfig) -> Result<(), SimError> {
    let sim = Simulator::start(config).await?;
    let line = serde_json::to_string(&Listening {
        url: sim.url(),
        tokens: ListeningTokens {
            full: &sim.tokens().full,
            public_only: &sim.tokens().public_only,
        },
    })
    .expect("plain strings");
    {
        let mut stdout = std::io::stdout().lock();
        // If stdout is gone nobody can learn the URL, but the server can still be used.
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }
    wait_for_stop().await;
    tracing::info!("Stopping the Humaans simulator.");
    sim.shutdown().await;
    Ok(())
}

fn print_json<T: Serialize>(result: Result<T, humaans_sim::SpecError>) -> ExitCode {
    match result {
        Ok(value) => {
            let line = serde_json::to_string(&value).expect("truths are plain data");
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
                // A reader that stopped early (`| head`) is not an error of ours.
                Ok(()) => ExitCode::SUCCESS,
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("humaans-sim: cannot write the truth: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            eprintln!("humaans-sim: {error}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

impl GraphServeArgs {
    fn options(&self) -> Result<GraphOptions, String> {
        let spec = self.company.spec();
        let when = match (self.throttle_every, self.throttle_from, self.throttle_count) {
            (Some(k), _, _) => Some(RateLimitWhen::Every(k)),
            (None, Some(from), Some(count)) => Some(RateLimitWhen::Requests { from, count }),
            _ => None,
        };
        let status = match self.throttle_status {
            429 => ThrottleStatus::TooManyRequests,
            503 => ThrottleStatus::ServiceUnavailable,
            504 => ThrottleStatus::GatewayTimeout,
            other => {
                return Err(format!(
                    "--throttle-status {other} is not a throttling status: use 429, 503 or 504"
                ));
            }
        };
        let secrets = humaans_sim::graph::GraphSecrets::for_seed(spec.seed);
        let revoke = match &self.revoke_secret {
            None => None,
            Some(name) => Some(Revoke {
                secret: secrets.by_name(name).map(str::to_owned).ok_or_else(|| {
                    format!(
                        "--revoke-secret {name:?} names no secret: use full, no_audit_log, no_licence_read, no_user_read or organization_read"
                    )
                })?,
                after_requests: self.revoke_after_requests,
            }),
        };
        Ok(GraphOptions {
            people: spec.people,
            seed: spec.seed,
            as_of: spec.as_of,
            unknown_status_permille: spec.unknown_status_permille,
            bind: SocketAddr::new(self.host, self.port),
            premium: !self.non_premium,
            token_lifetime: Duration::from_secs(self.token_lifetime_secs),
            refuse_large_sign_in_top: self.refuse_large_sign_in_top,
            short_pages: !self.full_pages,
            faults: GraphFaults {
                latency: Duration::from_millis(self.latency_ms),
                throttle: when.map(|when| Throttle {
                    when,
                    status,
                    retry_after_secs: self.retry_after_secs,
                }),
                fail_page: self.fail_page,
                revoke,
            },
        })
    }
}

async fn graph_serve(options: GraphOptions) -> Result<(), GraphError> {
    let sim = GraphSimulator::start(options).await?;
    let secrets = sim.secrets();
    let line = serde_json::to_string(&GraphListening {
        login_url: sim.login_url(),
        graph_url: sim.graph_url(),
        tenant_id: sim.tenant_id(),
        client_id: sim.client_id(),
        client_secrets: GraphListeningSecrets {
            full: &secrets.full,
            no_audit_log: &secrets.no_audit_log,
            no_licence_read: &secrets.no_licence_read,
            no_user_read: &secrets.no_user_read,
            organization_read: &secrets.organization_read,
        },
    })
    .expect("plain strings");
    {
        let mut stdout = std::io::stdout().lock();
        // If stdout is gone nobody can learn the URLs, but the server can still be used.
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }
    wait_for_stop().await;
    tracing::info!("Stopping the Graph simulator.");
    sim.shutdown().await;
    Ok(())
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
