//! Single sign-on with OpenID Connect: the authorization code flow with PKCE, `state` and
//! `nonce`, for the console.
//!
//! `client.rs` talks to the provider (discovery, authorization URL, code exchange, keys);
//! `verify.rs` checks an ID token (signature, issuer, audience, expiry, nonce) without I/O;
//! `mapping.rs` turns claims into a username and a role. The web handlers are in
//! `web/sso.rs`, the one-time sign-in records and the user upsert in `store/sso.rs`.
//!
//! Built on `jsonwebtoken` (ring) and the platform's reqwest rather than the `openidconnect`
//! crate: that crate's tree brings RustCrypto's `rsa` (RUSTSEC-2023-0071, no fixed
//! release), `p256`/`p384`/`ed25519-dalek` and some 60 more crates next to the ring the
//! platform already has for TLS. `jsonwebtoken` without default features adds no crate the
//! workspace does not already build.

mod client;
mod mapping;
mod verify;

use seatbroker_protocol::Secret;

pub use client::Oidc;
pub(crate) use client::OidcError;
pub use mapping::RoleMapping;
pub(crate) use mapping::username;

/// Everything the platform needs to know of its provider.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer, exactly as the provider's discovery document and tokens spell it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The callback URL registered with the provider: `{public URL}/login/oidc/callback`.
    pub redirect_url: String,
    /// Scopes asked for; always includes `openid`.
    pub scopes: Vec<String>,
    /// The claim that names the console user (`email`, `preferred_username`...).
    pub username_claim: String,
    pub roles: RoleMapping,
    /// Shown on the login page's button: "Sign in with {display_name}".
    pub display_name: String,
}

/// The path of the callback, below the platform's public URL.
pub const CALLBACK_PATH: &str = "/login/oidc/callback";

/// Whether local passwords sign in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LocalPasswords {
    /// Every local user with a password.
    #[default]
    On,
    /// Only this user, who must be an admin (the break-glass account for when the
    /// provider is down or misconfigured).
    BreakGlassOnly(String),
}

/// Why a provider URL cannot be used: anything but `https`, except `http` to this machine
/// (tests, a provider on the same host).
pub(crate) fn check_provider_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = parsed.host_str().unwrap_or("");
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err("plain http is allowed only to localhost; use https".to_owned())
            }
        }
        other => Err(format!("the scheme {other:?} is not https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_urls_are_https_or_loopback_http() {
        let ok = |url: &str| check_provider_url(url).is_ok();
        assert!(ok("https://login.microsoftonline.com/t/v2.0"));
        assert!(ok("http://127.0.0.1:9400"));
        assert!(ok("http://localhost:8080/realms/acme"));
        assert!(ok("http://[::1]:9400"));
        assert!(!ok("http://idp.example.com"));
        assert!(!ok("ftp://idp.example.com"));
        assert!(!ok("idp.example.com"));
    }
}
