//! ID token verification: the signature against the provider's published keys, then the
//! claims (issuer, audience, expiry, nonce). Pure: keys and "now" are arguments.

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::auth::constant_time_eq;

/// Clock difference tolerated between the platform and the provider.
pub(crate) const LEEWAY_SECS: i64 = 60;

/// Why an ID token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenProblem {
    #[error("the ID token is not a signed JWT: {0}")]
    Malformed(String),
    #[error(
        "the ID token is signed with {0}, which the platform does not accept (asymmetric RS, PS, ES or EdDSA signatures only)"
    )]
    Algorithm(String),
    #[error("none of the provider's published keys matches the ID token (key id {0})")]
    NoKey(String),
    #[error(
        "the ID token's signature does not verify with the provider's keys: it was altered or not issued by the provider"
    )]
    BadSignature,
    #[error("the ID token was issued by {got:?}, not by the configured issuer {expected:?}")]
    WrongIssuer { expected: String, got: String },
    #[error("the ID token is meant for {got}, not for this platform's client id {expected:?}")]
    WrongAudience { expected: String, got: String },
    #[error(
        "the ID token expired at {0}; sign in again (if this repeats, check the platform's clock)"
    )]
    Expired(DateTime<Utc>),
    #[error("the ID token is not valid before {0}; check the platform's clock")]
    NotYetValid(DateTime<Utc>),
    #[error("the ID token's nonce does not match this sign-in: it was issued for another one")]
    NonceMismatch,
    #[error("the ID token lacks the required claim `{0}`")]
    MissingClaim(&'static str),
}

/// What the claims must say.
#[derive(Debug)]
pub(crate) struct Expected<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) now: DateTime<Utc>,
}

/// The header's algorithm and key id, refusing symmetric and unsigned tokens.
pub(crate) fn header(token: &str) -> Result<(Algorithm, Option<String>), TokenProblem> {
    // `none` and unknown names fail here already: jsonwebtoken's Algorithm has no `none`.
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| TokenProblem::Malformed(e.to_string()))?;
    match header.alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            Err(TokenProblem::Algorithm(format!("{:?}", header.alg)))
        }
        alg => Ok((alg, header.kid)),
    }
}

/// Whether `jwk` can be the key of a token signed with `alg` and key id `kid`.
fn candidate(jwk: &Jwk, alg: Algorithm, kid: Option<&str>) -> bool {
    if let Some(kid) = kid
        && jwk.common.key_id.as_deref() != Some(kid)
    {
        return false;
    }
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return false;
    }
    if let Some(key_alg) = jwk.common.key_algorithm
        && format!("{key_alg:?}") != format!("{alg:?}")
    {
        return false;
    }
    matches!(
        (&jwk.algorithm, alg),
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ) | (
            AlgorithmParameters::EllipticCurve(_),
            Algorithm::ES256 | Algorithm::ES384
        ) | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
    )
}

/// The claims of `token` when one of `keys` verifies its signature. `NoKey` when no key
/// fits the token (the caller fetches the keys again: the provider may have rotated them),
/// `BadSignature` when keys fit but none verifies.
pub(crate) fn verify_signature(token: &str, keys: &[Jwk]) -> Result<Value, TokenProblem> {
    let (alg, kid) = header(token)?;
    let mut validation = Validation::new(alg);
    // Claims are checked by `check_claims` against the injected clock, with clear errors.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let mut fitting = 0;
    for jwk in keys.iter().filter(|k| candidate(k, alg, kid.as_deref())) {
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        fitting += 1;
        match jsonwebtoken::decode::<Value>(token, &key, &validation) {
            Ok(data) => return Ok(data.claims),
            Err(error) => match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature
                | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey
                | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_)
                | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => continue,
                _ => return Err(TokenProblem::Malformed(error.to_string())),
            },
        }
    }
    if fitting == 0 {
        Err(TokenProblem::NoKey(
            kid.unwrap_or_else(|| "none".to_owned()),
        ))
    } else {
        Err(TokenProblem::BadSignature)
    }
}

fn timestamp(claims: &Value, name: &'static str) -> Result<Option<DateTime<Utc>>, TokenProblem> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_f64()
            .and_then(|secs| DateTime::from_timestamp(secs as i64, 0))
            .map(Some)
            .ok_or(TokenProblem::MissingClaim(name)),
    }
}

/// Checks the claims of a token whose signature verified: `iss` equals the issuer, `aud`
/// contains the client id (and `azp`, when present, is the client id), `exp` is not past
/// and `nbf` not ahead (each with [`LEEWAY_SECS`]), `nonce` is this sign-in's, `sub` is
/// present.
pub(crate) fn check_claims(claims: &Value, expected: &Expected<'_>) -> Result<(), TokenProblem> {
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(TokenProblem::MissingClaim("iss"))?;
    if iss != expected.issuer {
        return Err(TokenProblem::WrongIssuer {
            expected: expected.issuer.to_owned(),
            got: iss.to_owned(),
        });
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err(TokenProblem::MissingClaim("aud")),
    };
    let azp = claims.get("azp").and_then(Value::as_str);
    if !audiences.contains(&expected.client_id) || azp.is_some_and(|a| a != expected.client_id) {
        return Err(TokenProblem::WrongAudience {
            expected: expected.client_id.to_owned(),
            got: format!("{audiences:?}"),
        });
    }
    let leeway = chrono::Duration::seconds(LEEWAY_SECS);
    let exp = timestamp(claims, "exp")?.ok_or(TokenProblem::MissingClaim("exp"))?;
    if expected.now > exp + leeway {
        return Err(TokenProblem::Expired(exp));
    }
    if let Some(nbf) = timestamp(claims, "nbf")?
        && expected.now + leeway < nbf
    {
        return Err(TokenProblem::NotYetValid(nbf));
    }
    let nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .ok_or(TokenProblem::MissingClaim("nonce"))?;
    if !constant_time_eq(nonce.as_bytes(), expected.nonce.as_bytes()) {
        return Err(TokenProblem::NonceMismatch);
    }
    claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(TokenProblem::MissingClaim("sub"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn good() -> Value {
        json!({
            "iss": "https://idp.example.com",
            "aud": ["seatbroker"],
            "exp": 1_800_000_300,
            "iat": 1_800_000_000,
            "nonce": "n-1",
            "sub": "user-1",
        })
    }

    fn check(change: impl FnOnce(&mut Value), expected: Result<(), TokenProblem>) {
        let mut claims = good();
        change(&mut claims);
        let want = Expected {
            issuer: "https://idp.example.com",
            client_id: "seatbroker",
            nonce: "n-1",
            now: now(),
        };
        assert_eq!(check_claims(&claims, &want), expected, "{claims}");
    }

    #[test]
    fn claims_are_checked_one_by_one() {
        check(|_| {}, Ok(()));
        check(|c| c["aud"] = json!("seatbroker"), Ok(()));
        check(|c| c["azp"] = json!("seatbroker"), Ok(()));
        // Expiry: within the leeway still passes, past it fails.
        check(|c| c["exp"] = json!(1_800_000_000 - LEEWAY_SECS), Ok(()));
        check(
            |c| c["exp"] = json!(1_800_000_000 - LEEWAY_SECS - 1),
            Err(TokenProblem::Expired(
                DateTime::from_timestamp(1_800_000_000 - LEEWAY_SECS - 1, 0).unwrap(),
            )),
        );
        check(
            |c| c["nbf"] = json!(1_800_000_000 + LEEWAY_SECS + 1),
            Err(TokenProblem::NotYetValid(
                DateTime::from_timestamp(1_800_000_000 + LEEWAY_SECS + 1, 0).unwrap(),
            )),
        );
        check(
            |c| c["iss"] = json!("https://idp.example.com/"),
            Err(TokenProblem::WrongIssuer {
                expected: "https://idp.example.com".to_owned(),
                got: "https://idp.example.com/".to_owned(),
            }),
        );
        check(
            |c| c["aud"] = json!(["other"]),
            Err(TokenProblem::WrongAudience {
                expected: "seatbroker".to_owned(),
                got: "[\"other\"]".to_owned(),
            }),
        );
        check(
            |c| {
                c["aud"] = json!(["seatbroker", "other"]);
                c["azp"] = json!("other");
            },
            Err(TokenProblem::WrongAudience {
                expected: "seatbroker".to_owned(),
                got: "[\"seatbroker\", \"other\"]".to_owned(),
            }),
        );
        check(
            |c| c["nonce"] = json!("n-2"),
            Err(TokenProblem::NonceMismatch),
        );
        for claim in ["iss", "aud", "exp", "nonce", "sub"] {
            let name: &'static str = claim;
            check(
                |c| {
                    c.as_object_mut().unwrap().remove(name);
                },
                Err(TokenProblem::MissingClaim(name)),
            );
        }
        check(
            |c| c["exp"] = json!("tomorrow"),
            Err(TokenProblem::MissingClaim("exp")),
        );
    }

    #[test]
    fn unsigned_and_symmetric_tokens_are_refused_before_any_key_is_tried() {
        use base64::Engine;
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        let token = |alg: &str| format!("{}.{}.c2ln", b64(&json!({"alg": alg})), b64(&good()));
        assert!(matches!(
            verify_signature(&token("none"), &[]),
            Err(TokenProblem::Malformed(_))
        ));
        assert_eq!(
            verify_signature(&token("HS256"), &[]),
            Err(TokenProblem::Algorithm("HS256".to_owned()))
        );
        assert_eq!(
            verify_signature(&token("RS256"), &[]),
            Err(TokenProblem::NoKey("none".to_owned()))
        );
        assert!(matches!(
            verify_signature("not a token", &[]),
            Err(TokenProblem::Malformed(_))
        ));
    }
}
