//! A simulator of the Humaans REST API serving a seeded synthetic company, for tests, the
//! demo and benchmarks. See `shared/reference/humaans-api.md` for what is known about the
//! real API and how sure each fact is.
//!
//! The same company also backs a Microsoft Graph + Entra ID login simulator ([`graph`]) and
//! seat-list CSV files ([`seat_list`]), each with a ground truth in the shape of the agent's
//! `collect --dry-run --json` plus the platform's `joined` figures.
//!
//! # In-process use
//!
//! ```no_run
//! # async fn demo() -> Result<(), humaans_sim::SimError> {
//! use humaans_sim::{SimConfig, Simulator};
//!
//! let sim = Simulator::start(SimConfig { people: 1_000, seed: 7, ..SimConfig::default() }).await?;
//! let base = sim.url(); // "http://127.0.0.1:PORT"; the API is under {base}/api
//! let token = &sim.tokens().full; // public:read + private:read
//! let expected = sim.truth(); // seat-state counts the engine must reproduce
//! let people = sim.company().people(); // each with its planted category and expected seat
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Without a server: [`Company::generate`] and [`truth`].
//!
//! # What is served
//!
//! `GET /api/people`, `/api/people/{id}`, `/api/job-roles` (filter `personId=`),
//! `/api/job-roles/{id}`, `/api/me`, `/api/token-info` (unconfirmed in the real API),
//! `/api/companies`, `/api/companies/{id}`. Lists use the Feathers envelope
//! `{"total","limit","skip","data"}` with `$limit` (default 100, at most 250; `0` returns
//! only the total) and `$skip`, raw or percent-encoded (`%24limit`). Without `$sort`, people
//! and job roles are served in id order: stable but meaningless; any `$sort[..]` serves them
//! by `createdAt`, then id. Errors are Feathers-style JSON:
//! `{"name":"NotAuthenticated","message":..,"code":401,"className":"not-authenticated"}`.
//!
//! # How real accounts may differ ([`ApiShape`])
//!
//! Public clients disagree on a few answers, so each is a mode: [`ListingTotal`] (`total`
//! exact, `-1`, absent, or a bare array of the page), `unstable_order` (each request without
//! `$sort` sees the listing rotated by a different offset, as a database without an explicit
//! order may, so unsorted offset paging misses and repeats records), `refuse_sort` (400 to
//! any `$sort`), [`TokenInfo`] (`/api/token-info` present, 404, 405 or 400) and
//! [`ManagerField`] (the job role's manager as `reportingTo`, `managerId` or absent). No mode
//! changes the company or its truth.
//!
//! # Tokens
//!
//! [`Tokens::full`] has `public:read` and `private:read` and belongs to the top of the
//! hierarchy; [`Tokens::public_only`] has only `public:read` and, by default
//! ([`PublicView`]), sees only `active` people, without private members, and gets 403 on
//! `/api/job-roles`. Tokens derive from the seed unless [`SimConfig::tokens`] sets them.
//!
//! # Faults
//!
//! [`Faults`] are counter-based (request k, 2k, ...), so a configuration always hits the
//! same request numbers: latency, 429 with `Retry-After`, 502 with a plain-text body,
//! truncated bodies, trickled bodies; [`Simulator::revoke_token`] makes a token fail with
//! 401 from then on; [`Simulator::set_faults`] changes faults at runtime.
//!
//! # The company
//!
//! Every person is planted in a [`Category`] first and their record is built around the
//! as-of date so the seat-state rules (default policy) put them there; [`Truth`] counts the
//! categories. Data-quality plantings (no job role, no manager, no start date, end before
//! start, duplicate work emails, offboarded managers, job-role history with future roles,
//! unknown extra fields) never change a person's seat state.

mod accounts;
mod company;
pub mod graph;
mod rng;
pub mod seat_list;
mod server;
mod serving;

pub use company::{
    Category, Company, CompanySpec, ExpectedSeat, Finding, FindingCounts, InactiveReasons,
    PlantedJobRole, PlantedPerson, SeatReason, SeatState, SpecError, StateCounts, Truth,
};
pub use server::config::{
    ApiShape, Faults, ListingTotal, ManagerField, PrivateFields, PublicView, RateLimit,
    RateLimitWhen, SimConfig, SlowBody, TokenInfo, Tokens, Truncate, TruncateMode,
};
pub use server::{SimError, Simulator};

/// The ground truth for a company, without serving it.
pub fn truth(spec: &CompanySpec) -> Result<Truth, SpecError> {
    Ok(Company::generate(spec)?.truth().clone())
}
