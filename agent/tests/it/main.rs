//! The agent's integration tests: one binary, one module per area.

mod config;
mod dryrun;
mod engine;
mod humaans;
mod spool;
