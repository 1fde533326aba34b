//! The agent's integration tests: one binary, one module per area.

mod cli;
mod config;
mod crash;
mod dryrun;
mod engine;
mod entra;
mod hostile;
mod humaans;
mod humaans_shapes;
mod licence_config;
mod licence_engine;
mod licence_truth;
mod seatlist;
mod service;
mod spool;
mod uplink;
