//! The agent API over HTTP.
