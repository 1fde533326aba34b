//! Keyed pseudonymisation of work emails and names.
//!
//! A pseudonym is HMAC-SHA256 of the normalised value under a per-source key that never
//! leaves the agent. The same value and key always give the same pseudonym, so the platform
//! can follow a person across snapshots and spot duplicates without learning who they are.
//! Email pseudonyms keep nothing of the original, not even the domain.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Turns emails and names into stable keyed pseudonyms. `Debug` never shows the key.
#[derive(Clone)]
pub struct Pseudonymizer {
    /// The keyed MAC state, cloned for each value so the key schedule is computed once.
    mac: HmacSha256,
}

/// The pseudonymisation key is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "pseudonymisation key is {len} bytes; it must be at least {min} random bytes. \
     Generate one with `head -c 32 /dev/urandom | base64` and keep it secret"
)]
pub struct PseudonymKeyError {
    pub len: usize,
    pub min: usize,
}

impl Pseudonymizer {
    /// Shortest key accepted: 16 bytes (128 bits), so the key cannot be guessed.
    pub const MIN_KEY_LEN: usize = 16;

    /// A pseudonymizer keyed with `key` (at least [`Self::MIN_KEY_LEN`] bytes; 32 random
    /// bytes recommended).
    pub fn new(key: &[u8]) -> Result<Self, PseudonymKeyError> {
        if key.len() < Self::MIN_KEY_LEN {
            return Err(PseudonymKeyError {
                len: key.len(),
                min: Self::MIN_KEY_LEN,
            });
        }
        // HMAC takes keys of any length, so this cannot fail.
        let mac = HmacSha256::new_from_slice(key).map_err(|_| PseudonymKeyError {
            len: key.len(),
            min: Self::MIN_KEY_LEN,
        })?;
        Ok(Self { mac })
    }

    /// `p-<16 hex>@pseudonym.invalid` for a work email. Case and surrounding whitespace do
    /// not matter, so `Ann@X.com ` and `ann@x.com` get the same pseudonym.
    pub fn email(&self, email: &str) -> String {
        let tag = self.tag(b"email", normalise_email(email).as_bytes());
        format!("p-{}@pseudonym.invalid", hex(&tag[..8]))
    }

    /// `Person <8 hex>` for a display name (surrounding whitespace and runs of spaces do not
    /// matter).
    pub fn name(&self, name: &str) -> String {
        let normalised = name.split_whitespace().collect::<Vec<_>>().join(" ");
        let tag = self.tag(b"name", normalised.as_bytes());
        format!("Person {}", hex(&tag[..4]))
    }

    /// HMAC over `domain || 0x00 || value`, so an email and a name with the same text get
    /// unrelated pseudonyms.
    fn tag(&self, domain: &[u8], value: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(domain);
        mac.update(&[0]);
        mac.update(value);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymizer")
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// An email as compared for duplicates and pseudonymised: trimmed and lower-cased.
pub(crate) fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn same_input_and_key_give_same_pseudonym() {
        let p = Pseudonymizer::new(KEY).unwrap();
        assert_eq!(p.email("Ann@Example.com "), p.email("ann@example.com"));
        assert_eq!(p.name(" Ann  Lee"), p.name("Ann Lee"));
        let e = p.email("ann@example.com");
        assert!(
            e.starts_with("p-") && e.ends_with("@pseudonym.invalid"),
            "{e}"
        );
        assert_eq!(e.len(), "p-@pseudonym.invalid".len() + 16);
        assert!(!e.contains("example"));
        let n = p.name("Ann Lee");
        assert!(
            n.starts_with("Person ") && n.len() == "Person ".len() + 8,
            "{n}"
        );
    }

    #[test]
    fn different_keys_or_inputs_give_different_pseudonyms() {
        let a = Pseudonymizer::new(KEY).unwrap();
        let b = Pseudonymizer::new(b"another key of at least 16 bytes").unwrap();
        assert_ne!(a.email("ann@example.com"), b.email("ann@example.com"));
        assert_ne!(a.email("ann@example.com"), a.email("bob@example.com"));
        assert_ne!(a.name("Ann Lee"), a.name("Bob Lee"));
    }

    #[test]
    fn short_key_is_refused_and_debug_hides_the_key() {
        let err = Pseudonymizer::new(b"short").unwrap_err();
        assert_eq!(err.len, 5);
        assert!(err.to_string().contains("at least 16"), "{err}");
        let p = Pseudonymizer::new(KEY).unwrap();
        let debug = format!("{p:?}");
        assert!(
            debug.contains("[REDACTED]") && !debug.contains("0123"),
            "{debug}"
        );
    }
}
