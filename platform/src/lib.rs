//! The Seatbroker central platform: agent API, approvals, storage, console and reports.

pub mod api;
pub mod error;
pub mod metrics;
pub mod state;
pub mod store;
