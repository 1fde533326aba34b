//! The agent's view of Humaans: an HTTP client with concurrent paging, retries and a scope
//! check, and the tolerant record types it parses.

pub mod model;
