//! How a simulator is set up: which company, which tokens, what public tokens see, and
//! which faults to inject.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use chrono::NaiveDate;

use crate::company::CompanySpec;
use crate::rng::Rng;

/// Everything [`crate::Simulator::start`] needs. `SimConfig { people: 500, ..Default::default() }`
/// is a 500-person company on 127.0.0.1 with an OS-chosen port and no faults.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of people, 1 to [`CompanySpec::MAX_PEOPLE`].
    pub people: usize,
    pub seed: u64,
    /// The date the company is built around (default: today, UTC).
    pub as_of: NaiveDate,
    /// Share of people with an unknown status value, per mille (default 10).
    pub unknown_status_permille: u32,
    /// Where to listen (default 127.0.0.1:0, any free port).
    pub bind: SocketAddr,
    pub faults: Faults,
    pub public_view: PublicView,
    /// Token strings; `None` derives them from the seed (see [`Tokens::for_seed`]).
    pub tokens: Option<Tokens>,
    /// How listings and a few unconfirmed endpoints answer (default: the envelope with an
    /// exact `total`, a stable order, `/api/token-info` present, `reportingTo`).
    pub api: ApiShape,
}

impl Default for SimConfig {
    fn default() -> Self {
        let spec = CompanySpec::default();
        Self {
            people: spec.people,
            seed: spec.seed,
            as_of: spec.as_of,
            unknown_status_permille: spec.unknown_status_permille,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            faults: Faults::default(),
            public_view: PublicView::default(),
            tokens: None,
            api: ApiShape::default(),
        }
    }
}

impl SimConfig {
    /// The company part of the configuration.
    pub fn company_spec(&self) -> CompanySpec {
        CompanySpec {
            people: self.people,
            seed: self.seed,
            as_of: self.as_of,
            unknown_status_permille: self.unknown_status_permille,
        }
    }
}

/// The two API access tokens the simulator accepts. These are test fixtures, not secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Scopes `public:read` and `private:read`.
    pub full: String,
    /// Scope `public:read` only.
    pub public_only: String,
}

impl Tokens {
    /// Deterministic tokens for a seed: the same seed always gives the same tokens.
    pub fn for_seed(seed: u64) -> Self {
        let mut rng = Rng::derive(seed, 0x70_6B_65_6E);
        Self {
            full: format!("hsim_full_{}", rng.id(32)),
            public_only: format!("hsim_public_{}", rng.id(32)),
        }
    }
}

/// The parts of the Humaans API that public clients disagree about or that no public source
/// confirms. Each is a mode, so a client can be tested against every answer a real account
/// may give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiShape {
    /// What a list answer carries as `total`.
    pub listing_total: ListingTotal,
    /// Without a `$sort` parameter, serve every listing request in a different order (as a
    /// database without `ORDER BY` may), so offset paging without a sort loses and repeats
    /// records. Any `$sort` gives the stable order (creation time, then id).
    pub unstable_order: bool,
    /// Answer 400 to any `$sort` parameter (a server that refuses the sort key).
    pub refuse_sort: bool,
    /// How `/api/token-info` answers.
    pub token_info: TokenInfo,
    /// Under which key a job role names the manager.
    pub manager_field: ManagerField,
}

/// The `total` of a list answer. Feathers services may send any of these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListingTotal {
    /// `{"total":N,"limit":..,"skip":..,"data":[..]}`.
    #[default]
    Exact,
    /// The envelope with `"total":-1` (the count was skipped).
    MinusOne,
    /// The envelope without a `total` member.
    Absent,
    /// A bare JSON array of the page's records (`$limit` and `$skip` still apply).
    BareArray,
}

/// How `/api/token-info` (known from one client only) answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenInfo {
    /// The token's id, owner, label and scopes.
    #[default]
    Present,
    /// No such endpoint: 404.
    Absent,
    /// 405 Method Not Allowed.
    MethodNotAllowed,
    /// 400 Bad Request.
    BadRequest,
}

/// The job-role member that holds the manager's person id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ManagerField {
    /// `reportingTo` (the name in Humaans' create-person payload).
    #[default]
    ReportingTo,
    /// `managerId`.
    ManagerId,
    /// No manager member at all on any job role.
    None,
}

/// What a token without `private:read` sees. The real behaviour is unconfirmed (see the
/// reference notes), so every part is configurable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicView {
    /// Hide people whose status is not `active` (and their job roles). Default true.
    pub hide_non_active: bool,
    /// Omit private members, or send them as `null`. Default omit.
    pub private_fields: PrivateFields,
    /// `/api/job-roles` needs `private:read` (the docs list job title as private data):
    /// a public-only token gets 403 there. Default true.
    pub job_roles_need_private: bool,
}

impl Default for PublicView {
    fn default() -> Self {
        Self {
            hide_non_active: true,
            private_fields: PrivateFields::Omit,
            job_roles_need_private: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateFields {
    Omit,
    Null,
}

/// Injected faults. Each is counter-based: the server numbers requests 1, 2, 3, ... in
/// arrival order and a fault "every k" hits requests k, 2k, 3k, ... When several hit the
/// same request the first in this order wins: rate limit, server error, truncation, slow
/// body. Latency applies to every request, faults included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    pub latency: Duration,
    pub rate_limit: Option<RateLimit>,
    /// Answer 502 with a plain-text (non-JSON) body every k-th request.
    pub server_error_every: Option<u64>,
    pub truncate: Option<Truncate>,
    pub slow_body: Option<SlowBody>,
}

/// Answer 429 with `Retry-After: retry_after_secs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub when: RateLimitWhen,
    pub retry_after_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitWhen {
    /// Requests k, 2k, 3k, ...
    Every(u64),
    /// A burst: requests `from` to `from + count - 1` (1-based).
    Requests { from: u64, count: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    pub every: u64,
    pub mode: TruncateMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TruncateMode {
    /// Half the body, with an honest `Content-Length` for that half: invalid JSON.
    CutJson,
    /// `Content-Length` of the whole body, then the connection closes after half of it.
    CloseMidBody,
}

/// Send the body in `chunk_bytes` pieces with `chunk_delay` between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowBody {
    pub every: u64,
    pub chunk_bytes: usize,
    pub chunk_delay: Duration,
}

/// True when a fault "every k" hits request `n` (k = 0 never hits).
pub(crate) fn hits_every(every: u64, n: u64) -> bool {
    every > 0 && n.is_multiple_of(every)
}

impl RateLimitWhen {
    pub(crate) fn hits(&self, n: u64) -> bool {
        match *self {
            RateLimitWhen::Every(k) => hits_every(k, n),
            RateLimitWhen::Requests { from, count } => n >= from && n - from < count,
        }
    }
}
