//! Integration tests for the Humaans simulator: the HTTP surface, the generator's plantings
//! checked against an independent implementation of the seat rules, faults, and the CLI.

mod auth;
mod cli;
mod faults;
mod generator;
mod paging;
mod support;
mod visibility;
