//! Console storage: users, sessions, login rate limits and report queries.
//! Owned by the console (web) side of the platform; adds an `impl Store` block.
