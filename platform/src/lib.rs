//! The Seatbroker central platform: agent API, approvals, storage, console and reports.
//!
//! Every module is private; this file is the crate's whole public surface, kept to what the
//! binary (`main.rs`), the benchmarks (`examples/`) and the integration tests need:
//!
//! - running it: [`Cli`] and its commands, [`Server`], [`open_store`];
//! - routers for tests and benchmarks: [`app`] (everything), [`agent_api`] (the agent API
//!   alone) over an [`AppState`] with [`WebSettings`];
//! - the storage handle [`Store`] and the types its operations take and return (with
//!   [`Price`] for licence prices);
//! - console users: [`hash_password`], [`Role`], [`SessionUser`] and the login limits;
//! - single sign-on: [`Oidc`] over [`OidcSettings`] with a [`RoleMapping`], and
//!   [`LocalPasswords`] (tests build a [`WebSettings`] with them).
//!
//! Inside: `store` (the only code that talks to the database), `api` (agent API), `web`
//! (console), `reports` (pure report logic), `auth`, `config`, `server`, `conn`
//! (connections: cap and timeouts), `guard` (per-route body limits, HSTS), `state`,
//! `error`, `metrics`, `oidc` (single sign-on: provider client, ID token checks, role
//! mapping), `email` (scheduled reports: settings, the background sender, the messages),
//! `openapi` (the document served at `/api/openapi.json`).

mod api;
mod auth;
mod config;
mod conn;
mod email;
mod error;
mod guard;
mod licence;
mod metrics;
mod oidc;
mod openapi;
mod reports;
mod server;
mod state;
mod store;
mod web;

pub use api::router as agent_api;
pub use auth::{
    LOGIN_WINDOW, MAX_CONCURRENT_HASHES, MAX_FAILURES_PER_IP, MAX_FAILURES_PER_USERNAME,
    MIN_PASSWORD_LEN, Role, SESSION_LIFETIME, SessionUser, hash_password,
};
pub use config::{
    AdminCommand, Cli, Command, DatabaseArgs, DefaultRole, LimitArgs, LocalPasswordsArg, LogFormat,
    OIDC_CLIENT_SECRET_ENV, ServeArgs, SsoArgs,
};
pub use email::{EmailSettings, Mailer, SmtpSecurity};
pub use licence::{Period, Price};
pub use oidc::{CALLBACK_PATH, LocalPasswords, Oidc, OidcSettings, RoleMapping};
pub use reports::model::Health;
pub use server::{ServeError, Server, app, open_store};
pub use state::{ApiConfig, AppState};
pub use store::{
    ApplyReport, Clock, CreatedReportToken, DecodeGate, EnrolledAgent, EnrollmentOutcome,
    ExclusionRule, IncompleteUploads, Organisation, PartOutcome, PartRefusal, ReceivedPart,
    ReportTokenRecord, ReportTokenState, Store, StoreError, TokenState, new_id, sqlite_url,
};
pub use web::WebSettings;
