//! The agent's integration tests: one binary, one module per area.

mod cli;
mod config;
mod crash;
mod dryrun;
mod engine;
mod humaans;
mod humaans_shapes;
mod service;
mod spool;
mod uplink;
