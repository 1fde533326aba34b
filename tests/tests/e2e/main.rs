//! End-to-end tests: the real `seatbroker-platform`, `humaans-sim` and `seatbroker-agent`
//! binaries, each a separate process with its own folder, talking over HTTP.
//!
//! The binaries are built once per run with the `cargo` that runs the tests (see
//! `seatbroker_tests::bins`). Each test starts its own platform (SQLite in a temporary
//! folder) and simulated company, so tests run in parallel without sharing anything.
//! Nothing here waits for a fixed time to assert: every wait polls for an outcome with a
//! deadline that only turns a hang into a readable failure.

mod crashes;
mod demo;
mod happy;
mod humaans_faults;
mod humaans_shapes;
mod licences;
mod outage;
mod reinstall;
mod revoked;
mod secrets;
mod support;
