//! The Seatbroker broker agent.
//!
//! Reads Humaans, turns people and job roles into seat states with the pure usage engine,
//! keeps every snapshot in a durable spool, and uploads it to the platform once an
//! administrator has approved the agent and its source.
//!
//! Every module is private to the crate. The public face is [`cli`] (what `main` and the
//! Windows service run) and the names below, which the examples, the benchmarks and the
//! integration tests drive the agent through.

mod appsource;
pub mod cli;
mod collector;
mod config;
mod dryrun;
mod engine;
pub mod entra;
mod http;
mod humaans;
mod logging;
mod paths;
mod scheduler;
pub mod seatlist;
mod service;
mod spool;
mod state;
mod uplink;
#[cfg(windows)]
pub mod winsvc;

/// The Humaans client and what it reads.
pub use humaans::{
    AccessEvidence, Collection, HumaansClient, HumaansConfig, HumaansError, JobRole, Person,
    Progress, Resource, current_role,
};

/// The usage engine, and its licence rules for application accounts.
pub use engine::{CollectionWarning, Evaluation, Pseudonymizer, accounts, classify, evaluate};

/// `collect --dry-run` as a function.
pub use dryrun::{DryRunArgs, DryRunError, run as dry_run};

/// The run loop, its configuration, its state and its spool.
pub use collector::{CollectError, Collector, HumaansCollector, Tenant};
pub use config::{Config, SecretRef, SourceConfig, SourceKindConfig};
pub use service::{Event, Service, ServiceOptions};
pub use spool::{Spool, SpoolError};
pub use state::StateStore;
pub use uplink::retry::RetryPolicy as UplinkRetryPolicy;
pub use uplink::upload::UploadSettings;
