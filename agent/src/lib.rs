//! The Seatbroker broker agent.
//!
//! Reads Humaans ([`humaans`]), turns people and job roles into seat states with the pure
//! usage engine ([`engine`]), keeps every snapshot in a durable spool, and uploads it to the
//! platform once an administrator has approved the agent and its source.

pub mod appsource;
pub mod cli;
pub mod collector;
pub mod config;
pub mod dryrun;
pub mod engine;
pub mod entra;
pub mod humaans;
pub mod logging;
pub mod paths;
pub mod scheduler;
pub mod seatlist;
pub mod service;
pub mod spool;
pub mod state;
pub mod uplink;
#[cfg(windows)]
pub mod winsvc;
