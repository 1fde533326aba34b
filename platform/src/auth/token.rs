//! Random tokens: session ids, CSRF tokens, one-time passwords.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use seatbroker_protocol::Secret;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the thread's CSPRNG, base64url without padding.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Lowercase hex SHA-256 of `value`: how session ids are stored.
pub(crate) fn sha256_hex(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A readable one-time password (letters and digits without look-alikes), 20 characters.
pub(crate) fn generate_one_time_password() -> Secret {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let password: String = (0..20)
        .map(|_| {
            let i = (rng.next_u32() as usize) % ALPHABET.len();
            ALPHABET[i] as char
        })
        .collect();
    Secret::new(password)
}

/// A new console session: the id goes into the cookie, only its hash into the database.
#[derive(Debug)]
pub(crate) struct SessionToken {
    /// The cookie value. Never stored, never logged.
    pub id: Secret,
    /// `sha256_hex(id)`: the database key.
    pub id_hash: String,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
}

impl SessionToken {
    pub(crate) fn generate() -> Self {
        let id = random_token(32);
        Self {
            id_hash: sha256_hex(&id),
            id: Secret::new(id),
            csrf: random_token(32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn session_hash_is_sha256_of_the_cookie_value() {
        let token = SessionToken::generate();
        assert_eq!(token.id_hash, sha256_hex(token.id.expose()));
        assert_eq!(token.id_hash.len(), 64);
        assert_eq!(format!("{:?}", token.id), "[REDACTED]");
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
