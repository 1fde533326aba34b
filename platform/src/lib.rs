//! The Seatbroker central platform: agent API, approvals, storage, console and reports.
//!
//! - [`store`]: SQLite / PostgreSQL storage and every approval operation;
//! - [`api`]: the agent API (`/api/agent/v1/...`);
//! - [`metrics`]: counters rendered at `/metrics`;
//! - [`error`]: problem+json responses;
//! - [`state`]: the handlers' shared state.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod reports;
pub mod server;
pub mod state;
pub mod store;
pub mod web;
