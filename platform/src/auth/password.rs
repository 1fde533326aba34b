//! Argon2id password hashes in the PHC string format.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Semaphore;

/// A password could not be hashed, or a stored hash is unreadable.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("could not hash the password: {0}")]
    Hash(String),
    #[error(
        "the stored password hash is not a valid PHC string: {0}; reset the user's password with `seatbroker-platform admin create`"
    )]
    BadStoredHash(String),
}

/// Argon2id with the crate's recommended parameters (19 MiB, 2 passes, 1 lane).
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hashes `password` with Argon2id and a fresh random salt. CPU-heavy (tens of
/// milliseconds): call it from `spawn_blocking` in async code.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC `hash`. The parameters stored in the hash are
/// used, so hashes made with other parameters still verify. CPU-heavy, like
/// [`hash_password`].
pub(crate) fn verify_password(password: &str, hash: &str) -> Result<bool, PasswordError> {
    let parsed =
        PasswordHash::new(hash).map_err(|e| PasswordError::BadStoredHash(e.to_string()))?;
    Ok(hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// Password checks that may run at once: each takes ~19 MiB and a core for tens of
/// milliseconds, so a burst of logins cannot take the platform's memory.
pub const MAX_CONCURRENT_HASHES: usize = 4;

/// How long a login waits for a free check before it is answered 429.
pub(crate) const HASH_WAIT: Duration = Duration::from_secs(5);

fn hashing_permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| Semaphore::new(MAX_CONCURRENT_HASHES))
}

/// A hash to verify against when the user does not exist, so a missing user takes as long
/// as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        hash_password("no such user; this never matches")
            .unwrap_or_else(|_| "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned())
    })
}

/// Checks `password` against `hash` (against a dummy hash when there is no user, which
/// never matches) on a blocking thread, at most [`MAX_CONCURRENT_HASHES`] at once:
/// `None` when no check became free within [`HASH_WAIT`]. An unreadable stored hash is
/// logged and does not match.
pub(crate) async fn verify_password_bounded(
    password: String,
    hash: Option<String>,
) -> Result<Option<bool>, tokio::task::JoinError> {
    let Ok(Ok(permit)) = tokio::time::timeout(HASH_WAIT, hashing_permits().acquire()).await else {
        return Ok(None);
    };
    let matches = tokio::task::spawn_blocking(move || {
        // Held until the check ends, even when the request is gone.
        let _permit = permit;
        let found = hash.is_some();
        let hash = hash.as_deref().unwrap_or_else(|| dummy_hash());
        let matches = verify_password(&password, hash).unwrap_or_else(|error| {
            tracing::error!(%error, "Stored password hash is unreadable.");
            false
        });
        found && matches
    })
    .await?;
    Ok(Some(matches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash).unwrap());
        assert!(!verify_password("correct horse batterY", &hash).unwrap());
        // Salted: the same password hashes differently each time.
        assert_ne!(hash, hash_password("correct horse battery").unwrap());
    }

    #[test]
    fn garbage_hash_is_an_error_not_a_match() {
        assert!(matches!(
            verify_password("x", "not-a-hash"),
            Err(PasswordError::BadStoredHash(_))
        ));
    }
}
