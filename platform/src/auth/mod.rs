//! Console authentication: password hashing, sessions, CSRF tokens, login rate limits and
//! roles.
//!
//! Nothing here keeps state in memory: sessions and login attempts live in the database, so
//! several platform processes can serve one PostgreSQL database.

mod password;
mod role;
mod token;

pub(crate) use password::verify_password_bounded;
pub use password::{MAX_CONCURRENT_HASHES, hash_password};
pub use role::Role;
pub(crate) use role::UnknownRole;
pub(crate) use token::{
    SessionToken, constant_time_eq, generate_one_time_password, random_token, sha256_hex,
};

use chrono::Duration;

/// How long a console session lives after login.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

/// Login rate limits: failures counted within [`LOGIN_WINDOW`].
pub const LOGIN_WINDOW: Duration = Duration::minutes(15);
/// Failed logins for one username within the window before further attempts are refused.
pub const MAX_FAILURES_PER_USERNAME: u64 = 5;
/// Failed logins from one client address within the window before it is refused.
pub const MAX_FAILURES_PER_IP: u64 = 20;

/// Shortest password `admin create` accepts.
pub const MIN_PASSWORD_LEN: usize = 12;

/// The user behind a valid console session.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    /// The session's CSRF token: every form posts it back.
    pub csrf: String,
    /// `sha256_hex` of the session cookie (to log out).
    pub session_hash: String,
    /// Agents waiting for an admin's decision (a pending agent, or a pending source of an
    /// approved one), read with the session: the navigation's badge.
    pub pending_approvals: i64,
}

/// A user as login needs it.
#[derive(Debug, Clone)]
pub(crate) struct LoginUser {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
}
