//! The client-credentials token: the request body, the answers, and what an access token
//! says about the application's permissions.

use std::time::Duration;

use serde::Deserialize;

use super::error::{EntraError, TokenProblem};

/// The token endpoint's success answer.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenAnswer {
    pub(crate) access_token: String,
    /// Seconds; Entra ID sends a number (some proxies a string).
    #[serde(default, deserialize_with = "number_or_string")]
    pub(crate) expires_in: Option<u64>,
}

/// The token endpoint's error answer.
#[derive(Debug, Default, Deserialize)]
struct TokenErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_codes: Vec<u64>,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        N(u64),
        S(String),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        Some(Either::N(n)) => Some(n),
        Some(Either::S(s)) => s.trim().parse().ok(),
        None => None,
    })
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, key);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

fn encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
}

/// The error for a 400/401 of the token endpoint.
pub(crate) fn refused(status: u16, body: &[u8], tenant: &str, client: &str) -> EntraError {
    let parsed: TokenErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let error = parsed.error.unwrap_or_else(|| "no error code".to_owned());
    EntraError::TokenRefused {
        status,
        problem: TokenProblem::classify(&error, &parsed.error_codes),
        tenant: tenant.to_owned(),
        client: client.to_owned(),
        error,
        codes: parsed.error_codes,
    }
}

/// How long a token is used: its life minus the refresh margin (at least half its life).
pub(crate) fn usable_for(expires_in: Option<u64>, margin: Duration) -> Duration {
    let life = Duration::from_secs(expires_in.unwrap_or(3599));
    life.saturating_sub(margin.min(life / 2))
}

/// The application permissions (`roles`) an access token carries, read from its payload
/// without verifying the signature (only to tell a person what is missing).
pub fn token_roles(token: &str) -> Option<Vec<String>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64url_decode(payload)?;
    #[derive(Deserialize)]
    struct Claims {
        #[serde(default)]
        roles: Vec<String>,
    }
    serde_json::from_slice::<Claims>(&bytes)
        .ok()
        .map(|c| c.roles)
}

/// The permissions Seatbroker needs, each with the alternatives that satisfy it.
pub const NEEDED_PERMISSIONS: &[&[&str]] = &[
    &["User.Read.All", "Directory.Read.All"],
    &["AuditLog.Read.All"],
    &[
        "LicenseAssignment.Read.All",
        "Organization.Read.All",
        "Directory.Read.All",
    ],
];

/// The needed permissions none of whose alternatives `roles` holds, written as
/// `A or B`.
pub fn missing_permissions(roles: &[String]) -> Vec<String> {
    NEEDED_PERMISSIONS
        .iter()
        .filter(|alternatives| !alternatives.iter().any(|a| roles.iter().any(|r| r == a)))
        .map(|alternatives| {
            // Directory.Read.All is broader than needed: do not suggest it.
            let named: Vec<&str> = alternatives
                .iter()
                .copied()
                .filter(|a| *a != "Directory.Read.All")
                .collect();
            named.join(" or ")
        })
        .collect()
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        assert_eq!(
            form(&[
                ("scope", "https://graph.microsoft.com/.default"),
                ("s", "a b&c=~")
            ]),
            "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&s=a+b%26c%3D%7E"
        );
    }

    #[test]
    fn roles_from_a_token() {
        // {"aud":"x","roles":["User.Read.All","Organization.Read.All"]}
        let payload =
            "eyJhdWQiOiJ4Iiwicm9sZXMiOlsiVXNlci5SZWFkLkFsbCIsIk9yZ2FuaXphdGlvbi5SZWFkLkFsbCJdfQ";
        let token = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
        let roles = token_roles(&token).unwrap();
        assert_eq!(roles, vec!["User.Read.All", "Organization.Read.All"]);
        assert_eq!(missing_permissions(&roles), vec!["AuditLog.Read.All"]);
        assert_eq!(missing_permissions(&[]).len(), 3);
        assert_eq!(
            missing_permissions(&[]).last().unwrap(),
            "LicenseAssignment.Read.All or Organization.Read.All"
        );
        assert!(token_roles("opaque").is_none());
    }

    #[test]
    fn token_problems() {
        let check = |error: &str, codes: &[u64], want: TokenProblem| {
            assert_eq!(
                TokenProblem::classify(error, codes),
                want,
                "{error} {codes:?}"
            );
        };
        check("invalid_request", &[900023], TokenProblem::Tenant);
        check("invalid_request", &[90002], TokenProblem::Tenant);
        check("unauthorized_client", &[700016], TokenProblem::ClientId);
        check("invalid_client", &[7000215], TokenProblem::Secret);
        check("invalid_client", &[7000222], TokenProblem::SecretExpired);
        check("invalid_client", &[], TokenProblem::Secret);
        check("invalid_scope", &[1002012], TokenProblem::Other);
    }
}
