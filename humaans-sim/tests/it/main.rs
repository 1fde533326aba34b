//! Integration tests for the Humaans simulator: the HTTP surface, the generator's plantings
//! checked against an independent implementation of the seat rules, faults, and the CLI;
//! the Graph simulator and seat lists, their truths checked against an independent tally.

mod api_shapes;
mod auth;
mod cli;
mod faults;
mod generator;
mod graph_faults;
mod graph_login;
mod graph_support;
mod graph_truth;
mod graph_users;
mod paging;
mod seat_list;
mod support;
mod tally;
mod visibility;
